"""Model folders (config.json, model.safetensors, vocab and glyph/pinyin assets), training checkpoints with exact
resume, and conversion to and from the reference checkpoint format (pytorch_model.bin + BERT-style config.json)."""
from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import threading

import numpy as np
import torch
from apache_beam.io.filesystems import FileSystems
from safetensors.torch import load_file, save_file

from model.config import ChineseBertConfig
from model.modeling import ChineseBertForMaskedLM
from pipeline.work import read_bytes

ASSETS = ("vocab.txt", "glyphs.npy", "pinyin_default.npy", "pinyin_alphabet.json")
TIED = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")  # copies of word embeddings / bias
REFERENCE_CONFIG_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                         "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
                         "type_vocab_size", "layer_norm_eps", "initializer_range", "pad_token_id")


def unwrap(model: torch.nn.Module) -> ChineseBertForMaskedLM:
    return model.module if hasattr(model, "module") else model


def save_model(model: torch.nn.Module, folder: str, assets_from: str) -> None:
    """Write a loadable model folder: config.json, model.safetensors and the corpus assets beside them."""
    model = unwrap(model)
    os.makedirs(folder, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k not in TIED}
    save_file(state, os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        f.write(model.config.to_json())
    for name in ASSETS:  # the corpus may be on object storage: Beam's filesystems read it
        src = FileSystems.join(assets_from, name)
        if "://" not in src and os.path.abspath(src) == os.path.abspath(os.path.join(folder, name)):
            continue
        if FileSystems.exists(src):
            with open(os.path.join(folder, name), "wb") as f:
                f.write(read_bytes(src))
    manifest = FileSystems.join(assets_from, "manifest.json")
    if FileSystems.exists(manifest):  # the tokenizer reads pinyin over the words the corpus was segmented into
        annotate = json.loads(read_bytes(manifest))["config"]["annotate"]
        with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            # A corpus made before the context model has no "pinyin": the tokenizer then reads with pypinyin alone.
            settings = {k: annotate[k] for k in ("segmenter", "segmenter_model", "pinyin", "polyphone_context",
                                                  "polyphone_min_confidence") if k in annotate}
            json.dump({**settings, "max_length": model.config.max_position_embeddings}, f, indent=2)


def load_state(model: ChineseBertForMaskedLM, state: dict[str, torch.Tensor]) -> None:
    """Load a state dict with our (= the reference's) names; tied decoder copies and position_ids are optional,
    anything else missing or unexpected is an error."""
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in TIED]
    if missing or unexpected:
        raise KeyError(f"missing {missing}, unexpected {unexpected}")


def load_model(folder: str, map_location: str = "cpu") -> ChineseBertForMaskedLM:
    """A model folder written by save_model (or by convert_from_reference)."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = ChineseBertConfig.from_json(f.read())
    model = ChineseBertForMaskedLM(config)
    load_state(model, load_file(os.path.join(folder, "model.safetensors"), device=map_location))
    return model


def rng_states() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state()[1].tolist(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(("MT19937", np.array(states["numpy"], dtype=np.uint32), 0, 0, 0.0))
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in states["python"]))
    if states["cuda"]:
        torch.cuda.set_rng_state_all(states["cuda"])


def cpu_copy(obj):
    """A deep copy with every tensor copied to the CPU: training may go on while the copy is written."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(v) for v in obj)
    return obj


