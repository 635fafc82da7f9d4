"""ChineseBERT: reference parameter table, glyph table, masking invariants, loader, training, resume, DDP, tools."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from model import ChineseBertConfig, ChineseBertForMaskedLM, modeling
from model.checkpoint import convert_from_reference, convert_to_reference, load_model, load_state
from model.data import DataConfig, SequenceBuilder
from model.masking import IGNORE, MaskingConfig, SpecialIds, mask_sequence
from model.modeling import per_distinct, per_token

# The released ChineseBERT-base: names and shapes of its state dict (vocabulary 23,236), from its documentation.
REFERENCE_EMBEDDINGS = {
    "word_embeddings.weight": (23236, 768), "position_embeddings.weight": (512, 768),
    "token_type_embeddings.weight": (2, 768), "pinyin_embeddings.embedding.weight": (32, 128),
    "pinyin_embeddings.conv.weight": (768, 128, 2), "pinyin_embeddings.conv.bias": (768,),
    "glyph_embeddings.embedding.weight": (23236, 1728), "glyph_map.weight": (768, 1728), "glyph_map.bias": (768,),
    "map_fc.weight": (768, 2304), "map_fc.bias": (768,), "LayerNorm.weight": (768,), "LayerNorm.bias": (768,),
}
REFERENCE_LAYER = {
    "attention.self.query.weight": (768, 768), "attention.self.query.bias": (768,),
    "attention.self.key.weight": (768, 768), "attention.self.key.bias": (768,),
    "attention.self.value.weight": (768, 768), "attention.self.value.bias": (768,),
    "attention.output.dense.weight": (768, 768), "attention.output.dense.bias": (768,),
    "attention.output.LayerNorm.weight": (768,), "attention.output.LayerNorm.bias": (768,),
    "intermediate.dense.weight": (3072, 768), "intermediate.dense.bias": (3072,),
    "output.dense.weight": (768, 3072), "output.dense.bias": (768,),
    "output.LayerNorm.weight": (768,), "output.LayerNorm.bias": (768,),
}
REFERENCE_HEAD = {
    "cls.predictions.bias": (23236,), "cls.predictions.transform.dense.weight": (768, 768),
    "cls.predictions.transform.dense.bias": (768,), "cls.predictions.transform.LayerNorm.weight": (768,),
    "cls.predictions.transform.LayerNorm.bias": (768,), "cls.predictions.decoder.weight": (23236, 768),
    "cls.predictions.decoder.bias": (23236,),
}


def reference_table() -> dict:
    table = {f"bert.embeddings.{k}": v for k, v in REFERENCE_EMBEDDINGS.items()}
    for n in range(12):
        table.update({f"bert.encoder.layer.{n}.{k}": v for k, v in REFERENCE_LAYER.items()})
    table.update({"bert.pooler.dense.weight": (768, 768), "bert.pooler.dense.bias": (768,), **REFERENCE_HEAD})
    return table


@pytest.fixture(scope="module")
def base():
    return ChineseBertForMaskedLM(ChineseBertConfig.base(23236))


def test_base_matches_the_reference_table(base):
    assert sum(p.numel() for p in base.bert.parameters()) == 147_337_984
    assert {k: tuple(v.shape) for k, v in base.state_dict().items()} == reference_table()
    assert base.cls.predictions.decoder.weight is base.bert.embeddings.word_embeddings.weight  # tied


def test_reference_state_dict_loads_without_missing_or_unexpected_keys(base):
    state = {k: torch.zeros(v) for k, v in reference_table().items()}
    state["bert.embeddings.position_ids"] = torch.arange(512)[None]  # old checkpoints carry it: tolerated
    model = ChineseBertForMaskedLM(ChineseBertConfig.base(23236))
    load_state(model, state)
    assert float(model.bert.encoder.layer[3].output.dense.weight.detach().abs().sum()) == 0.0
    del state["bert.pooler.dense.bias"]
    with pytest.raises(KeyError):
        load_state(model, state)
    state["bert.pooler.dense.bias"] = torch.zeros(768)
    state["bert.extra.weight"] = torch.zeros(1)
    with pytest.raises(KeyError):
        load_state(model, state)


def test_sizes_live_in_the_config():
    tiny = ChineseBertConfig.tiny(100)
    model = ChineseBertForMaskedLM(tiny)
    assert model.bert.embeddings.glyph_embeddings.embedding.weight.shape == (100, tiny.glyph_dim)
    assert model.bert.embeddings.pinyin_embeddings.conv.kernel_size == (tiny.pinyin_conv_width,)
    large = ChineseBertConfig.large(100)
    assert (large.hidden_size, large.num_hidden_layers, large.num_attention_heads) == (1024, 24, 16)
    assert ChineseBertConfig.from_json(tiny.to_json()) == tiny


def test_glyph_table_equals_glyphs_npy_after_construction(corpus):
    out, _, _ = corpus
    glyphs = np.load(os.path.join(out, "glyphs.npy"))
    model = ChineseBertForMaskedLM(ChineseBertConfig.tiny(len(glyphs)))
    model.load_glyphs(glyphs)
    table = model.bert.embeddings.glyph_embeddings.embedding.weight.detach().numpy()
    assert np.array_equal(table, glyphs.reshape(len(glyphs), -1).astype(np.float32) / 255.0)
    frozen = ChineseBertForMaskedLM(ChineseBertConfig.tiny(len(glyphs), train_glyphs=False))
    assert not frozen.bert.embeddings.glyph_embeddings.embedding.weight.requires_grad
    with pytest.raises(ValueError):
        model.load_glyphs(glyphs[:-1])


def test_glyph_map_starts_centred_and_on_the_word_embeddings_scale(corpus):
    out, _, _ = corpus
    glyphs = np.load(os.path.join(out, "glyphs.npy"))
    model = ChineseBertForMaskedLM(ChineseBertConfig.tiny(len(glyphs)))
    model.load_glyphs(glyphs)
    emb = model.bert.embeddings
    ids = torch.arange(len(glyphs))
    with torch.no_grad():
        raw = emb.glyph_map(emb.glyph_embeddings(ids))
        model.init_glyph_map()
        glyph, word = emb.glyph_map(emb.glyph_embeddings(ids)), emb.word_embeddings(ids)
    assert raw.norm(dim=-1).mean() > 5 * word.norm(dim=-1).mean()  # BERT's init alone: the pixels dominate
    assert glyph.mean(0).norm() < 1e-4 < raw.mean(0).norm()
    assert glyph.norm(dim=-1).mean() == pytest.approx(word.norm(dim=-1).mean().item(), rel=0.1)
    # map_fc passes the word embedding through at the start: the fused vector is the word's plus small parts
    fused = emb.map_fc(torch.cat([word, torch.zeros_like(word), torch.zeros_like(word)], dim=-1))
    assert torch.allclose(fused, word)


def test_padding_is_masked_in_attention():
    torch.manual_seed(0)
    model = ChineseBertForMaskedLM(ChineseBertConfig.tiny(50)).eval()
    ids = torch.randint(5, 50, (1, 7))
    pinyin = torch.randint(0, 32, (1, 7, 8))
    alone = model(ids, pinyin, torch.ones_like(ids))
    padded_ids = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], 1)
    padded = model(padded_ids, torch.cat([pinyin, torch.zeros(1, 5, 8, dtype=torch.long)], 1),
                   torch.cat([torch.ones_like(ids), torch.zeros(1, 5, dtype=torch.long)], 1))
    assert torch.allclose(alone, padded[:, :7], atol=1e-5)


def test_glyph_and_pinyin_maps_run_once_per_distinct_input_with_per_token_values_and_gradients():
    torch.manual_seed(0)
    emb = ChineseBertForMaskedLM(ChineseBertConfig.tiny(50)).bert.embeddings
    ids = torch.randint(5, 12, (3, 20))  # few distinct ids: most tokens repeat one
    pinyin = torch.randint(0, 32, (3, 20, 8))
    pinyin[1] = pinyin[0]
    glyph_params = [emb.glyph_embeddings.embedding.weight, *emb.glyph_map.parameters()]
    for embed, x, row, params in ((emb.glyph_vectors, ids, 0, glyph_params),
                                  (emb.pinyin_embeddings, pinyin, 1, list(emb.pinyin_embeddings.parameters()))):
        seen = []

        def recording(inputs, embed=embed):
            seen.append(inputs.shape[1])
            return embed(inputs)

        once = per_distinct(recording, x, row)
        every = per_token(embed, x, row)
        assert once.shape == every.shape and torch.allclose(once, every, atol=1e-6)
        weights = torch.randn_like(every)
        for a, b in zip(torch.autograd.grad((once * weights).sum(), params),
                        torch.autograd.grad((every * weights).sum(), params)):
            assert torch.allclose(a, b, atol=1e-5)
        assert seen == [len(torch.unique(x.reshape(-1, *x.shape[2:]), dim=0))] and seen[0] < ids.numel()


def test_cpu_bf16_plain_attention_equals_the_fused_kernel_with_padding(monkeypatch):
    torch.manual_seed(0)
    model = ChineseBertForMaskedLM(ChineseBertConfig.tiny(50)).eval()
    ids = torch.randint(5, 50, (2, 16))
    pinyin = torch.randint(0, 32, (2, 16, 8))
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    outputs = []
    for limit in (modeling.CPU_BF16_MATH_MAX_LEN, 0):  # the plain path, then PyTorch's fused CPU kernel
        monkeypatch.setattr(modeling, "CPU_BF16_MATH_MAX_LEN", limit)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            outputs.append(model.bert(ids, pinyin, mask)[0].float())
    assert modeling.CPU_BF16_MATH_MAX_LEN == 0 and torch.allclose(outputs[0], outputs[1], atol=5e-2)
    assert (outputs[0] - outputs[1]).abs().mean() < 1e-2


TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [chr(0x4E00 + i) for i in range(200)]


def test_mfu_flop_count_equals_torch_flop_counter(monkeypatch):
    """The GPU benchmark's FLOPs per token (benchmarks/gpu_step.py) are what torch counts for a training step."""
    from torch.utils.flop_counter import FlopCounterMode

    from benchmarks.gpu_step import flops_per_token, random_batch

    # On CUDA, which the MFU figure is for, the glyph and pinyin maps run on every token (per_distinct is CPU only).
    monkeypatch.setattr(modeling, "per_distinct", modeling.per_token)
    config = ChineseBertConfig.tiny(3000, intermediate_size=384)
    model = ChineseBertForMaskedLM(config)
    ids, pinyin, mask, positions, labels = random_batch(config, 2, 48, torch.device("cpu"),
                                                        torch.Generator().manual_seed(1))
    with FlopCounterMode(display=False) as counter:
        loss, _ = model(ids, pinyin, attention_mask=mask, labels=labels, masked_positions=positions)
        loss.backward()
    masked_share = labels.shape[1] / ids.shape[1]
    assert counter.get_total_flops() == pytest.approx(flops_per_token(config, 48, masked_share) * ids.numel(), rel=1e-9)


