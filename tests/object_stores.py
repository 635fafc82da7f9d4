"""Real object-store servers on 127.0.0.1 for the tests: moto's S3 server (its own process), Google's storage
API as gcp-storage-emulator serves it, and a throttling proxy that answers 503 SlowDown before passing requests on.
Each starts on a free loopback port and stops when its fixture ends; nothing else on the network is contacted."""
from __future__ import annotations

import http.client
import http.server
import os
import socket
import subprocess
import sys
import threading
import time

ACCESS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _die_with_parent() -> None:
    """In the child: the kernel ends it when the test process dies, even killed (no server outlives a run)."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class MotoServer:
    """moto's S3-compatible server in a child process."""

    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        wait_for_port(self.port)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def client(self, endpoint: str | None = None):
        import boto3

        return boto3.client("s3", endpoint_url=endpoint or self.endpoint, **ACCESS)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def s3_options(endpoint: str) -> list[str]:
    """The Beam options that point every s3:// read and write at a server."""
    return [f"--s3_endpoint_url={endpoint}", f"--s3_access_key_id={ACCESS['aws_access_key_id']}",
            f"--s3_secret_access_key={ACCESS['aws_secret_access_key']}", f"--s3_region_name={ACCESS['region_name']}"]


def upload_tree(client, bucket: str, files: dict[str, str]) -> None:
    """{key: local path} into the bucket (created if needed)."""
    try:
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    for key, path in files.items():
        client.upload_file(path, bucket, key)


def list_keys(client, bucket: str, prefix: str) -> dict[str, object]:
    """key → LastModified of every object under a prefix."""
    out, token = {}, None
    while True:
        page = client.list_objects_v2(Bucket=bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {}))
        out.update({o["Key"]: o["LastModified"] for o in page.get("Contents", [])})
        if not page.get("IsTruncated"):
            return out
        token = page["NextContinuationToken"]


class ThrottlingProxy:
    """Forwards HTTP to a server, answering 503 SlowDown (S3's throttling reply) to the first `failures` GET
    requests whose path contains `match`; counts what it refused."""

    def __init__(self, target_port: int, match: str, failures: int):
        proxy = self
        self.refused = 0
        self.failures, self.match = failures, match

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "GET" and proxy.match in self.path and proxy.refused < proxy.failures:
                    proxy.refused += 1
                    reply = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                             b"<Message>Please reduce your request rate.</Message></Error>")
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                # a HEAD reply has no body but the object's length
                self.send_header("Content-Length", resp.getheader("Content-Length", "0") if self.command == "HEAD"
                                 else str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class GcsEmulator:
    """gcp-storage-emulator (Google's JSON API, in memory) in this process; Beam's GCS client is pointed at it by
    STORAGE_EMULATOR_HOST and connects anonymously (the emulator needs no credentials)."""

    def __init__(self, bucket: str):
        from gcp_storage_emulator.server import create_server

        self.port = free_port()
        self.server = create_server("127.0.0.1", self.port, in_memory=True, default_bucket=bucket)
        self.server.start()
        self.previous = os.environ.get("STORAGE_EMULATOR_HOST")
        os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{self.port}"
        from apache_beam.internal.gcp import auth

        # Application-default credentials would be searched for with retries (and, off this machine, on a
        # metadata server): the emulator takes anonymous requests, so Beam is told there are none.
        self.saved = (auth._Credentials._credentials_init, auth._Credentials._credentials)
        auth._Credentials._credentials_init, auth._Credentials._credentials = True, None

    def client(self):
        from google.cloud import storage

        client = storage.Client.create_anonymous_client()
        client.project = "test"
        return client

    def stop(self) -> None:
        from apache_beam.internal.gcp import auth

        auth._Credentials._credentials_init, auth._Credentials._credentials = self.saved
        if self.previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = self.previous
        self.server.stop()
