"""Every graph of the job built, translated and validated for Google Cloud Dataflow (Runner v2, the worker container
and --setup_file as `make corpus RUNNER=DataflowRunner` passes them), stopped by Beam's dry-run mode before any
API call or staging upload. Spark and Flink need job servers from Maven and are not run here."""
import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import DebugOptions, PipelineOptions
from apache_beam.portability.api import beam_runner_api_pb2

from conftest import ROOT
from pipeline.components import build_rounds
from pipeline.graph import build_candidates, build_global, build_ingest, build_shards
from transforms.config import CorpusConfig

OUT = "gs://bucket/corpus"
DATAFLOW = ["--runner=DataflowRunner", "--project=my-project", "--region=us-central1",
            "--temp_location=gs://bucket/tmp", f"--setup_file={ROOT}/setup.py", "--experiments=use_runner_v2",
            "--sdk_container_image=us-docker.pkg.dev/my-project/beam/chinesebert:latest", "--dry_run=True"]


def dry_run(build, *args):
    pipeline = beam.Pipeline(options=PipelineOptions(DATAFLOW))
    build(pipeline, *args)
    return pipeline.run().job  # the Dataflow job request, never sent


@pytest.mark.parametrize("name", ["ingest", "candidates", "rounds", "global", "shards"])
def test_each_graph_validates_for_dataflow(name):
    config = CorpusConfig()
    inputs = [{"path": f"gs://bucket/warc/part-{i}.warc.gz", "size": 1000, "modified": 0.0} for i in range(3)]
    work = f"{OUT}/_work/global-x"
    builds = {
        "ingest": (build_ingest, inputs, config, f"{OUT}/_work/ingest-x"),
        "candidates": (build_candidates, [f"{work}/in-{i}.docs.jsonl.gz" for i in range(3)], config, work, 3),
        "rounds": (build_rounds, [f"{work}/near/edges-0.tsv.gz"], [], f"{work}/near", 3, 2),
        "global": (build_global, [f"{work}/candidates-0.docs.jsonl.gz"], [], config, work, 3),
        "shards": (build_shards, [f"{work}/bucket-0.docs.jsonl.gz"], config, OUT, work, ["[PAD]", "中"], 1),
    }
    build, *args = builds[name]
    job = dry_run(build, *args)
    assert job.proto.name.startswith("beamapp-") and job.proto.type_ == 1  # a batch job
    environments = list(job.proto_pipeline.components.environments.values())
    assert [e.payload.endswith(b"chinesebert:latest") for e in environments] == [True]  # the worker container
    staged = {beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(d.role_payload).staged_name
              for e in environments for d in e.dependencies}
    assert "workflow.tar.gz" in staged  # the job's code, packaged from setup.py
    assert "use_runner_v2" in job.options.view_as(DebugOptions).experiments
    assert len(job.proto_pipeline.components.transforms) > 5
