"""Training scalars as TensorBoard event files, written without TensorBoard or TensorFlow installed.

`tensorboard --logdir OUT/tensorboard` reads them, and so does W&B (`wandb sync --sync-tensorboard`). A file is a
sequence of TFRecords (length, masked CRC-32C of the length, an `Event` protobuf, masked CRC-32C of it); the few
protobuf fields needed are encoded here: Event{wall_time = 1, step = 2, file_version = 3, summary = 5},
Summary{value = 1}, Summary.Value{tag = 1, simple_value = 2}.
"""
from __future__ import annotations

import os
import socket
import struct
import time

_CRC32C_POLY = 0x82F63B78  # Castagnoli, reflected


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC32C_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of data."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC: rotate right by 15 and add a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def event(wall_time: float, step: int = 0, scalars: dict[str, float] | None = None, file_version: str = "") -> bytes:
    """One serialised Event protobuf."""
    out = _varint(1 << 3 | 1) + struct.pack("<d", wall_time) + _varint(2 << 3 | 0) + _varint(step)
    if file_version:
        out += _bytes_field(3, file_version.encode())
    if scalars:
        values = b"".join(_bytes_field(1, _bytes_field(1, tag.encode("utf-8")) + _varint(2 << 3 | 5)
                                       + struct.pack("<f", float(value))) for tag, value in scalars.items())
        out += _bytes_field(5, values)
    return out


def record(data: bytes) -> bytes:
    """One TFRecord around data."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc(header)) + data + struct.pack("<I", masked_crc(data))


class ScalarWriter:
    """Appends scalar summaries to one event file in `folder` (flushed after every step written)."""

    def __init__(self, folder: str):
        os.makedirs(folder, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}"
        self.path = os.path.join(folder, name)
        self._file = open(self.path, "ab")
        self._write(event(time.time(), file_version="brain.Event:2"))

    def _write(self, data: bytes) -> None:
        self._file.write(record(data))
        self._file.flush()

    def add(self, step: int, scalars: dict[str, float]) -> None:
        """Write the numeric entries of `scalars` at `step`."""
        numeric = {k: v for k, v in scalars.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        self._write(event(time.time(), step, numeric))

    def close(self) -> None:
        self._file.close()
