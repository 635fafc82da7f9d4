"""Run the corpus job: `python beam_runner.py --input GLOB [--input GLOB…] --output DIR [--config FILE]
[--set section.key=value…] [Beam pipeline options, e.g. --runner=DataflowRunner --project=…]`."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.graph import build_pipeline, list_inputs
from pipeline.write import SHARDS_DIR
from transforms.config import CorpusConfig

DEFAULT_RUNNER = "FnApiRunner"  # in-process, no download: the DirectRunner first tries to fetch a binary


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", action="append", required=True, help="WARC path or glob (repeatable)")
    parser.add_argument("--output", required=True, help="output folder (local, gs://, s3://)")
    parser.add_argument("--config", help="JSON file with config sections to override")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override one setting")
    parser.add_argument("--quiet", action="store_true", help="warnings only")
    return parser.parse_known_args(argv)


def load_config(args: argparse.Namespace) -> CorpusConfig:
    """Defaults, then the --config file, then --set overrides."""
    config = CorpusConfig()
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            config = CorpusConfig.from_dict(json.load(f))
    return config.with_overrides(args.set)


def clear_old_shards(output: str) -> None:
    """Remove shards of an earlier run, so the folder holds exactly what the new manifest lists."""
    pattern = FileSystems.join(output, SHARDS_DIR, "*.tar*")
    old = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    if old:
        FileSystems.delete(old)


def run(argv: list[str] | None = None) -> dict:
    """Run the job and return the manifest."""
    args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    if not any(a.startswith("--runner") for a in beam_args):
        beam_args.append(f"--runner={DEFAULT_RUNNER}")
    config = load_config(args)
    inputs = list_inputs(args.input)
    clear_old_shards(args.output)
    options = PipelineOptions(beam_args, save_main_session=False)
    started = time.time()
    manifest: dict = {}
    with beam.Pipeline(options=options) as pipeline:
        build_pipeline(pipeline, inputs, args.output, config)
    with FileSystems.open(FileSystems.join(args.output, "manifest.json")) as f:
        manifest = json.load(f)
    funnel = manifest["funnel"]
    logging.warning("%d inputs, %d records read, %d kept, %d dropped, %d failed in %.1fs → %s",
                    len(inputs), funnel["read"], funnel["kept"], sum(funnel["dropped"].values()),
                    sum(funnel["failed"].values()), time.time() - started, args.output)
    return manifest


if __name__ == "__main__":
    run()
