"""Page and static-file responses, with the headers that keep the pages self-contained."""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from functools import cache
from importlib import resources

from replaystore.api import Request, Response
from replaystore.errors import NotFound

# Nothing but this server: scripts and styles from /static, data from /api/0. Styles allow
# inline rules because rrweb rebuilds the recorded page's <style> elements and style
# attributes; images, fonts and media are limited to this origin and inline data, so a
# replayed page cannot make the browser fetch anything from the recorded site.
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "media-src 'self' data: blob:",
        "connect-src 'self'",
        "frame-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-cache"),
)
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
HTML = CONTENT_TYPES[".html"]


@dataclass(frozen=True)
class Page:
    title: str
    script: str  # bundle name under /static/
    styles: tuple[str, ...] = ("pages.css",)


PAGES = {
    "page_list": Page("Replays", "list.js"),
    "page_player": Page("Replay", "player.js", ("player.css", "pages.css")),
    "page_selectors": Page("Dead and rage click selectors", "selectors.js"),
}


def _shell(page: Page, auth: bool) -> bytes:
    """The page's HTML: no data, only whether the API wants a token (the page asks for it)."""
    mode = "token" if auth else "none"
    title = html.escape(page.title)
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="replaystore-auth" content="{mode}">\n'
        f"<title>{title} · replaystore</title>\n"
        '<link rel="icon" href="data:,">\n'  # no /favicon.ico request
        + "".join(f'<link rel="stylesheet" href="/static/{name}">\n' for name in page.styles)
        + f'<script defer src="/static/{page.script}"></script>\n'
        + '</head>\n<body>\n<div id="app"></div>\n</body>\n</html>\n'
    ).encode()


def page(handler: str, req: Request, *, auth: bool) -> Response:
    """The HTML shell of one page."""
    return Response(200, _shell(PAGES[handler], auth), list(SECURITY_HEADERS), HTML)


@cache
def _bundle() -> dict[str, tuple[bytes, str]]:
    """Every shipped file of `static/` by name: its bytes and ETag (read once per process)."""
    folder = resources.files("replaystore.web").joinpath("static")
    found = {}
    for entry in folder.iterdir():
        if entry.is_file() and entry.name.endswith(tuple(CONTENT_TYPES)):
            body = entry.read_bytes()
            found[entry.name] = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return found


def static(req: Request) -> Response:
    """A file of the bundle, revalidated by ETag (304 when the browser holds this build)."""
    found = _bundle().get(req.params["name"])
    if found is None:
        raise NotFound()
    body, etag = found
    headers = [*SECURITY_HEADERS, ("ETag", etag)]
    if etag in req.headers.get("if-none-match", ""):
        return Response(304, b"", headers, content_type=None)
    suffix = "." + req.params["name"].rsplit(".", 1)[-1]
    return Response(200, body, headers, CONTENT_TYPES[suffix])
