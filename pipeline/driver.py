"""The corpus job's driver: Beam pipelines run in turn (pipeline/graph.py: ingest, global with its label-propagation
rounds, shards), with the vocabulary, assets, manifest and report written between and after them. A relaunch with
the same config skips the inputs whose intermediate is complete, and gives byte-identical output.
"""
from __future__ import annotations

import argparse
import difflib
import logging
import math
import os
import threading
import time

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.annotate import choose_vocab, write_assets
from pipeline.crawl import expand_crawl
from pipeline.graph import FUNNEL_FILES, build_ingest, build_shards, list_inputs, provenance, run_global, run_pipeline
from pipeline.lock import OutputLock
from pipeline.report import write_report
from pipeline.work import clear, completed, global_dir, ingest_dir, input_id, input_paths, read_json, write_json
from pipeline.write import SHARDS_DIR, manifest_dict
from transforms.config import CorpusConfig

DEFAULT_RUNNER = "FnApiRunner"  # in-process, no download: the DirectRunner first tries to fetch a binary
MAX_BUCKETS = 256
LOG = logging.getLogger("chinesebert")


def check_beam_args(beam_args: list[str]) -> None:
    """Stop on an option neither this job nor Beam knows (Beam itself only warns and drops it)."""
    import apache_beam.options.pipeline_options as po

    if any(a.startswith("--dask") for a in beam_args):
        import apache_beam.runners.dask.dask_runner  # noqa: F401  (registers the Dask options)
    parser = argparse.ArgumentParser(allow_abbrev=False, add_help=False)
    for cls in po.PipelineOptions.__subclasses__():
        cls._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(beam_args)
    flags = [a.split("=", 1)[0] for a in unknown if a.startswith("-")]
    if flags:
        known = [o for action in parser._actions for o in action.option_strings]
        hints = [f"{f} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(f, known, n=1)) else f
                 for f in flags]
        raise SystemExit(f"unknown option: {', '.join(hints)}")
    if unknown:  # e.g. a glob the shell expanded: only its first file would have followed --input
        raise SystemExit(f"unexpected arguments: {' '.join(unknown[:3])}{' …' if len(unknown) > 3 else ''} "
                         "(quote a glob, --input 'dir/*.warc.gz', or repeat --input)")


class LocalDaskCluster:
    """`--runner=dask` without `--dask_client_address`: a distributed.LocalCluster of worker processes."""

    def __init__(self, workers: int):
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # workers inherit it; read at import
        from distributed import LocalCluster

        self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                    silence_logs=logging.ERROR)

    def close(self):
        import distributed.client

        for client in list(distributed.client._global_clients.values()):  # the DaskRunner's own clients
            client.close()
        self.cluster.close()


def runner_args(beam_args: list[str]) -> tuple[list[str], LocalDaskCluster | None]:
    """Beam options with our runner aliases resolved: none → FnApiRunner; `dask` → Beam's DaskRunner, on the
    scheduler given by --dask_client_address or on a local cluster of --dask_workers processes."""
    args = [a for a in beam_args if not a.startswith("--dask_workers")]
    runner = next((a.split("=", 1)[1] for a in args if a.startswith("--runner=")), None)
    if runner is None:
        return args + [f"--runner={DEFAULT_RUNNER}"], None
    if runner.lower() not in ("dask", "daskrunner"):
        return args, None
    args = [a for a in args if not a.startswith("--runner=")] + ["--runner=apache_beam.runners.dask.dask_runner.DaskRunner"]
    if not any(a.startswith(("--dask_partition_size", "--dask_npartitions")) for a in args):
        args.append("--dask_partition_size=1")  # one input per task, so that inputs spread over the workers
    if any(a.startswith("--dask_client_address") for a in args):
        return args, None
    workers = next((int(a.split("=", 1)[1]) for a in beam_args if a.startswith("--dask_workers=")), 2)
    cluster = LocalDaskCluster(workers)
    return args + [f"--dask_client_address={cluster.cluster.scheduler_address}"], cluster


class IngestProgress(threading.Thread):
    """Logs, every few seconds, how many inputs are done, records read per second and candidates so far (it reads
    the funnel files finished inputs leave, so it works on any runner whose storage the driver reaches)."""

    def __init__(self, folder: str, sources: list[dict], every_s: float = 5.0):
        super().__init__(daemon=True)
        self.folder, self.sources, self.every_s = folder, sources, every_s
        self.stop = threading.Event()
        self.started = time.time()

    def run(self):
        seen: dict[str, tuple[int, int]] = {}
        while not self.stop.wait(self.every_s):
            for source in self.sources:
                p = source["path"]
                if p not in seen and completed(self.folder, source):
                    events = read_json(input_paths(self.folder, source)[1])["events"]
                    read = sum(n for o, _, n in events if o == "read")
                    dropped_or_failed = sum(n for o, _, n in events if o in ("dropped", "failed"))
                    seen[p] = (read, read - dropped_or_failed)
            records = sum(r for r, _ in seen.values())
            elapsed = time.time() - self.started
            LOG.info("  ingest: %d/%d inputs done, %d records read (%.0f/s), %d kept so far (before dedup)",
                            len(seen), len(self.sources), records, records / elapsed, sum(c for _, c in seen.values()))