def training_state(model, optimizer, scheduler, step: int, data: dict, rng: list[dict]) -> dict:
    """Everything an exact resume needs: weights, optimiser and schedule, the step, every reader's position and
    every rank's RNG states (dropout masks differ between ranks)."""
    return cpu_copy({"model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "step": step, "data": data, "rng": rng})


def checkpoint_steps(folder: str) -> list[int]:
    """Steps of the complete checkpoints in a folder (temporary files of interrupted saves are not checkpoints)."""
    if not os.path.isdir(folder):
        return []
    return sorted(int(f[5:-3]) for f in os.listdir(folder)
                  if f.startswith("step-") and f.endswith(".pt") and f[5:-3].isdigit())


def checkpoint_path(folder: str, step: int) -> str:
    return os.path.join(folder, f"step-{step}.pt")


def latest_checkpoint(folder: str) -> str | None:
    steps = checkpoint_steps(folder)
    return checkpoint_path(folder, steps[-1]) if steps else None


def retained(steps: list[int], keep_last: int, keep_every: int) -> list[int]:
    """The steps a retention policy keeps: the last `keep_last`, and every multiple of `keep_every` (0: none)."""
    keep = set(steps[-keep_last:]) if keep_last > 0 else set()
    keep |= {s for s in steps if keep_every and s % keep_every == 0}
    return sorted(keep)


class CheckpointWriter:
    """Writes checkpoints in one background thread: the caller hands a CPU copy, the writer saves it under a unique
    temporary name, renames it (so a killed save never becomes the latest) and prunes by the retention policy.
    One write is in flight at a time; `wait()` before exiting."""

    def __init__(self, folder: str, keep_last: int = 3, keep_every: int = 0):
        self.folder, self.keep_last, self.keep_every = folder, keep_last, keep_every
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):  # left by a save that was killed
            if name.endswith(".tmp"):
                os.unlink(os.path.join(folder, name))
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def save(self, step: int, state: dict, background: bool = True) -> None:
        """Write `state` (already on the CPU) as the checkpoint of `step`."""
        self.wait()
        if background:
            self._thread = threading.Thread(target=self._write, args=(step, state), name="checkpoint", daemon=False)
            self._thread.start()
        else:
            self._write(step, state)
            self._raise()

    def _write(self, step: int, state: dict) -> None:
        try:
            path = checkpoint_path(self.folder, step)
            fd, tmp = tempfile.mkstemp(prefix=f"step-{step}.", suffix=".tmp", dir=self.folder)
            with os.fdopen(fd, "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            keep = set(retained(checkpoint_steps(self.folder), self.keep_last, self.keep_every))
            for old in checkpoint_steps(self.folder):
                if old not in keep:
                    os.unlink(checkpoint_path(self.folder, old))
        except BaseException as exc:  # re-raised in the training thread at the next save or wait
            self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise RuntimeError(f"writing a checkpoint in {self.folder} failed: {error!r}") from error

    def wait(self) -> None:
        """Block until the write in flight (if any) is on disk."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._raise()


def load_checkpoint(path: str, model, optimizer=None, scheduler=None) -> dict:
    """Restore the model (and optimiser and schedule when given); returns the checkpoint's other entries (step,
    data positions, RNG states)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    load_state(unwrap(model), state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    return {k: state[k] for k in ("step", "data", "rng") if k in state}


def convert_from_reference(reference_dir: str, out_dir: str, glyph_fonts: int = 3, glyph_size: int = 24) -> None:
    """A reference checkpoint folder (config.json, pytorch_model.bin, vocab.txt) → our model folder."""
    with open(os.path.join(reference_dir, "config.json"), encoding="utf-8") as f:
        ref = json.load(f)
    config = ChineseBertConfig(**{k: ref[k] for k in REFERENCE_CONFIG_KEYS if k in ref},
                               glyph_fonts=glyph_fonts, glyph_size=glyph_size)
    model = ChineseBertForMaskedLM(config)
    load_state(model, torch.load(os.path.join(reference_dir, "pytorch_model.bin"), map_location="cpu",
                                 weights_only=True))
    save_model(model, out_dir, reference_dir)


def convert_to_reference(model_dir: str, out_dir: str) -> None:
    """Our model folder → pytorch_model.bin and a BERT-style config.json with the reference's names."""
    model = load_model(model_dir)
    os.makedirs(out_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(out_dir, "pytorch_model.bin"))
    config = {k: getattr(model.config, k) for k in REFERENCE_CONFIG_KEYS}
    config.update({"architectures": ["GlyceBertForMaskedLM"], "model_type": "bert", "hidden_act": "gelu"})
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    if os.path.exists(os.path.join(model_dir, "vocab.txt")):
        shutil.copyfile(os.path.join(model_dir, "vocab.txt"), os.path.join(out_dir, "vocab.txt"))
    write_reference_assets(model_dir, os.path.join(out_dir, "config"))


def write_reference_assets(model_dir: str, config_dir: str) -> None:
    """The reference code's `config/` folder from a model folder's assets: one [V, size, size] float32 .npy per
    font (pixels in [0, 1], as our glyph table), pinyin_map.json (our alphabet, so the pinyin embedding rows keep
    their meaning), pinyin2tensor.json and id2pinyin.json (the default reading of each vocabulary entry)."""
    paths = {name: os.path.join(model_dir, name) for name in ("glyphs.npy", "pinyin_default.npy",
                                                              "pinyin_alphabet.json")}
    if not all(os.path.exists(p) for p in paths.values()):
        return
    os.makedirs(config_dir, exist_ok=True)
    glyphs = np.load(paths["glyphs.npy"], allow_pickle=False)
    for font in range(glyphs.shape[1]):
        np.save(os.path.join(config_dir, f"font{font}_{glyphs.shape[2]}.npy"),
                glyphs[:, font].astype(np.float32) / 255.0)
    with open(paths["pinyin_alphabet.json"], encoding="utf-8") as f:
        symbols = json.load(f)["symbols"]
    default = np.load(paths["pinyin_default.npy"], allow_pickle=False)
    readings = {str(i): [int(x) for x in row] for i, row in enumerate(default) if row.any()}
    by_string = {"".join(symbols[x] for x in ids): ids for ids in readings.values()}
    for name, data in (("pinyin_map.json", {"idx2char": symbols, "char2idx": {c: i for i, c in enumerate(symbols) if c}}),
                       ("pinyin2tensor.json", dict(sorted(by_string.items()))), ("id2pinyin.json", readings)):
        with open(os.path.join(config_dir, name), "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
