"""FeedbackStore: durable feedback, duplicates, issued cards written off the hot path, the report.

Every behaviour runs against SQLite and, when the local PostgreSQL server
(127.0.0.1:5432, db ``test``) is reachable, against PostgreSQL too.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone

import pytest

from cds_service.feedback_store import (
    UNKNOWN_RULE,
    FeedbackItem,
    FeedbackStore,
    IssuedCard,
    StoreUnavailable,
    issued_cards_of,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A database location (SQLite file or PostgreSQL URL) that can be opened several times."""
    if request.param == "sqlite":
        yield str(tmp_path / "sub" / "feedback.sqlite3")
        return
    yield request.getfixturevalue("pg_url")  # tests/conftest.py: a throwaway schema


@pytest.fixture
def store(database):
    s = FeedbackStore.open(database)
    yield s
    s.close()


def accepted(card: str, ts: str = "2026-11-24T09:05:00.000Z", *suggestions: str) -> FeedbackItem:
    return FeedbackItem(card=card, outcome="accepted", outcome_timestamp=ts,
                        accepted_suggestions=suggestions or ("s-1",))


def overridden(card: str, code: str | None = "emergency", ts: str = "2026-11-24T09:06:00.000Z",
               comment: str | None = None) -> FeedbackItem:
    return FeedbackItem(card=card, outcome="overridden", outcome_timestamp=ts, override_code=code,
                        override_display=code and code.title(), override_system=code and "urn:x",
                        user_comment=comment)


def issued(card: str, rule: str, service: str = "brain-metastases") -> IssuedCard:
    return IssuedCard(card_uuid=card, service_id=service, rule_id=rule, hook="patient-view",
                      issued_at="2026-11-24T09:00:00.000Z", suggestion_uuids=("s-1",))


def test_feedback_is_stored_with_every_field(store):
    stored, duplicates = store.add_feedback("brain-metastases", [
        overridden("c1", comment="besproken"), accepted("c2", "2026-11-24T09:05:00.000Z", "s-1", "s-2"),
    ], received_at=NOW)
    assert (stored, duplicates) == (2, 0)
    rows = store.feedback_rows()
    assert rows == [
        {"card_uuid": "c1", "service_id": "brain-metastases", "outcome": "overridden", "accepted_suggestions": "[]",
         "override_code": "emergency", "override_display": "Emergency", "override_system": "urn:x",
         "user_comment": "besproken", "outcome_timestamp": "2026-11-24T09:06:00.000Z",
         "received_at": "2026-11-24T09:00:00.000Z"},
        {"card_uuid": "c2", "service_id": "brain-metastases", "outcome": "accepted",
         "accepted_suggestions": '["s-1", "s-2"]', "override_code": None, "override_display": None,
         "override_system": None, "user_comment": None, "outcome_timestamp": "2026-11-24T09:05:00.000Z",
         "received_at": "2026-11-24T09:00:00.000Z"},
    ]


def test_one_outcome_per_card_and_outcome(store):
    assert store.add_feedback("brain-metastases", [accepted("c1")]) == (1, 0)
    assert store.add_feedback("brain-metastases", [accepted("c1"), accepted("c1")]) == (0, 2)
    # Same card and outcome at another moment: still the one report (no 5,000 overrides of one card).
    assert store.add_feedback("brain-metastases", [accepted("c1", "2026-11-24T10:00:00.000Z")]) == (0, 1)
    assert store.add_feedback("brain-metastases", [
        overridden("c1", ts=f"2026-11-24T10:{m:02d}:00.000Z") for m in range(50)]) == (1, 49)
    rows = store.feedback_rows()
    assert [(r["outcome"], r["outcome_timestamp"]) for r in rows] == [
        ("accepted", "2026-11-24T09:05:00.000Z"), ("overridden", "2026-11-24T10:00:00.000Z")]


def test_older_databases_keep_the_first_report_per_card_and_outcome(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)  # the schema before one-outcome-per-card, with repeated overrides
    conn.execute("""CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, card_uuid TEXT NOT NULL,
        service_id TEXT NOT NULL, outcome TEXT NOT NULL, accepted_suggestions TEXT NOT NULL DEFAULT '[]',
        override_code TEXT, override_display TEXT, override_system TEXT, user_comment TEXT,
        outcome_timestamp TEXT NOT NULL, received_at TEXT NOT NULL, UNIQUE (card_uuid, outcome, outcome_timestamp))""")
    for minute in (1, 2, 3):
        conn.execute("INSERT INTO feedback (card_uuid, service_id, outcome, outcome_timestamp, received_at) "
                     "VALUES ('c1', 's', 'overridden', ?, 'r')", (f"2026-11-24T09:0{minute}:00.000Z",))
    conn.commit()
    conn.close()
    s = FeedbackStore.open(str(path))
    try:
        assert [r["outcome_timestamp"] for r in s.feedback_rows()] == ["2026-11-24T09:01:00.000Z"]
        assert s.add_feedback("s", [overridden("c1", ts="2026-11-24T09:09:00.000Z")]) == (0, 1)
    finally:
        s.close()


def test_a_post_is_stored_in_one_transaction(store):
    items = [accepted("a1"), accepted("a2")]
    original = store._db.insert_all

    def failing_after_first(statement, rows):
        return original(statement, [rows[0], (None,)])  # the second row cannot be bound

    store._db.insert_all = failing_after_first
    with pytest.raises(StoreUnavailable):
        store.add_feedback("brain-metastases", items)
    assert store.available()  # reconnected
    assert store.feedback_rows() == []  # the first row was rolled back with the second