def funnel_events(ingest_folder: str, global_folder: str, inputs: list[dict]):
    """((input, outcome, reason), n) from every phase's funnel files."""
    for i in inputs:
        for outcome, reason, n in read_json(input_paths(ingest_folder, i)[1])["events"]:
            yield (i["path"], outcome, reason), n
    for name in FUNNEL_FILES:
        for path, outcome, reason, n in read_json(FileSystems.join(global_folder, name)):
            yield (path, outcome, reason), n


def run_job(args: argparse.Namespace, config: CorpusConfig, beam_args: list[str]) -> dict:
    """The three phases under the given Beam options (runner aliases resolved); returns the manifest."""
    say = LOG.info
    check_beam_args([a for a in beam_args if not a.startswith("--dask_workers")])
    beam_args, cluster = runner_args(beam_args)
    try:
        return _run(args, config, PipelineOptions(beam_args, save_main_session=False), say)
    finally:
        if cluster is not None:
            cluster.close()


def _run(args: argparse.Namespace, config: CorpusConfig, options: PipelineOptions, say) -> dict:
    # The driver's own reads and writes (listing, intermediates' checks, vocabulary, manifest, report) go through
    # Beam's filesystems too: they need the same endpoint, credentials and region as the workers.
    FileSystems.set_options(options)
    lock = OutputLock(args.output)
    lock.acquire()
    try:
        return _run_locked(args, config, options, say)
    finally:
        lock.release()


def _run_locked(args: argparse.Namespace, config: CorpusConfig, options: PipelineOptions, say) -> dict:
    patterns = list(args.input)
    if args.crawl:
        listed = expand_crawl(args.crawl, args.crawl_listing, args.crawl_prefix, args.segments, args.max_files)
        if not listed:
            raise SystemExit(f"--crawl {args.crawl}: --segments {args.segments} / --max-files {args.max_files} "
                             "select no file of its listing")
        patterns += listed
    if not patterns:
        raise SystemExit("give --input and/or --crawl")
    try:
        inputs = list_inputs(patterns)
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None
    started = time.time()
    idir = ingest_dir(args.output, config)
    gdir = global_dir(args.output, config, [input_id(i) for i in inputs])

    pending = [i for i in inputs if not completed(idir, i)]
    say("[1/3] ingest: %d inputs, %d already done", len(inputs), len(inputs) - len(pending))
    if pending:
        progress = None if args.quiet else IngestProgress(idir, pending)
        if progress:
            progress.start()
        try:
            run_pipeline(options, build_ingest, pending, config, idir)
        finally:
            if progress:
                progress.stop.set()
    missing = [i["path"] for i in pending if not completed(idir, i)]
    if missing:
        raise RuntimeError(f"{len(missing)} inputs have no intermediate after the ingest phase: {missing[:3]}")

    say("[2/3] dedup and counts (%.0fs)", time.time() - started)
    n_buckets = max(1, min(MAX_BUCKETS, len(inputs)))
    graph = run_global(options, [input_paths(idir, i)[0] for i in inputs], config, gdir, n_buckets)
    say("      near-duplicate graph: %(nodes)d documents, %(edges)d edges, largest degree %(max_degree)d, "
        "%(rounds)d rounds", graph)
    vocab_info = choose_vocab(read_json(FileSystems.join(gdir, "counts.json")), config)
    assets = write_assets(args.output, vocab_info, config)
    buckets = read_json(FileSystems.join(gdir, "buckets.json"))
    n_shards = math.ceil(sum(b["estimated_bytes"] for b in buckets) / config.shards.target_bytes)

    say("[3/3] annotate and write %d shards (%.0fs)", n_shards, time.time() - started)
    n_shards = max(n_shards, 1)  # an empty corpus still runs the (empty) phase, so its funnel files exist
    clear(FileSystems.join(args.output, SHARDS_DIR, "*.tar*"))
    run_pipeline(options, build_shards, [b["path"] for b in buckets], config, args.output, gdir,
                 vocab_info["tokens"], n_shards)

    # The manifest names inputs by path and size: their modification times differ between copies of the same files
    named = [{"path": i["path"], "size": i["size"]} for i in inputs]
    manifest = manifest_dict(config, named, read_json(FileSystems.join(gdir, "shards.json")),
                             funnel_events(idir, gdir, inputs), {**provenance(config), **assets,
                             "near_duplicate_graph": graph})
    write_json(FileSystems.join(args.output, "manifest.json"), manifest)
    write_report(args.output)
    funnel = manifest["funnel"]
    LOG.warning("%d inputs, %d records read, %d kept, %d dropped, %d failed in %.1fs → %s",
                len(inputs), funnel["read"], funnel["kept"], sum(funnel["dropped"].values()),
                sum(funnel["failed"].values()), time.time() - started, args.output)
    if not manifest["funnel_balanced"]:
        raise RuntimeError("funnel does not balance: read != kept + dropped + failed (a bug: please report)")
    if not funnel["kept"] and not args.allow_empty:
        raise SystemExit(f"no document kept ({empty_reasons(funnel)}); the manifest and report.html say more; "
                         "--allow-empty accepts an empty corpus")
    return manifest


def empty_reasons(funnel: dict) -> str:
    """The commonest reasons records went, for the one line an empty corpus ends with."""
    if not funnel["read"]:
        return "no record read: are the inputs WARC files?"
    reasons = sorted({**funnel["dropped"], **funnel["failed"]}.items(), key=lambda kv: (-kv[1], kv[0]))
    return f"{funnel['read']} records read: " + ", ".join(f"{r} {n}" for r, n in reasons[:5])
