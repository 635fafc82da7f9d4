"""The pretraining loop at scale, on CPU: exact and cheap resume of the data position, balanced readers,
checkpoint retention and atomicity, continued pretraining from a model folder, finite losses."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from model import ChineseBertConfig, ChineseBertForMaskedLM
from model.checkpoint import CheckpointWriter, checkpoint_steps, latest_checkpoint, retained
from model.data import CorpusAssets, DataConfig, reader_pieces
from model.stream import PretrainingStream


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in ("input_ids", "pinyin_ids", "masked_positions", "masked_labels"))


@pytest.mark.parametrize("samples, readers", [([9, 9, 9, 9, 9, 9, 9, 9, 9], 8), ([3], 8), ([100, 1, 1, 50], 3),
                                              ([5, 0, 7], 4)])
def test_readers_get_balanced_contiguous_shares(samples, readers):
    shares = [reader_pieces(samples, readers, r) for r in range(readers)]
    sizes = [sum(hi - lo for _, lo, hi in pieces) for pieces in shares]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == sum(samples)  # within one document, nothing lost
    covered = sorted((i, d) for pieces in shares for i, lo, hi in pieces for d in range(lo, hi))
    assert covered == sorted((i, d) for i, n in enumerate(samples) for d in range(n))  # each document once


def test_a_resumed_stream_continues_exactly_and_its_cost_does_not_grow(corpus):
    out, _, _ = corpus
    assets = CorpusAssets.load(str(out))
    cfg = DataConfig(max_len=48, validation_every=4, block_docs=2)
    straight = iter(PretrainingStream(assets, cfg, 2, 5, [0, 1, 2], 3))
    batches = [next(straight) for _ in range(150)]
    assert len({(b["position"]["epoch"]) for b in batches}) > 2  # several epochs of every reader
    for stop in (10, 140):  # resume early and late: the same work
        positions = {}
        for b in batches[:stop]:
            positions[b["reader"]] = b["position"]
        due = [0, 1, 2][stop % 3:] + [0, 1, 2][:stop % 3]  # the reader due next first, as model.train does
        resumed_stream = PretrainingStream(assets, cfg, 2, 5, due, 3, positions)
        resumed = iter(resumed_stream)
        after = [next(resumed) for _ in range(3)]
        assert all(same(a, b) for a, b in zip(batches[stop:stop + 3], after))
        assert max(r.docs_read for r in resumed_stream.active) <= 2 * cfg.block_docs  # the block, and maybe the next


def test_readers_split_documents_between_ranks(corpus):
    out, _, _ = corpus
    assets = CorpusAssets.load(str(out))
    cfg = DataConfig(max_len=48, validation_every=4, block_docs=100)
    seen = []
    for readers in ([0], [1]):
        stream = PretrainingStream(assets, cfg, 1, 5, readers, 2)
        it = iter(stream)
        while not any(b["position"]["epoch"] for b in [next(it)]):
            pass
        seen.append(stream.active[0].docs_read)
    assert abs(seen[0] - seen[1]) <= 1 + 1  # one document apart (+ the first of the next epoch)


def test_retention_keeps_the_last_and_every_nth(tmp_path):
    assert retained([100, 200, 300, 400, 500, 600], keep_last=2, keep_every=200) == [200, 400, 500, 600]
    writer = CheckpointWriter(str(tmp_path), keep_last=2, keep_every=3)
    for step in range(1, 8):
        writer.save(step, {"step": step, "w": torch.full((1000,), float(step))})
    writer.wait()
    assert checkpoint_steps(str(tmp_path)) == [3, 6, 7]
    assert torch.load(latest_checkpoint(str(tmp_path)), weights_only=True)["step"] == 7


def test_a_killed_save_never_becomes_the_latest(tmp_path):
    """A process killed while writing a large checkpoint leaves the previous one as the latest, always loadable."""
    script = f"""
import sys, torch
sys.path.insert(0, {ROOT!r})
from model.checkpoint import CheckpointWriter
w = CheckpointWriter({str(tmp_path)!r})
w.save(1, {{"step": 1}}, background=False)
print("saved", flush=True)
w.save(2, {{"step": 2, "big": torch.zeros(200_000_000)}}, background=False)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "saved"
    proc.kill()
    proc.wait()
    latest = latest_checkpoint(str(tmp_path))
    assert latest.endswith("step-1.pt") or latest.endswith("step-2.pt")  # the old one, or the new one complete
    assert torch.load(latest, weights_only=True)["step"] in (1, 2)
    CheckpointWriter(str(tmp_path))  # a new run removes the killed save's temporary file
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_a_batch_without_labels_gives_a_finite_loss():
    model = ChineseBertForMaskedLM(ChineseBertConfig.tiny(60))
    ids = torch.randint(5, 60, (2, 9))
    labels = torch.full((2, 4), -100)
    loss, _ = model(ids, torch.zeros(2, 9, 8, dtype=torch.long), torch.ones_like(ids), labels=labels,
                    masked_positions=torch.zeros(2, 4, dtype=torch.long))
    assert torch.isfinite(loss) and loss.item() == 0.0
    loss.backward()  # and a gradient of zeros, not NaN
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_the_tied_decoder_keeps_the_padding_row_zero():
    model = ChineseBertForMaskedLM(ChineseBertConfig.tiny(60, pad_token_id=0))
    assert torch.count_nonzero(model.bert.embeddings.word_embeddings.weight[0]) == 0


