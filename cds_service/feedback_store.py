"""Durable storage of card feedback and of which rule issued each card.

Two tables:

- ``feedback``: what the EHR reported for a card (accepted / overridden, the
  accepted suggestion ids, the override reason and comment, when). One outcome
  per card and outcome: the first report of ``(card, outcome)`` is kept, later
  ones (a retry, or the same card "overridden" again with another timestamp)
  are answered as duplicates. Each post is stored in one transaction.
- ``issued_cards``: card uuid → service, rule id, suggestion uuids, hook, time.
  No patient data. Written off the hot path by a background thread with a
  bounded queue, so the feedback report can say which rule a card came from.

SQLite by default (WAL, busy timeout, one connection guarded by a lock, so
several threads and several gunicorn workers can share the file); a
``postgresql://`` URL selects PostgreSQL via psycopg 3 (the ``scaleout`` extra).

The database may be down at start or fail later: the store then raises
:class:`StoreUnavailable` (the HTTP layer answers 503 with ``Retry-After``) and
reconnects on a later call, so advice never depends on the feedback database.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import sqlite3
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

log = logging.getLogger(__name__)

UNKNOWN_RULE = "(unknown card)"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS feedback (
        id {serial},
        card_uuid TEXT NOT NULL,
        service_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        accepted_suggestions TEXT NOT NULL DEFAULT '[]',
        override_code TEXT,
        override_display TEXT,
        override_system TEXT,
        user_comment TEXT,
        outcome_timestamp TEXT NOT NULL,
        received_at TEXT NOT NULL,
        UNIQUE (card_uuid, outcome, outcome_timestamp)
    )""",
    """CREATE TABLE IF NOT EXISTS issued_cards (
        card_uuid TEXT PRIMARY KEY,
        service_id TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        suggestion_uuids TEXT NOT NULL DEFAULT '[]',
        hook TEXT NOT NULL,
        issued_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS issued_cards_rule ON issued_cards (rule_id)",
    "CREATE INDEX IF NOT EXISTS feedback_card ON feedback (card_uuid)",
)
# One outcome per card and outcome (issue #16: one card "overridden" 5,000 times by varying the
# timestamp). Databases created before this rule keep the first report of each (card, outcome).
_ONE_OUTCOME_INDEX = "feedback_card_outcome"
_ONE_OUTCOME = (
    "DELETE FROM feedback WHERE id NOT IN (SELECT MIN(id) FROM feedback GROUP BY card_uuid, outcome)",
    f"CREATE UNIQUE INDEX IF NOT EXISTS {_ONE_OUTCOME_INDEX} ON feedback (card_uuid, outcome)",
)
RECONNECT_INTERVAL = 2.0  # seconds between connection attempts while the database is down
SCHEMA_LOCK_KEY = 0x6E6F6364  # PostgreSQL advisory lock held while creating the schema
CONNECT_TIMEOUT = 3  # seconds (PostgreSQL): a down database must not hold a feedback post for long


class StoreUnavailable(RuntimeError):
    """The feedback database cannot be opened or reached now (driver missing, server down, path not
    writable): the service answers feedback with 503 and the client retries; the CLI prints one line."""


@dataclass(frozen=True)
class FeedbackItem:
    """One validated entry of a feedback request (``POST …/feedback``)."""

    card: str
    outcome: str  # "accepted" | "overridden"
    outcome_timestamp: str
    accepted_suggestions: tuple[str, ...] = ()
    override_code: str | None = None
    override_display: str | None = None
    override_system: str | None = None
    user_comment: str | None = None


@dataclass(frozen=True)
class IssuedCard:
    card_uuid: str
    service_id: str
    rule_id: str
    hook: str
    issued_at: str
    suggestion_uuids: tuple[str, ...] = ()


def issued_cards_of(response: Mapping[str, Any], service_id: str, hook: str, now: datetime) -> list[IssuedCard]:
    """The cards of a hook response, reduced to what the report needs (rule id, uuids)."""
    issued_at = _iso(now)
    out = []
    for card in response.get("cards", ()):
        uuid = card.get("uuid")
        if not uuid:
            continue
        out.append(IssuedCard(
            card_uuid=uuid,
            service_id=service_id,
            rule_id=((card.get("source") or {}).get("topic") or {}).get("code") or UNKNOWN_RULE,
            hook=hook,
            issued_at=issued_at,
            suggestion_uuids=tuple(s["uuid"] for s in card.get("suggestions", ()) if s.get("uuid")),
        ))
    return out


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Backend:
    """The SQL dialect and connection of one database. Statements are written with ``?``."""

    placeholder = "?"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    insert_ignore = "INSERT OR IGNORE INTO"
    on_conflict = ""

    def __init__(self) -> None:
        self.lock = threading.RLock()

    def sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def insert_all(self, statement: str, rows: Sequence[Sequence[Any]]) -> int:
        """Insert ``rows`` in one transaction; the number of rows actually inserted."""
        raise NotImplementedError

    def has_index(self, name: str) -> bool:
        raise NotImplementedError

    def create_schema(self) -> None:
        with self.lock:
            for statement in _SCHEMA:
                self.execute(statement.format(serial=self.serial))
            if not self.has_index(_ONE_OUTCOME_INDEX):
                for statement in _ONE_OUTCOME:
                    self.execute(statement)


class _SQLite(_Backend):
    def __init__(self, path: str) -> None:
        super().__init__()
        if path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            path = str(Path(path).expanduser())
        self.conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 10000")
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        with self.lock:
            cur = self.conn.execute(statement, tuple(params))
            return cur.rowcount

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany(statement, [tuple(r) for r in rows])
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def insert_all(self, statement: str, rows: Sequence[Sequence[Any]]) -> int:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                inserted = sum(max(self.conn.execute(statement, tuple(r)).rowcount, 0) for r in rows)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return inserted

    def has_index(self, name: str) -> bool:
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)))

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.lock:
            return self.conn.execute(statement, tuple(params)).fetchall()

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def _redact(url: str) -> str:
    """A database URL without its password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class _Postgres(_Backend):
    placeholder = "%s"
    serial = "BIGSERIAL PRIMARY KEY"
    insert_ignore = "INSERT INTO"
    on_conflict = " ON CONFLICT DO NOTHING"

    def __init__(self, url: str) -> None:
        super().__init__()
        self._psycopg = _require_psycopg()
        self.url = url
        self.conn = self._psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)

    def _run(self, fn):
        with self.lock:
            try:
                return fn(self.conn)
            except self._psycopg.OperationalError:
                if not self.conn.closed:
                    raise
                log.warning("feedback store: PostgreSQL connection lost, reconnecting")
                self.conn = self._psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
                return fn(self.conn)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        return self._run(lambda c: c.execute(self.sql(statement), tuple(params)).rowcount)

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]

        def run(c):
            with c.transaction():
                with c.cursor() as cur:
                    cur.executemany(self.sql(statement), rows)

        self._run(run)

    def insert_all(self, statement: str, rows: Sequence[Sequence[Any]]) -> int:
        def run(c):
            with c.transaction():
                with c.cursor() as cur:
                    inserted = 0
                    for row in rows:
                        cur.execute(self.sql(statement), tuple(row))
                        inserted += max(cur.rowcount, 0)
                    return inserted

        return self._run(run)

    def has_index(self, name: str) -> bool:
        return bool(self.query("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?",
                               (name,)))

    def create_schema(self) -> None:
        """One transaction under an advisory lock: workers starting together would otherwise race on
        ``CREATE TABLE IF NOT EXISTS`` (DuplicateTable)."""
        def run(c):
            with c.transaction():
                c.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                for statement in _SCHEMA:
                    c.execute(statement.format(serial=self.serial))
                exists = c.execute("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() "
                                   "AND indexname = %s", (_ONE_OUTCOME_INDEX,)).fetchall()
                if not exists:
                    for statement in _ONE_OUTCOME:
                        c.execute(statement)

        with self.lock:
            self._run(run)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._run(lambda c: c.execute(self.sql(statement), tuple(params)).fetchall())

    def close(self) -> None:
        with self.lock:
            self.conn.close()


