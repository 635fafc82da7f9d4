"""Run the corpus job: `python beam_runner.py --input GLOB [--input GLOB…] --output DIR [--config FILE]
[--set section.key=value…] [Beam pipeline options, e.g. --runner=DataflowRunner --project=…]`.

This module checks the arguments and the config (without importing Beam, so a mistake is one line at once);
pipeline/driver.py runs the phases.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from pipeline.crawl import DEFAULT_LISTING, DEFAULT_PREFIX
from transforms.config import CorpusConfig

LOG = logging.getLogger("chinesebert")


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", action="append", default=[], help="WARC path or glob (repeatable)")
    parser.add_argument("--crawl", help="a CommonCrawl crawl id (CC-MAIN-YYYY-WW): its warc.paths.gz becomes the input")
    parser.add_argument("--crawl-listing", help=f"where the listing is (default {DEFAULT_LISTING})")
    parser.add_argument("--crawl-prefix", default=DEFAULT_PREFIX, help="prepended to each listed path")
    parser.add_argument("--segments", metavar="A:B", help="only segments A to B (by index in the listing)")
    parser.add_argument("--max-files", type=int, help="only the first N files")
    parser.add_argument("--output", required=True, help="output folder (local, gs://, s3://)")
    parser.add_argument("--config", help="JSON file with config sections to override")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override one setting")
    parser.add_argument("--quiet", action="store_true", help="warnings only")
    parser.add_argument("--allow-empty", action="store_true", help="exit 0 even when no document is kept")
    return parser.parse_known_args(argv)


def setup_logging(quiet: bool) -> None:
    """The job's own logger and format (Beam puts a handler on the root logger first); libraries' chatter off."""
    if not LOG.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        LOG.addHandler(handler)
        LOG.propagate = False
    LOG.setLevel(logging.WARNING if quiet else logging.INFO)
    for noisy in ("apache_beam", "distributed", "tornado", "asyncio", "root", "warcio"):
        logging.getLogger(noisy).setLevel(logging.ERROR if quiet or noisy != "apache_beam" else logging.WARNING)
    if quiet:
        logging.getLogger().setLevel(logging.ERROR)


def load_config(args: argparse.Namespace) -> CorpusConfig:
    """Defaults, then the --config file, then --set overrides."""
    config = CorpusConfig()
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            config = CorpusConfig.from_dict(json.load(f))
    return config.with_overrides(args.set)


def run(argv: list[str] | None = None) -> dict:
    """Run the job and return the manifest. Arguments and config are checked before Beam is even imported, so a
    mistake is reported in well under a second."""
    args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.quiet)
    try:
        config = load_config(args)
    except (ValueError, OSError) as exc:  # one line naming the key, before any input is read
        raise SystemExit(str(exc)) from None
    if "://" not in args.output and os.path.isfile(args.output):
        raise SystemExit(f"--output {args.output} is a file: give a folder (it is created if missing)")
    if (args.segments or args.max_files is not None) and not args.crawl:
        raise SystemExit("--segments and --max-files select files of a --crawl listing: give --crawl too")
    from pipeline.driver import run_job  # Beam and the models: imported only once the arguments hold

    return run_job(args, config, beam_args)


if __name__ == "__main__":
    run()