def test_masking_invariants_over_many_sequences():
    special = SpecialIds.from_tokens(TOKENS)
    rng = np.random.default_rng(0)
    default_pinyin = rng.integers(1, 32, size=(len(TOKENS), 8)).astype(np.uint8)
    cfg = MaskingConfig()
    stats = {"maskable": 0, "masked": 0, "mask": 0, "random": 0, "kept": 0, "wwm": 0, "n": 0}
    for _ in range(400):
        n_words = int(rng.integers(5, 60))
        word_len = rng.integers(1, 5, size=n_words)
        words = np.concatenate([[-1], np.repeat(np.arange(n_words), word_len), [-1]])
        ids = np.concatenate([[special.cls], rng.integers(5, len(TOKENS), size=int(word_len.sum())), [special.sep]])
        pinyin = default_pinyin[ids].copy()
        pad = int(rng.integers(0, 5))
        ids = np.concatenate([ids, np.full(pad, special.pad, dtype=ids.dtype)])
        words = np.concatenate([words, np.full(pad, -1, dtype=words.dtype)])
        pinyin = np.concatenate([pinyin, np.zeros((pad, 8), np.uint8)])
        ids_in, pinyin_in, labels, wwm = mask_sequence(ids, pinyin, words, special, len(TOKENS), default_pinyin, cfg, rng)
        masked = labels != IGNORE
        assert not masked[np.isin(ids, [special.cls, special.sep, special.pad])].any()
        assert np.array_equal(labels[masked], ids[masked])
        at_mask = ids_in == special.mask
        assert not pinyin_in[at_mask].any()  # pinyin zero at every [MASK]
        replaced = masked & ~at_mask & (ids_in != ids)
        assert np.array_equal(pinyin_in[replaced], default_pinyin[ids_in[replaced]])
        assert np.array_equal(ids_in[~masked], ids[~masked]) and np.array_equal(pinyin_in[~masked], pinyin[~masked])
        if wwm:  # whole words: a word is masked entirely or not at all
            for w in np.unique(words[masked]):
                assert masked[words == w].all()
        stats["wwm"] += wwm
        stats["n"] += 1
        stats["maskable"] += int((words >= 0).sum())
        stats["masked"] += int(masked.sum())
        stats["mask"] += int(at_mask.sum())
        stats["random"] += int(replaced.sum())
        stats["kept"] += int((masked & (ids_in == ids)).sum())
    assert abs(stats["masked"] / stats["maskable"] - 0.15) < 0.02
    assert abs(stats["wwm"] / stats["n"] - 0.9) < 0.05
    assert abs(stats["mask"] / stats["masked"] - 0.8) < 0.03
    assert abs((stats["random"] + stats["kept"]) / stats["masked"] - 0.2) < 0.03  # random may hit the same id


