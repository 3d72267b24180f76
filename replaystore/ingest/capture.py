"""Read a captured SDK session (JSONL of HTTP requests) as envelopes, or write it out as files.

Each capture line is one request: `method`, `path` (with query string), `headers`, `body_b64`.
Usage: `python -m replaystore.ingest.capture CAPTURE.jsonl FOLDER` writes
`FOLDER/NN-<kind>.envelope`, one raw request body per file, in capture order.
"""

from __future__ import annotations

import base64
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from replaystore.errors import IngestError
from replaystore.ingest.envelopes import EnvelopeInput
from replaystore.ingest.framing import parse_envelope
from replaystore.ingest.inflate import MAX_DECOMPRESSED, decode_content

_ENVELOPE_PATH = re.compile(r"/api/(\d+)/envelope/?")
CAPTURE_CLIENT_IP = "127.0.0.1"


@dataclass(frozen=True)
class CapturedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def read_capture(path: str | Path) -> Iterator[CapturedRequest]:
    with open(path, "rb") as lines:
        for line in lines:
            if line.strip():
                raw = orjson.loads(line)
                body = base64.b64decode(raw["body_b64"])
                yield CapturedRequest(raw["method"], raw["path"], raw["headers"], body)


def project_id_from_path(path: str) -> int | None:
    """42 for `/api/42/envelope/?sentry_key=...`; None for any other path."""
    match = _ENVELOPE_PATH.search(path.split("?", 1)[0])
    return int(match.group(1)) if match else None


def capture_inputs(path: str | Path, client_ip: str = CAPTURE_CLIENT_IP) -> Iterator[EnvelopeInput]:
    """Every envelope POST of a capture as an `EnvelopeInput`, named `capture-NN`."""
    for number, request in enumerate(read_capture(path), start=1):
        if request.method != "POST" or project_id_from_path(request.path) is None:
            continue
        yield EnvelopeInput(
            body=request.body,
            project_id=project_id_from_path(request.path),
            client_ip=client_ip,
            user_agent=request.header("User-Agent"),
            content_encoding=request.header("Content-Encoding"),
            name=f"capture-{number:02d}",
        )


def envelope_kind(envelope: EnvelopeInput) -> str:
    """A file-name word for what an envelope holds: `replay-segment-3`, `session`, `event`..."""
    try:
        body = decode_content(envelope.body, envelope.content_encoding, MAX_DECOMPRESSED)
        items = parse_envelope(body).items
    except IngestError:
        return "invalid"
    for item in items:
        if item.type == "replay_event":
            try:
                segment = orjson.loads(item.payload).get("segment_id")
            except (orjson.JSONDecodeError, AttributeError):
                segment = None
            return f"replay-segment-{segment}" if isinstance(segment, int) else "replay"
    return "-".join(dict.fromkeys(item.type for item in items)) or "empty"


def write_envelope_files(capture: str | Path, folder: str | Path) -> list[Path]:
    """Write each envelope POST's raw body to `folder/NN-<kind>.envelope`; return the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for number, envelope in enumerate(capture_inputs(capture), start=1):
        target = out / f"{number:02d}-{envelope_kind(envelope)}.envelope"
        target.write_bytes(envelope.body)
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m replaystore.ingest.capture CAPTURE.jsonl FOLDER", file=sys.stderr)
        return 2
    for path in write_envelope_files(argv[0], argv[1]):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
