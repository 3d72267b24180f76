"""A server assembled and run: the store, its writer (journal, maintenance, deletion jobs),
the engine and the catalog wired into one `Api`, handed to `WsgiApp`, served by waitress.

`make_app(data_dir)` builds the app; `serve(data_dir, host, port)` runs it under waitress.
A writing app owns the store's `Writer` (writer lock, journal, background work) until
`close()`; a read-only app (`read_only=True`) takes no lock, keeps no journal and refuses
writes, and follows what the store's writer publishes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import signal
import threading
import time
from collections.abc import Iterable, Iterator

import waitress

from replaystore.api import Api, Ingest
from replaystore.catalog import Catalog
from replaystore.engines import EngineConfig, open_engine
from replaystore.errors import ApiError, ReplayStoreError
from replaystore.ingest import EnvelopeInput
from replaystore.query.replay_count import IssueResolver
from replaystore.server_limits import ServerLimits
from replaystore.storage.delete_jobs import DeleteJobRunner
from replaystore.storage.maintenance import Maintenance, MaintenanceSettings
from replaystore.storage.store import Store
from replaystore.writer import Writer
from replaystore.wsgi import Environ, StartResponse, WsgiApp

log = logging.getLogger(__name__)


class ReadOnlyIngest:
    """The envelope route of a read-only server: refuses, naming where envelopes go."""

    def __init__(self, root: str) -> None:
        self.root = root

    def submit(self, envelope: EnvelopeInput) -> None:
        raise ApiError(
            "This server is read-only (replaystore serve --read-only): it does not ingest "
            f"envelopes. Send them to the server that writes the store at {self.root}.",
            503,
        )


def make_app(
    data_dir: str,
    *,
    auth: bool = True,
    ingest: Ingest | None = None,
    public_url: str | None = None,
    read_only: bool = False,
    maintenance: MaintenanceSettings | None = None,
    issue_resolver: IssueResolver | None = None,
    journal: str | None = None,
    engine: EngineConfig | str | None = None,
) -> WsgiApp:
    """The WSGI app serving the store in `data_dir` (every route of ROUTES); a writing app with
    `maintenance` settings also runs the store's background maintenance. `issue_resolver`
    (issue id -> event ids) answers replay-count's `issue.id:[...]`. `journal`:
    where the writer journals (default: writer.journal_dir)."""
    store = Store.open(data_dir, read_only=read_only)
    writer: Writer | None = None
    runner: DeleteJobRunner | None = None
    if ingest is None:
        if read_only:
            ingest = ReadOnlyIngest(store.layout.root)
        else:
            # The writer maintains its own store in the background.
            tasks = [Maintenance(store, maintenance)] if maintenance is not None else []
            runner = DeleteJobRunner(store)  # deletion jobs run in the writer
            ingest = writer = Writer(store, tasks=[*tasks, runner], journal=journal)
    catalog = Catalog(store.layout.root, config=store.config)
    engine_ = open_engine(store, engine)  # DuckDB unless `--engine` says otherwise
    api = Api(store, engine_, catalog, ingest, issue_resolver)
    if runner is not None:
        api.job_started = runner.wake
    return WsgiApp(api, auth=auth, public_url=public_url, writer=writer)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    data_dir: str,
    host: str,
    port: int,
    *,
    auth: bool = True,
    threads: int = 8,
    limits: ServerLimits | None = None,
    public_url: str | None = None,
    read_only: bool = False,
    maintenance: MaintenanceSettings | None = None,
    journal: str | None = None,
    engine: EngineConfig | str | None = None,
) -> None:
    """Serve the HTTP API with waitress until SIGINT/SIGTERM, then drain the journal into the
    tables and release the store. No auth only on loopback. A writing server
    maintains its store (default settings unless given)."""
    if not auth and not _is_loopback(host):
        raise ValueError("--no-auth is only allowed on a loopback address")
    started = time.monotonic()
    late = _LateApp()
    try:  # bind first: a port in use is refused before the store is touched
        server = waitress.create_server(
            late,
            host=host,
            port=port,
            threads=threads,
            ident="replaystore",
            **(limits or ServerLimits()).waitress_options(),
        )
    except OSError as error:
        raise ReplayStoreError(
            f"cannot listen on {host}:{port}: {error.strerror or error}"
        ) from None
    try:
        app = late.app = make_app(
            data_dir,
            auth=auth,
            public_url=public_url,
            read_only=read_only,
            maintenance=maintenance or MaintenanceSettings(),
            journal=journal,
            engine=engine,
        )
    except BaseException:
        server.close()
        raise
    try:
        log.info(
            "replaystore serving http://%s:%s/ store %s (%s), engine %s, %d journal entries "
            "replayed, ready in %.1f s",
            host,
            server.effective_port,
            app.store.layout.root,
            "read-only" if read_only else "writer",
            app.engine.name,
            app.replayed,
            time.monotonic() - started,
        )
        with _stop_on_sigterm():
            server.run()  # returns on KeyboardInterrupt (SIGINT, or SIGTERM below)
        server.close()
        log.info("replaystore stopping: draining the journal into the tables")
    finally:
        app.close()
    log.info("replaystore stopped")


class _LateApp:
    """The WSGI callable handed to waitress before the app exists (requests wait for run())."""

    app: WsgiApp | None = None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        assert self.app is not None, "served before the app was built"
        return self.app(environ, start_response)


class _Stop(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so waitress's loop ends as on Ctrl-C."""


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