def test_packing_and_single_sentences():
    special = SpecialIds.from_tokens(TOKENS)
    docs = [{"ids": np.arange(5, 5 + n, dtype=np.int32), "pinyin": np.zeros((n, 8), np.uint8),
             "words": np.arange(n, dtype=np.int32) // 2, "sents": np.arange(0, n, 10, dtype=np.int32), "key": str(i)}
            for i, n in enumerate([35, 120, 7, 64] * 10)]
    cfg = DataConfig(max_len=64, single_sentence_prob=0.1)
    seqs = list(SequenceBuilder(cfg, special, np.random.default_rng(3))(iter(docs)))
    assert all(s[0][0] == special.cls and s[0][-1] == special.sep and len(s[0]) <= 64 for s in seqs)
    separators = sum(int((s[0][1:-1] == special.sep).sum()) for s in seqs)  # between packed documents
    assert sum(len(s[0]) - 2 for s in seqs) - separators == sum(len(d["ids"]) for d in docs)  # nothing lost
    assert separators > 10
    lengths = np.array([len(s[0]) for s in seqs])
    assert (lengths <= 12).mean() > 0.04 and (lengths > 40).mean() > 0.6  # some single sentences, mostly packed
    for s in seqs:  # word indices stay unique across packed documents; separators belong to no word
        inner_ids, w = s[0][1:-1], s[2][1:-1]
        assert np.all(w[inner_ids == special.sep] == -1) and np.all(np.diff(w[inner_ids != special.sep]) >= 0)


def run_training(corpus_dir, out, *extra):
    cmd = [sys.executable, "-m", "model.train", "--corpus", str(corpus_dir), "--out", str(out), "--quiet",
           "--log-every", "1", "--eval-every", "1000", *extra]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    return [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]


def test_tiny_training_lowers_the_loss_and_resume_is_exact(corpus, tmp_path):
    out, _, _ = corpus
    straight = run_training(out, tmp_path / "a", "--steps", "40")
    losses = [m["loss"] for m in straight]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.5
    run_training(out, tmp_path / "b", "--steps", "40", "--stop-after", "15", "--save-every", "15")
    resumed = run_training(out, tmp_path / "b", "--steps", "40")
    assert resumed[-1]["step"] == 40 and resumed[-1]["loss"] == straight[-1]["loss"]
    assert os.path.exists(tmp_path / "b" / "model.safetensors") and os.path.exists(tmp_path / "b" / "glyphs.npy")


def test_a_wall_clock_budget_stops_at_a_log_step_with_a_model_and_a_relaunch_continues(corpus, tmp_path):
    out, _, _ = corpus
    stopped = run_training(out, tmp_path, "--steps", "6", "--max-minutes", "0.0001", "--log-every", "2")
    final = json.load(open(tmp_path / "final_metrics.json"))
    assert stopped[-1]["step"] == 2 and final["stopped_by_time_budget"] is True
    assert os.path.exists(tmp_path / "model.safetensors")  # the budget's model is written, not only a checkpoint
    assert [m["step"] for m in run_training(out, tmp_path, "--steps", "6")][-1] == 6


def test_two_cpu_processes_train_with_ddp_and_one_resumes_them(corpus, tmp_path):
    out, _, _ = corpus
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "model.train", "--corpus",
           str(out), "--out", str(tmp_path), "--steps", "8", "--stop-after", "6", "--save-every", "3",
           "--eval-every", "3", "--log-every", "1", "--quiet"]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=300)
    metrics = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert metrics[-1]["step"] == 6 and "val_loss" in metrics[-1]
    args = json.load(open(tmp_path / "training_args.json"))
    assert args["world_size"] == 2 and args["readers"] == 2
    assert json.load(open(tmp_path / "final_metrics.json"))["weights_equal_across_ranks"] is True
    # the world size changes (an elastic restart on fewer processes): the two readers continue in one process
    done = subprocess.run([sys.executable, "-m", "model.train", "--corpus", str(out), "--out", str(tmp_path),
                           "--steps", "8", "--log-every", "1", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "reseeded" in done.stderr and json.load(open(tmp_path / "training_args.json"))["readers"] == 2
    assert [json.loads(line)["step"] for line in open(tmp_path / "metrics.jsonl")][-2:] == [7, 8]


def test_model_folder_reference_round_trip_and_fill_mask(corpus, tmp_path):
    out, _, _ = corpus
    run_training(out, tmp_path / "m", "--steps", "3")
    model = load_model(str(tmp_path / "m"))
    convert_to_reference(str(tmp_path / "m"), str(tmp_path / "ref"))
    assert torch.load(tmp_path / "ref" / "pytorch_model.bin", weights_only=True).keys() == model.state_dict().keys()
    fonts = sorted((tmp_path / "ref" / "config").glob("*.npy"))  # the reference's config/ folder
    vocab = model.config.vocab_size
    assert len(fonts) == 3 and all(np.load(f).shape == (vocab, 24, 24) for f in fonts)
    pixels = np.load(tmp_path / "m" / "glyphs.npy") / 255.0  # the untrained table; the checkpoint holds the trained one
    assert np.allclose(np.stack([np.load(f) for f in fonts], 1), pixels, atol=1e-6)
    pinyin_map = json.load(open(tmp_path / "ref" / "config" / "pinyin_map.json"))
    pinyin2tensor = json.load(open(tmp_path / "ref" / "config" / "pinyin2tensor.json"))
    assert all(len(ids) == 8 and "".join(pinyin_map["idx2char"][i] for i in ids) == s for s, ids in pinyin2tensor.items())
    convert_from_reference(str(tmp_path / "ref"), str(tmp_path / "back"))
    back = load_model(str(tmp_path / "back"))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))
    printed = subprocess.run([sys.executable, "-m", "model.fill_mask", str(tmp_path / "m"), "市民[MASK]书馆开放了。"],
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert printed.startswith("[MASK] 1: ") and len(printed.split()) == 2 + 2 * 5


def test_run_dropout_makes_training_passes_deterministic_and_leaves_the_config_alone():
    from model.train import set_dropout

    torch.manual_seed(0)
    model = ChineseBertForMaskedLM(ChineseBertConfig.tiny(40, glyph_size=4)).train()
    ids = torch.randint(5, 40, (2, 12))
    pinyin = torch.randint(0, 32, (2, 12, 8))
    assert not torch.equal(model(ids, pinyin), model(ids, pinyin))  # the config's 0.1: masks differ per pass
    set_dropout(model, 0.0)
    assert torch.equal(model(ids, pinyin), model(ids, pinyin))
    assert model.config.hidden_dropout_prob == 0.1 and model.config.attention_probs_dropout_prob == 0.1


def test_glyph_map_gets_its_own_learning_rate_and_the_other_groups_keep_theirs():
    from model.train import param_groups

    model = ChineseBertForMaskedLM(ChineseBertConfig.tiny(40, glyph_size=4))
    groups = param_groups(model, 0.01, 1e-3, glyph_lr_scale=0.1)
    glyph = model.bert.embeddings.glyph_map.weight
    assert [g["lr"] for g in groups] == [1e-3, 1e-3, pytest.approx(1e-4)]
    assert groups[2]["params"] == [glyph] and all(glyph is not p for g in groups[:2] for p in g["params"])
    assert sum(len(g["params"]) for g in groups) == sum(p.requires_grad for p in model.parameters())
    plain = ChineseBertForMaskedLM(ChineseBertConfig.tiny(40, use_glyph=False))
    assert len(param_groups(plain, 0.01, 1e-3, glyph_lr_scale=0.1)) == 2


def test_frozen_glyph_table_stays_the_fonts_and_the_config_says_so(corpus, tmp_path):
    out, _, _ = corpus
    fonts = np.load(os.path.join(out, "glyphs.npy"), allow_pickle=False)
    tables = {}
    for name, extra in (("frozen", ["--freeze-glyphs"]), ("trained", [])):
        run_training(out, tmp_path / name, "--steps", "4", "--lr", "1e-2", *extra)
        model = load_model(str(tmp_path / name))
        tables[name] = model.bert.embeddings.glyph_embeddings.embedding.weight.detach().numpy()
        assert model.config.train_glyphs == (name == "trained")
    expected = torch.as_tensor(fonts).reshape(len(fonts), -1).float() / 255.0  # as load_glyphs scales the pixels
    assert np.array_equal(tables["frozen"], expected.numpy())
    assert not np.array_equal(tables["trained"], tables["frozen"])