def test_cpu_bf16_autocast_is_opt_in_and_keeps_the_loss():
    from model.train import autocast

    torch.manual_seed(0)
    model = ChineseBertForMaskedLM(ChineseBertConfig.tiny(60))
    ids = torch.randint(5, 60, (2, 16))
    inputs = (ids, torch.randint(0, 32, (2, 16, 8)), torch.ones_like(ids))
    labels, positions = ids[:, :4].clone(), torch.arange(4).repeat(2, 1)
    results = {}
    for wanted in (False, True):
        with autocast(torch.device("cpu"), cpu_bf16=wanted):
            results[wanted] = model(*inputs, labels=labels, masked_positions=positions)
    assert results[False][1].dtype == torch.float32 and results[True][1].dtype == torch.bfloat16
    assert results[True][0].dtype == torch.float32  # the loss is reduced in fp32 either way
    assert abs(results[True][0].item() - results[False][0].item()) < 0.05


def train(corpus_dir, out, *extra):
    cmd = [sys.executable, "-m", "model.train", "--corpus", str(corpus_dir), "--out", str(out), "--quiet",
           "--log-every", "1", "--eval-every", "1000", *extra]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return done, [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))] if done.returncode == 0 else []


def test_continued_pretraining_from_a_model_folder(corpus, tmp_path):
    out, _, _ = corpus
    done, first = train(out, tmp_path / "a", "--steps", "24", "--cpu-bf16")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "a" / "training_args.json").read_text())["cpu_bf16"] is True
    done, continued = train(out, tmp_path / "b", "--steps", "6", "--init", str(tmp_path / "a"), "--warmup", "1")
    assert done.returncode == 0, done.stderr
    _, fresh = train(out, tmp_path / "c", "--steps", "6", "--warmup", "1")
    assert continued[0]["loss"] < fresh[0]["loss"] - 0.3  # it starts where the first run ended, not from scratch
    vocab = (tmp_path / "a" / "vocab.txt").read_text(encoding="utf-8").split("\n")
    (tmp_path / "a" / "vocab.txt").write_text("\n".join(vocab[:-3] + ["甲", "乙", "丙"]), encoding="utf-8")
    done, _ = train(out, tmp_path / "d", "--steps", "2", "--init", str(tmp_path / "a"))
    assert done.returncode != 0 and "differs from the corpus's" in done.stderr


def test_presets_give_the_papers_global_batch():
    from model.train import accumulation, parse_args

    base = parse_args(["--config", "base"])
    assert base.global_batch == 3200 and base.batch_size * accumulation(base, 8) * 8 == 3200
    assert accumulation(base, 32) == 1
    with pytest.raises(SystemExit, match="not a multiple"):
        accumulation(base, 3)
    assert parse_args(["--config", "large"]).global_batch == 3200


def test_tensorboard_events_are_valid_tfrecords_of_event_protobufs(tmp_path):
    """Decoded with protobuf's own parser from a descriptor of TensorBoard's Event message (no TensorBoard here)."""
    import struct

    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    from model.tblog import ScalarWriter, crc32c, masked_crc

    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    writer = ScalarWriter(str(tmp_path))
    writer.add(7, {"loss": 2.5, "lr": 1e-4, "note": "text is skipped"})
    writer.add(8, {"loss": 2.25})
    writer.close()
    proto = descriptor_pb2.FileDescriptorProto(name="event_test.proto", package="t")
    value = proto.message_type.add(name="Value")
    value.field.add(name="tag", number=1, type=9, label=1)
    value.field.add(name="simple_value", number=2, type=2, label=1)
    summary = proto.message_type.add(name="Summary")
    summary.field.add(name="value", number=1, type=11, label=3, type_name=".t.Value")
    ev = proto.message_type.add(name="Event")
    ev.field.add(name="wall_time", number=1, type=1, label=1)
    ev.field.add(name="step", number=2, type=3, label=1)
    ev.field.add(name="file_version", number=3, type=9, label=1)
    ev.field.add(name="summary", number=5, type=11, label=1, type_name=".t.Summary")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    Event = message_factory.GetMessageClass(pool.FindMessageTypeByName("t.Event"))
    data, events = open(writer.path, "rb").read(), []
    while data:
        (length,) = struct.unpack("<Q", data[:8])
        assert struct.unpack("<I", data[8:12])[0] == masked_crc(data[:8])
        body = data[12:12 + length]
        assert struct.unpack("<I", data[12 + length:16 + length])[0] == masked_crc(body)
        events.append(Event.FromString(body))
        data = data[16 + length:]
    assert events[0].file_version == "brain.Event:2"
    assert [(e.step, {v.tag: round(v.simple_value, 6) for v in e.summary.value}) for e in events[1:]] == [
        (7, {"loss": 2.5, "lr": 1e-4}), (8, {"loss": 2.25})]
