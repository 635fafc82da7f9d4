"""Run only the corpus job's per-input phase (phase 1: read, sniff, decode, extract, clean, score) on some WARCs.

    python benchmarks/ingest_only.py OUT_DIR WARC…

The same Beam graph and runner as `beam_runner.py`'s first phase; used by corpus_throughput.py to time that phase.
"""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from pipeline.graph import build_ingest, list_inputs, run_pipeline  # noqa: E402
from pipeline.work import ingest_dir  # noqa: E402
from transforms.config import CorpusConfig  # noqa: E402

if __name__ == "__main__":
    out, warcs = sys.argv[1], sys.argv[2:]
    config = CorpusConfig()
    run_pipeline(PipelineOptions(["--runner=FnApiRunner"]), build_ingest, list_inputs(warcs), config,
                 ingest_dir(out, config))
