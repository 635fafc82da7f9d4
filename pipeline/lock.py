"""One job per OUTPUT: a lock object names the live job that holds it; a gone holder's lock is taken over.

A holder on this host is alive while its process is; one on another host (a shared filesystem or an object store)
while its heartbeat is younger than STALE_S. A killed job leaves its lock behind, and the relaunch takes it over, so resuming works.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid

from apache_beam.io.filesystems import FileSystems

from pipeline.work import read_json, write_bytes

LOG = logging.getLogger("chinesebert")
LOCK_NAME = "_job.lock.json"
HEARTBEAT_S = 60.0
STALE_S = 600.0


def holder_alive(holder: dict, now: float) -> bool:
    """Whether the job a lock names still runs: its process when it ran on this host, else a fresh heartbeat."""
    if holder.get("host") == socket.gethostname():
        try:
            os.kill(int(holder.get("pid", -1)), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError, OverflowError):
            return True
        return True
    return now - float(holder.get("heartbeat", 0)) < STALE_S


class OutputLock:
    """Held for the whole job: acquire() refuses a second live job, release() removes the lock if still ours."""

    def __init__(self, output: str):
        self.path = FileSystems.join(output, LOCK_NAME)
        self.local = "://" not in output
        self.token = uuid.uuid4().hex
        self.started = time.time()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def _record(self) -> bytes:
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "token": self.token,
                           "started": self.started, "heartbeat": time.time()}).encode("utf-8")

    def _holder(self) -> dict | None:
        try:
            return read_json(self.path)
        except Exception:  # absent, or torn by a crash: nobody holds it
            return None

    def acquire(self) -> None:
        """Take the lock, or stop with a message naming the live job that holds it."""
        holder = self._holder()
        if holder is not None:
            if holder_alive(holder, time.time()):
                since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(holder.get("started", 0))))
                raise SystemExit(f"{os.path.dirname(self.path)} is in use by another job (host {holder.get('host')}, "
                                 f"pid {holder.get('pid')}, since {since}); wait for it to end, or give another "
                                 f"--output. If that job is gone, remove {self.path}")
            LOG.warning("taking over %s from a job that is gone (pid %s on %s)", self.path, holder.get("pid"),
                        holder.get("host"))
        if self.local:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        write_bytes(self.path, self._record())
        if (self._holder() or {}).get("token") != self.token:
            raise SystemExit(f"another job took {self.path} at the same moment; give each job its own --output")
        self._beat = threading.Thread(target=self._heartbeat, name="output-lock", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                write_bytes(self.path, self._record())
            except Exception as exc:  # a missed beat is retried; the job goes on
                LOG.warning("cannot renew %s: %r", self.path, exc)

    def release(self) -> None:
        """Stop the heartbeat and remove the lock if it is still this job's."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if (self._holder() or {}).get("token") == self.token:
            FileSystems.delete([self.path])
