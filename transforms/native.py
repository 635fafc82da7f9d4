"""Our small C kernels (`*.c` next to this file), compiled on first use with the system C compiler into a cache
folder and loaded with ctypes. Each library is keyed by the sha256 of its source and flags, so an edit rebuilds it,
and written through a temporary file, so parallel workers never load half a library. Without a compiler the
callers keep their pure-Python/numpy path (`NativeUnavailable` says why)."""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# No fast-math and no contraction into fused multiply-adds: results must round the same on every machine.
FLAGS = ("-O2", "-ffp-contract=off", "-shared", "-fPIC")


class NativeUnavailable(RuntimeError):
    """A C kernel cannot be used here (no compiler, a failed build, or input it does not handle)."""


def cache_dir() -> str:
    """Where compiled kernels and derived model tables are kept: $CHINESEBERT_CACHE, else
    ~/.cache/chinesebert-corpus; a temporary folder where that cannot be written."""
    path = os.environ.get("CHINESEBERT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "chinesebert-corpus")
    try:
        os.makedirs(path, exist_ok=True)
        if os.access(path, os.W_OK | os.X_OK):
            return path
    except OSError:
        pass
    # a worker whose home is read-only still gets its kernels, rebuilt in a folder of its own
    path = os.path.join(tempfile.gettempdir(), f"chinesebert-corpus-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def replace_atomically(write, final: str, mode: int = 0o644) -> None:
    """Call write(temporary path) in final's folder, then rename it to final (readable by all: a container image
    may be built by one user and run by another)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(final), suffix=".part")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def compiled_library(source_name: str) -> ctypes.CDLL:
    """transforms/<source_name> as a loaded shared library, compiled once per source and flags version."""
    source = os.path.join(HERE, source_name)
    with open(source, "rb") as f:
        version = hashlib.sha256(f.read() + " ".join(FLAGS).encode()).hexdigest()[:16]
    target = os.path.join(cache_dir(), f"{os.path.splitext(source_name)[0]}-{version}.so")
    if not os.path.exists(target):
        compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        if not compiler:
            raise NativeUnavailable(f"no C compiler (cc/gcc) to build transforms/{source_name}")

        def build(tmp):
            try:
                done = subprocess.run([compiler, *FLAGS, "-o", tmp, source], capture_output=True, text=True,
                                      timeout=120)
            except (OSError, subprocess.TimeoutExpired) as why:
                raise NativeUnavailable(f"cannot run the C compiler {compiler}: {why}") from why
            if done.returncode:
                raise NativeUnavailable(f"{compiler} failed on {source_name}: {done.stderr.strip()[:400]}")

        replace_atomically(build, target, 0o755)
    return ctypes.CDLL(target)


def optional_kernel(build, instead: str, logger: str):
    """build() — a C kernel's wrapper — or None where it cannot be built or loaded (no compiler, a failed build,
    input it does not handle, OSError such as a full disk under the cache folder), logged to `logger` with what
    runs `instead`."""
    try:
        return build()
    except (NativeUnavailable, OSError) as why:
        logging.getLogger(logger).warning("%s: %s", instead, why)
        return None


def code_points(sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """What the segmenter kernels read: the sentences joined as uint32 code points (lone surrogates kept) and
    their offsets [n + 1]."""
    offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sentences], out=offsets[1:])
    return np.frombuffer("".join(sentences).encode("utf-32-le", "surrogatepass"), dtype=np.uint32), offsets


def word_lengths(starts: np.ndarray, offsets: np.ndarray) -> list[list[int]]:
    """Per sentence, the lengths of its words, from a kernel's flags over the joined code points (nonzero where a
    word starts; every sentence's first character must be flagged)."""
    edges = np.flatnonzero(starts)
    lengths = np.diff(np.append(edges, offsets[-1])).tolist()
    cuts = np.searchsorted(edges, offsets).tolist()
    return [lengths[a:b] for a, b in zip(cuts, cuts[1:])]