_STOP = object()


def _require_psycopg() -> Any:
    """The PostgreSQL driver, or :class:`StoreUnavailable` naming the missing extra: a configuration error
    that stops the service at start (unlike a database that is down, which it waits out)."""
    try:
        import psycopg
    except ImportError:
        raise StoreUnavailable(
            "CDS_DATABASE is a PostgreSQL URL but psycopg is not installed: "
            "pip install 'neuro-onc-cds[scaleout]'"
        ) from None
    return psycopg


class FeedbackStore:
    """Feedback and issued-card records. Thread-safe; call :meth:`close` at shutdown (flushes the queue).

    Built from an open backend (tests) or a ``connect`` factory that is called lazily and again
    after a failure (at most every :data:`RECONNECT_INTERVAL` seconds).
    """

    def __init__(self, backend: _Backend | None = None, *, connect: Callable[[], _Backend] | None = None,
                 backend_name: str = "sqlite", queue_size: int = 10_000) -> None:
        if backend is None and connect is None:
            raise ValueError("FeedbackStore needs a backend or a connect factory")
        self._connect_factory = connect
        self._backend_name = "postgresql" if isinstance(backend, _Postgres) else backend_name
        self._db: _Backend | None = None
        self._db_lock = threading.Lock()
        self._last_attempt = float("-inf")
        if backend is not None:
            backend.create_schema()
            self._db = backend
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._closed = False
        self.dropped = 0  # issued-card records lost because the queue was full or the database down
        ref = weakref.ref(self)
        atexit.register(lambda: (store := ref()) is not None and store.close())

    @classmethod
    def open(cls, database: str, *, lazy: bool = False, **kw: Any) -> "FeedbackStore":
        """``database``: a SQLite file path or a ``postgresql://`` URL.

        ``lazy=True`` (the service) never fails here: a database that is down is connected to on a
        later call. Otherwise (CLI, tests) a database that cannot be opened raises
        :class:`StoreUnavailable` at once (the message names the database, never its password).
        """
        postgres = database.startswith(("postgresql://", "postgres://"))

        def connect() -> _Backend:
            return _Postgres(database) if postgres else _SQLite(database)

        if postgres:
            _require_psycopg()  # a missing driver is a configuration error, even for a lazy store
        store = cls(connect=connect, backend_name="postgresql" if postgres else "sqlite", **kw)
        if lazy:
            store.available()
            return store
        store._last_attempt = float("-inf")
        try:
            store._connect(raise_errors=True)
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 — sqlite3/psycopg/OS errors: one message for the operator
            where = _redact(database) if postgres else database
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise StoreUnavailable(f"feedback database {where} cannot be opened: {detail}") from exc
        return store

    @property
    def backend_name(self) -> str:
        return self._backend_name

    # -- connection ------------------------------------------------------------------
    def _connect(self, raise_errors: bool = False) -> _Backend:
        with self._db_lock:
            if self._db is not None:
                return self._db
            if self._connect_factory is None or self._closed:
                raise StoreUnavailable("the feedback store is closed")
            now = time.monotonic()
            if not raise_errors and now - self._last_attempt < RECONNECT_INTERVAL:
                raise StoreUnavailable("the feedback database is unavailable")
            self._last_attempt = now
            backend = None
            try:
                backend = self._connect_factory()
                backend.create_schema()
            except Exception as exc:
                if backend is not None:
                    _close_quietly(backend)
                if raise_errors:
                    raise
                log.warning("feedback store: cannot connect to the %s database (%s)", self._backend_name,
                            type(exc).__name__)
                raise StoreUnavailable("the feedback database is unavailable") from None
            self._db = backend
            log.info("feedback store: connected to the %s database", self._backend_name)
            return backend

    def _failed(self, backend: _Backend, exc: BaseException) -> StoreUnavailable:
        """A statement failed: drop the connection (the next call reconnects) and say so."""
        log.warning("feedback store: %s database failed (%s)", self._backend_name, type(exc).__name__)
        with self._db_lock:
            if self._db is backend:
                self._db = None
                self._last_attempt = float("-inf")  # the next call may reconnect at once
        _close_quietly(backend)
        return StoreUnavailable("the feedback database is unavailable")

    def _use(self, fn: Callable[[_Backend], Any]) -> Any:
        backend = self._connect()
        try:
            return fn(backend)
        except Exception as exc:
            raise self._failed(backend, exc) from None

    def available(self) -> bool:
        """True when the database answers now (connects when needed; the readiness probe)."""
        try:
            self._use(lambda db: db.query("SELECT 1"))
            return True
        except StoreUnavailable:
            return False

    ping = available

    # -- feedback (synchronous: the EHR gets 200 only once it is stored) ------------
    def add_feedback(self, service_id: str, items: Sequence[FeedbackItem],
                     received_at: datetime | None = None) -> tuple[int, int]:
        """Store the items of one post in one transaction; ``(stored, duplicates)``.

        Raises :class:`StoreUnavailable` when the database cannot be reached: nothing is then
        stored, and nothing may be acknowledged.
        """
        received = _iso(received_at or datetime.now(timezone.utc))
        rows = [(
            item.card, service_id, item.outcome, json.dumps(list(item.accepted_suggestions)),
            item.override_code, item.override_display, item.override_system, item.user_comment,
            item.outcome_timestamp, received,
        ) for item in items]

        def insert(db: _Backend) -> int:
            statement = (
                f"{db.insert_ignore} feedback (card_uuid, service_id, outcome, accepted_suggestions, "
                "override_code, override_display, override_system, user_comment, outcome_timestamp, received_at) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?){db.on_conflict}"
            )
            return db.insert_all(statement, rows)

        stored = self._use(insert)
        return stored, len(items) - stored

    def issued_cards(self, card_uuids: Iterable[str], *, wait_pending: float = 0.0) -> dict[str, IssuedCard]:
        """The issued-card records of ``card_uuids`` that the store knows.

        Records are written off the hot path; with ``wait_pending`` seconds the queue of this
        process is flushed first when some card is not (yet) known.
        """
        wanted = sorted(set(card_uuids))
        if not wanted:
            return {}

        def lookup(db: _Backend) -> dict[str, IssuedCard]:
            marks = ", ".join("?" for _ in wanted)
            rows = db.query(
                "SELECT card_uuid, service_id, rule_id, suggestion_uuids, hook, issued_at FROM issued_cards "
                f"WHERE card_uuid IN ({marks})", wanted)
            return {r[0]: IssuedCard(card_uuid=r[0], service_id=r[1], rule_id=r[2], hook=r[4], issued_at=r[5],
                                     suggestion_uuids=tuple(json.loads(r[3] or "[]"))) for r in rows}

        found = self._use(lookup)
        if len(found) < len(wanted) and wait_pending > 0 and self._writer is not None \
                and self._queue.unfinished_tasks:
            self.flush(wait_pending)
            found = self._use(lookup)
        return found

    # -- issued cards (asynchronous, off the hot path) -------------------------------
    def record_issued(self, cards: Sequence[IssuedCard]) -> None:
        """Queue the cards of one response; never blocks the hook call."""
        if not cards or self._closed:
            return
        self._ensure_writer()
        try:
            self._queue.put_nowait(cards)
        except queue.Full:
            self.dropped += len(cards)
            log.warning("feedback store: issued-card queue full, %d card record(s) dropped", len(cards))

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued issued-card record is written (tests, shutdown)."""
        if self._writer is None:
            return
        if timeout is None:
            self._queue.join()
            return
        with self._queue.all_tasks_done:
            self._queue.all_tasks_done.wait_for(lambda: self._queue.unfinished_tasks == 0, timeout)

    def close(self) -> None:
        if self._closed:
            return
        with self._writer_lock:
            writer = self._writer
        if writer is not None:
            self._queue.put(_STOP)
            writer.join(timeout=30)
        self._closed = True
        with self._db_lock:
            db, self._db = self._db, None
        if db is not None:
            _close_quietly(db)

    def _ensure_writer(self) -> None:
        if self._writer is not None:
            return
        with self._writer_lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="issued-cards-writer", daemon=True)
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(b is _STOP for b in batch)
            rows = [
                (c.card_uuid, c.service_id, c.rule_id, json.dumps(list(c.suggestion_uuids)), c.hook, c.issued_at)
                for cards in batch if cards is not _STOP for c in cards
            ]
            try:
                if rows:
                    self._write_issued(rows)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stop:
                return

    def _write_issued(self, rows: list[tuple]) -> None:
        """Write issued-card rows; while the database is down retry a few times, then drop and count."""
        for attempt in range(3):
            try:
                self._use(lambda db: db.executemany(
                    f"{db.insert_ignore} issued_cards (card_uuid, service_id, rule_id, suggestion_uuids, hook, "
                    f"issued_at) VALUES (?, ?, ?, ?, ?, ?){db.on_conflict}", rows))
                return
            except StoreUnavailable:
                if self._closed or attempt == 2:
                    break
                time.sleep(RECONNECT_INTERVAL)
        self.dropped += len(rows)
        log.warning("feedback store: %d issued-card record(s) dropped (database unavailable)", len(rows))

    # -- reading ---------------------------------------------------------------------
    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._use(lambda db: db.query(statement, params))

    def issued_rule(self, card_uuid: str) -> str | None:
        rows = self._query("SELECT rule_id FROM issued_cards WHERE card_uuid = ?", (card_uuid,))
        return rows[0][0] if rows else None

    def feedback_rows(self) -> list[dict[str, Any]]:
        columns = ("card_uuid", "service_id", "outcome", "accepted_suggestions", "override_code",
                   "override_display", "override_system", "user_comment", "outcome_timestamp", "received_at")
        rows = self._query(f"SELECT {', '.join(columns)} FROM feedback ORDER BY id")
        return [dict(zip(columns, row)) for row in rows]

    def report(self) -> dict[str, dict[str, Any]]:
        """Per rule id: cards shown, accepted, overridden, and override reasons with counts.

        Feedback for a card the store never saw issued is counted under ``(unknown card)``.
        """
        out: dict[str, dict[str, Any]] = {}

        def entry(rule: str) -> dict[str, Any]:
            return out.setdefault(rule, {"shown": 0, "accepted": 0, "overridden": 0, "override_reasons": []})

        for rule, shown in self._query("SELECT rule_id, COUNT(*) FROM issued_cards GROUP BY rule_id"):
            entry(rule)["shown"] = shown
        for rule, outcome, count in self._query(
            "SELECT i.rule_id, f.outcome, COUNT(*) FROM feedback f "
            "LEFT JOIN issued_cards i ON i.card_uuid = f.card_uuid GROUP BY i.rule_id, f.outcome"
        ):
            if outcome in ("accepted", "overridden"):
                entry(rule or UNKNOWN_RULE)[outcome] += count
        for rule, code, display, system, count in self._query(
            "SELECT i.rule_id, f.override_code, MAX(f.override_display), MAX(f.override_system), COUNT(*) "
            "FROM feedback f LEFT JOIN issued_cards i ON i.card_uuid = f.card_uuid "
            "WHERE f.outcome = 'overridden' GROUP BY i.rule_id, f.override_code"
        ):
            reason = {"code": code, "display": display, "system": system, "count": count}
            entry(rule or UNKNOWN_RULE)["override_reasons"].append({k: v for k, v in reason.items() if v is not None})
        for data in out.values():
            data["override_reasons"].sort(key=lambda r: (-r["count"], r.get("code") or ""))
        return dict(sorted(out.items()))


def _close_quietly(backend: _Backend) -> None:
    try:
        backend.close()
    except Exception:  # a broken connection may fail to close; nothing more to do
        pass