def test_a_database_down_at_start_is_connected_later(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the database directory should be")
    s = FeedbackStore.open(str(blocker / "feedback.sqlite3"), lazy=True)  # never raises
    try:
        assert s.available() is False
        with pytest.raises(StoreUnavailable):
            s.add_feedback("brain-metastases", [accepted("c1")])
        blocker.unlink()
        s._last_attempt = float("-inf")  # skip the reconnect interval
        assert s.available() is True
        assert s.add_feedback("brain-metastases", [accepted("c1")]) == (1, 0)
    finally:
        s.close()


def test_open_without_lazy_fails_loudly(tmp_path):
    blocker = tmp_path / "f"
    blocker.write_text("x")
    with pytest.raises(Exception):
        FeedbackStore.open(str(blocker / "feedback.sqlite3"))


def test_issued_cards_lookup_waits_for_this_process_queue(store):
    store.record_issued([issued("c1", "BM-MDO-NEURO")])
    found = store.issued_cards(["c1", "never"], wait_pending=5)
    assert set(found) == {"c1"}
    assert found["c1"].service_id == "brain-metastases" and found["c1"].suggestion_uuids == ("s-1",)


def test_report_per_rule(store):
    store.record_issued([issued("c1", "BM-MDO-NEURO"), issued("c2", "BM-MDO-NEURO"), issued("c3", "DATA-MISSING"),
                         issued("c4", "BM-MDO-NEURO"), issued("c5", "BM-MDO-NEURO")])
    store.flush()
    store.add_feedback("brain-metastases", [
        accepted("c1"),
        overridden("c2", "emergency"),
        overridden("c2", "already-arranged", ts="2026-11-24T09:07:00.000Z"),  # the same card again: ignored
        overridden("c4", "emergency", ts="2026-11-24T09:07:00.000Z"),
        overridden("c5", "already-arranged", ts="2026-11-24T09:08:00.000Z"),
        overridden("c9", None),  # a card this store never saw issued, overridden without reason
    ])
    assert store.report() == {
        UNKNOWN_RULE: {"shown": 0, "accepted": 0, "overridden": 1, "override_reasons": [{"count": 1}]},
        "BM-MDO-NEURO": {
            "shown": 4, "accepted": 1, "overridden": 3,
            "override_reasons": [
                {"code": "emergency", "display": "Emergency", "system": "urn:x", "count": 2},
                {"code": "already-arranged", "display": "Already-Arranged", "system": "urn:x", "count": 1},
            ],
        },
        "DATA-MISSING": {"shown": 1, "accepted": 0, "overridden": 0, "override_reasons": []},
    }


def test_everything_survives_reopening(database):
    first = FeedbackStore.open(database)
    first.record_issued([issued("c1", "SM-MRI-URGENT", "spinal-metastases")])
    first.add_feedback("spinal-metastases", [accepted("c1")])
    first.close()  # flushes the issued-card queue
    second = FeedbackStore.open(database)
    try:
        assert second.issued_rule("c1") == "SM-MRI-URGENT"
        assert second.report()["SM-MRI-URGENT"]["accepted"] == 1
        assert second.add_feedback("spinal-metastases", [accepted("c1")]) == (0, 1)
    finally:
        second.close()


def test_issued_cards_are_written_by_a_background_thread(store):
    main = threading.get_ident()
    writers = []
    original = store._db.executemany

    def spy(statement, rows):
        writers.append(threading.get_ident())
        return original(statement, rows)

    store._db.executemany = spy
    store.record_issued([issued("c1", "BM-MDO-NEURO")])
    store.flush()
    assert writers and all(w != main for w in writers)
    assert store.issued_rule("c1") == "BM-MDO-NEURO"


def test_issued_duplicates_are_ignored(store):
    store.record_issued([issued("c1", "BM-MDO-NEURO")])
    store.record_issued([issued("c1", "BM-MDO-NEURO")])
    store.flush()
    assert store.report()["BM-MDO-NEURO"]["shown"] == 1


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    s = FeedbackStore.open(str(tmp_path / "f.sqlite3"), queue_size=1)
    s._ensure_writer = lambda: None  # no writer: the queue stays full
    s.record_issued([issued("c1", "A")])
    s.record_issued([issued("c2", "B"), issued("c3", "B")])
    assert s.dropped == 2
    s._closed = True
    s._db.close()


def test_concurrent_feedback_from_many_threads(store):
    def work(n: int) -> None:
        for i in range(20):
            store.add_feedback("brain-metastases", [accepted(f"t{n}-{i}"), accepted(f"t{n}-{i}")])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.feedback_rows()) == 120


def test_sqlite_uses_wal_and_creates_the_directory(tmp_path):
    path = tmp_path / "deep" / "dir" / "feedback.sqlite3"
    s = FeedbackStore.open(str(path))
    s.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_issued_cards_of_a_response_keeps_no_patient_data():
    response = {"cards": [
        {"uuid": "u1", "summary": "Patient Jansen …", "indicator": "warning", "source": {
            "label": "x", "topic": {"system": "s", "code": "BM-MDO-NEURO"}},
         "suggestions": [{"label": "a", "uuid": "s1"}, {"label": "b", "uuid": "s2"}],
         "selectionBehavior": "at-most-one"},
        {"summary": "no uuid", "indicator": "info", "source": {"label": "x"}},
    ]}
    assert issued_cards_of(response, "brain-metastases", "patient-view", NOW) == [
        IssuedCard(card_uuid="u1", service_id="brain-metastases", rule_id="BM-MDO-NEURO", hook="patient-view",
                   issued_at="2026-11-24T09:00:00.000Z", suggestion_uuids=("s1", "s2")),
    ]


def test_ping_and_backend_name(store, database):
    assert store.ping() is True
    assert store.backend_name == ("postgresql" if database.startswith("postgresql") else "sqlite")
