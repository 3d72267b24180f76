"""Organizations, projects (slug, numeric id, DSN public keys) and API tokens of a store.

Kept as one JSON document, `catalog.json`, in the store's data folder. Every update is a
read-modify-write under an exclusive lock, published by writing a temporary file and renaming
it over the old one, so a reader sees the old or the new catalog, never half of one. Tokens
are stored only as SHA-256 digests and compared in constant time.

On object storage (`s3://bucket/prefix`, the catalog lives in the store) the same
document is one object: the exclusive lock is a small lock object taken by conditional put
(free again after CATALOG_LOCK_SECONDS if its taker died), the publish a put `If-Match` the
ETag read under it, and readers re-read it at most every CATALOG_POLL seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from replaystore.errors import CatalogError
from replaystore.storage.layout import is_remote
from replaystore.storage.objectstore import PreconditionFailed, StorageConfig

CATALOG_FILE = "catalog.json"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
DSN_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CATALOG_POLL = 1.0  # object storage: seconds a read catalog is trusted before re-reading
CATALOG_LOCK_SECONDS = 10.0  # object storage: an update lock older than this was abandoned


@dataclass(frozen=True)
class Project:
    org: str
    slug: str
    id: int
    dsn_keys: tuple[str, ...]


@dataclass(frozen=True)
class User:
    """Whom a token acts as (`token add --user-id/--email/--name`): views are per user."""

    id: int
    email: str = ""
    name: str = ""
    date_joined: str = ""  # ISO 8601, when the user was first added


@dataclass(frozen=True)
class CatalogData:
    organizations: tuple[str, ...]
    projects: tuple[Project, ...]
    token_hashes: tuple[tuple[str, str], ...]  # (sha256 hex, org slug)
    users: tuple[User, ...] = ()
    token_users: tuple[tuple[str, int], ...] = ()  # (sha256 hex, user id); older tokens: none


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _empty() -> CatalogData:
    return CatalogData(organizations=(), projects=(), token_hashes=())


def _decode(raw: bytes) -> CatalogData:
    doc = orjson.loads(raw)
    return CatalogData(
        organizations=tuple(doc.get("organizations", [])),
        projects=tuple(
            Project(p["org"], p["slug"], int(p["id"]), tuple(p.get("dsn_keys", [])))
            for p in doc.get("projects", [])
        ),
        token_hashes=tuple((t["sha256"], t["org"]) for t in doc.get("tokens", [])),
        users=tuple(
            User(int(u["id"]), u.get("email", ""), u.get("name", ""), u.get("date_joined", ""))
            for u in doc.get("users", [])
        ),
        token_users=tuple(
            (t["sha256"], int(t["user_id"]))
            for t in doc.get("tokens", [])
            if t.get("user_id") is not None
        ),
    )


def _encode(data: CatalogData) -> bytes:
    users = dict(data.token_users)
    doc = {
        "organizations": list(data.organizations),
        "projects": [
            {"org": p.org, "slug": p.slug, "id": p.id, "dsn_keys": list(p.dsn_keys)}
            for p in data.projects
        ],
        "tokens": [
            {"sha256": digest, "org": org, "user_id": users.get(digest)}
            for digest, org in data.token_hashes
        ],
        "users": [
            {"id": u.id, "email": u.email, "name": u.name, "date_joined": u.date_joined}
            for u in data.users
        ],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


class Catalog:
    """The catalog of one data folder; reads are cached until the file changes."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, config: StorageConfig | None = None
    ) -> None:
        root = os.fspath(data_dir)
        self._remote = _RemoteCatalog(root, config) if is_remote(root) else None
        self.dir = Path(root) if self._remote is None else None
        self.path = self.dir / CATALOG_FILE if self.dir is not None else None
        self._cache: tuple[float, int, CatalogData] | None = None
        self._mutex = threading.Lock()

    # -- reading -------------------------------------------------------------------------

    def data(self) -> CatalogData:
        if self._remote is not None:
            return self._remote.data()
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return _empty()
        cached = self._cache
        if cached and cached[0] == st.st_mtime and cached[1] == st.st_ino:
            return cached[2]
        data = _decode(self.path.read_bytes())
        self._cache = (st.st_mtime, st.st_ino, data)
        return data

    def exists(self) -> bool:
        """Whether the catalog was ever written (on local disk or in the bucket)."""
        if self._remote is not None:
            return self._remote.config.head(self._remote.path) is not None
        return self.path.exists()

    def organizations(self) -> tuple[str, ...]:
        return self.data().organizations

    def projects(self, org: str | None = None) -> list[Project]:
        return [p for p in self.data().projects if org is None or p.org == org]

    def project(self, org: str, slug: str) -> Project | None:
        return next((p for p in self.projects(org) if p.slug == slug), None)

    def project_by_id(self, project_id: int) -> Project | None:
        return next((p for p in self.data().projects if p.id == project_id), None)

    def project_for_dsn_key(self, key: str) -> Project | None:
        # compare_digest refuses non-ASCII str, so compare the UTF-8 bytes.
        wanted = key.encode("utf-8", "surrogatepass")
        for project in self.data().projects:
            if any(hmac.compare_digest(wanted, k.encode()) for k in project.dsn_keys):
                return project
        return None

    def org_for_token(self, token: str) -> str | None:
        """The organization a bearer token grants, or None; constant time per stored token."""
        digest = hash_token(token)
        found = None
        for stored, org in self.data().token_hashes:
            if hmac.compare_digest(digest, stored):
                found = org
        return found

    # -- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[CatalogData]:
        if self._remote is not None:
            with self._mutex, self._remote.locked() as data:
                yield data
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        with self._mutex, open(self.dir / ".catalog.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self.data()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _publish(self, data: CatalogData) -> None:
        if self._remote is not None:
            self._remote.publish(_encode(data))
            return
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".catalog-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_encode(data))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._cache = None

    def add_project(self, org: str, slug: str, project_id: int, dsn_key: str) -> Project:
        """Register a project (creating its organization); adding a DSN key to it is fine."""
        _check_slug("organization", org)
        _check_slug("project", slug)
        if not DSN_KEY_RE.match(dsn_key):
            raise CatalogError(f"Invalid DSN key {dsn_key!r}: use 1-64 letters, digits, - or _")
        if not 0 < project_id < 2**53:
            raise CatalogError(f"Invalid project id {project_id}: must be a positive integer")
        with self._locked() as data:
            owner = next((p for p in data.projects if p.id == project_id), None)
            if owner and (owner.org, owner.slug) != (org, slug):
                raise CatalogError(f"Project id {project_id} is already {owner.org}/{owner.slug}")
            same_slug = next((p for p in data.projects if (p.org, p.slug) == (org, slug)), None)
            if same_slug and same_slug.id != project_id:
                raise CatalogError(f"Project {org}/{slug} already has id {same_slug.id}")
            key_owner = next((p for p in data.projects if dsn_key in p.dsn_keys), None)
            if key_owner and key_owner.id != project_id:
                raise CatalogError("That DSN key already belongs to another project")
            keys = owner.dsn_keys if owner else ()
            project = Project(org, slug, project_id, keys + (() if dsn_key in keys else (dsn_key,)))
            projects = (*(p for p in data.projects if p.id != project_id), project)
            orgs = data.organizations + (() if org in data.organizations else (org,))
            self._publish(
                CatalogData(orgs, projects, data.token_hashes, data.users, data.token_users)
            )
            return project

    def add_token(
        self,
        org: str,
        *,
        user_id: int | None = None,
        email: str | None = None,
        name: str | None = None,
    ) -> str:
        """Create a bearer token for `org` acting as user `user_id` (a new user when None;
        `email`/`name` set or update the user's). Only its digest is kept. Returns the token."""
        _check_slug("organization", org)
        if user_id is not None and not 0 < user_id < 2**53:
            raise CatalogError(f"Invalid user id {user_id}: must be a positive integer")
        for label, value in (("email", email), ("name", name)):
            if value is not None and (len(value) > 200 or not value.isprintable()):
                raise CatalogError(f"Invalid {label} {value!r}: printable text, at most 200")
        token = secrets.token_hex(32)
        digest = hash_token(token)
        with self._locked() as data:
            orgs = data.organizations + (() if org in data.organizations else (org,))
            tokens = (*data.token_hashes, (digest, org))
            users = _with_user(data.users, user_id, email, name)
            user = users[-1] if user_id is None else next(u for u in users if u.id == user_id)
            self._publish(
                CatalogData(
                    orgs, data.projects, tokens, users, (*data.token_users, (digest, user.id))
                )
            )
        return token

    # -- users ---------------------------------------------------------------------------

    def user_for_token(self, token: str) -> User | None:
        """The user a token acts as (None for a token made before tokens had users)."""
        data = self.data()
        digest = hash_token(token)
        found = None
        for stored, user_id in data.token_users:
            if hmac.compare_digest(digest, stored):
                found = user_id
        return self.user(found) if found is not None else None

    def user(self, user_id: int) -> User | None:
        return next((u for u in self.data().users if u.id == user_id), None)

    def org_users(self, org: str) -> list[User]:
        """The organization's members: the users acting through one of its tokens."""
        data = self.data()
        org_digests = {digest for digest, token_org in data.token_hashes if token_org == org}
        ids = {user_id for digest, user_id in data.token_users if digest in org_digests}
        return [u for u in data.users if u.id in ids]


def _with_user(
    users: tuple[User, ...], user_id: int | None, email: str | None, name: str | None
) -> tuple[User, ...]:
    """The users with `user_id` added or updated; a new id (last) when None."""
    existing = next((u for u in users if u.id == user_id), None)
    if existing is not None:
        updated = User(
            existing.id,
            existing.email if email is None else email,
            existing.name if name is None else name,
            existing.date_joined,
        )
        return tuple(updated if u.id == user_id else u for u in users)
    new_id = user_id if user_id is not None else max((u.id for u in users), default=0) + 1
    joined = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return (*users, User(new_id, email or "", name or "", joined))


class _RemoteCatalog:
    """The catalog object of a store on object storage (see the module docstring)."""

    def __init__(self, root: str, config: StorageConfig | None) -> None:
        root = root.rstrip("/")
        self.config = config or StorageConfig.for_root(root)
        self.path = f"{root}/{CATALOG_FILE}"
        self.lock_path = f"{root}/.catalog.lock"
        self._cache: tuple[float, str | None, CatalogData] | None = None  # (read at, etag, data)
        self._etag: str | None = None  # under `locked`: the ETag the publish expects

    def data(self, *, fresh: bool = False) -> CatalogData:
        cached = self._cache
        now = time.monotonic()
        if cached is not None and not fresh and now - cached[0] < CATALOG_POLL:
            return cached[2]
        try:
            found = self.config.get(self.path)
        except Exception:
            if cached is None or fresh:
                raise
            # Storage blipped: keep the catalog last read (tokens keep working meanwhile).
            self._cache = (now, cached[1], cached[2])
            return cached[2]
        if found is None:
            data, etag = _empty(), None
        elif cached is not None and cached[1] == found.etag:
            data, etag = cached[2], found.etag
        else:
            data, etag = _decode(found.data), found.etag
        self._cache = (now, etag, data)
        return data

    @contextlib.contextmanager
    def locked(self) -> Iterator[CatalogData]:
        token = self._take_lock()
        try:
            data = self.data(fresh=True)
            self._etag = self._cache[1] if self._cache else None
            yield data
        finally:
            self._etag = None
            with contextlib.suppress(PreconditionFailed, OSError):
                self.config.delete(self.lock_path, if_match=token)

    def publish(self, encoded: bytes) -> None:
        try:
            self.config.put(self.path, encoded, if_match=self._etag)
        except PreconditionFailed:
            raise CatalogError(
                "The catalog was changed by another process meanwhile: try again"
            ) from None
        self._cache = None

    def _take_lock(self) -> str:
        deadline = time.monotonic() + 2 * CATALOG_LOCK_SECONDS
        while True:
            try:
                return self.config.put(self.lock_path, secrets.token_hex(16).encode()).etag
            except PreconditionFailed:
                current = self.config.head(self.lock_path)
                if current is not None:
                    etag, server_now, modified = current
                    if (server_now - modified).total_seconds() > CATALOG_LOCK_SECONDS:
                        with contextlib.suppress(PreconditionFailed):
                            self.config.delete(self.lock_path, if_match=etag)
                        continue
            if time.monotonic() > deadline:
                raise CatalogError("The catalog is being updated by another process: try again")
            time.sleep(0.05)


def _check_slug(kind: str, slug: str) -> None:
    if not SLUG_RE.match(slug):
        raise CatalogError(
            f"Invalid {kind} slug {slug!r}: use lower-case letters, digits, - or _ (max 50)"
        )
