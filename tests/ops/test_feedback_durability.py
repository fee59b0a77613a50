"""Feedback durability against the real server (gunicorn, 2 workers) and a real database (issue #16, item 4).

- 1,000 feedback posts from 16 concurrent clients: every item acknowledged is stored exactly as sent,
  and nothing else is stored.
- SIGKILL of master and workers in the middle of such a load: every acknowledged item is still
  there after the kill, each post is stored whole or not at all, and the service starts again on the
  same database.

SQLite (the default) always; PostgreSQL (the scale-out configuration) when 127.0.0.1:5432 answers.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import requests
from ops_support import Gunicorn, post_json

CLIENTS = 16
POSTS = 1_000
SERVICES = ("brain-metastases", "spinal-metastases", "leptomeningeal-metastases",
            "neuro-oncology-order-select", "neuro-oncology-order-sign")


@dataclass
class Post:
    service: str
    items: list[dict]
    acknowledged: bool = False
    answer: dict = field(default_factory=dict)


def make_post(rnd: random.Random, n: int) -> Post:
    items = []
    for i in range(rnd.randint(1, 3)):
        card = str(uuid.UUID(int=rnd.getrandbits(128)))
        if rnd.random() < 0.5:
            items.append({"card": card, "outcome": "accepted", "acceptedSuggestions": [{"id": f"s-{n}-{i}"}],
                          "outcomeTimestamp": f"2026-11-24T09:{n % 60:02d}:{i:02d}Z"})
        else:
            items.append({"card": card, "outcome": "overridden", "outcomeTimestamp": f"2026-11-24T10:{n % 60:02d}:00+01:00",
                          "overrideReason": {"reason": {"system": "urn:reasons", "code": f"code-{n % 7}",
                                                        "display": f"Reden {n % 7} — ‘quoted’ ✓"},
                                             "userComment": f"post {n} item {i}: O'Brien; DROP TABLE feedback;--"}})
    return Post(service=SERVICES[n % len(SERVICES)], items=items)


def expected_row(post: Post, item: dict) -> tuple:
    """What the store must hold for one acknowledged item (timestamps canonical UTC)."""
    import json

    from cds_service.hooks.validation import _timestamp

    reason = (item.get("overrideReason") or {}).get("reason") or {}
    return (item["card"], post.service, item["outcome"],
            json.dumps([s["id"] for s in item.get("acceptedSuggestions", [])]),
            reason.get("code"), reason.get("display"), reason.get("system"),
            (item.get("overrideReason") or {}).get("userComment"), _timestamp(item["outcomeTimestamp"], "t"))


COLUMNS = ("card_uuid, service_id, outcome, accepted_suggestions, override_code, override_display, "
           "override_system, user_comment, outcome_timestamp")


def stored_rows(database: str) -> list[tuple]:
    if database.startswith("postgresql"):
        import psycopg

        with psycopg.connect(database) as conn:
            return [tuple(r) for r in conn.execute(f"SELECT {COLUMNS} FROM feedback").fetchall()]
    conn = sqlite3.connect(database)
    try:
        return conn.execute(f"SELECT {COLUMNS} FROM feedback").fetchall()
    finally:
        conn.close()


def send_all(server: Gunicorn, posts: list[Post], stop: threading.Event | None = None) -> None:
    local = threading.local()

    def send(post: Post) -> None:
        if stop is not None and stop.is_set():
            return
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        try:
            response = post_json(session, f"{server.url}/cds-services/{post.service}/feedback",
                                 {"feedback": post.items}, timeout=30)
        except requests.RequestException:
            return  # the server went away: not acknowledged
        if response.status_code == 200:
            post.acknowledged = True
            post.answer = response.json()

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, posts))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "feedback.sqlite3")
        return
    yield request.getfixturevalue("pg_url")  # tests/conftest.py: a throwaway schema


def test_1000_concurrent_posts_are_stored_exactly_as_acknowledged(tmp_path, database, capsys):
    rnd = random.Random(16)
    posts = [make_post(rnd, n) for n in range(POSTS)]
    server = Gunicorn(tmp_path, database=database, workers=2, threads=8)
    try:
        started = time.monotonic()
        send_all(server, posts)
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    acknowledged = [p for p in posts if p.acknowledged]
    assert len(acknowledged) == POSTS
    assert all(p.answer == {"stored": len(p.items), "duplicates": 0} for p in acknowledged)
    expected = sorted(expected_row(p, item) for p in acknowledged for item in p.items)
    assert sorted(stored_rows(database)) == expected  # every acknowledged item, exactly, and nothing else
    with capsys.disabled():
        print(f"\n[{'postgresql' if database.startswith('postgresql') else 'sqlite'}] {POSTS} posts from {CLIENTS} clients: {len(expected)} items "
              f"acknowledged, {len(expected)} stored ({elapsed:.1f} s)")


def test_sigkill_during_the_load_loses_no_acknowledged_feedback(tmp_path, database, capsys):
    rnd = random.Random(9)
    posts = [make_post(rnd, n) for n in range(POSTS)]
    server = Gunicorn(tmp_path, database=database, workers=2, threads=8)
    stop = threading.Event()
    sender = threading.Thread(target=send_all, args=(server, posts, stop))
    sender.start()
    deadline = time.monotonic() + 60
    while sum(p.acknowledged for p in posts) < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # SIGKILL to master and both workers, mid-load
    stop.set()
    sender.join(60)
    acknowledged = [p for p in posts if p.acknowledged]
    assert 150 <= len(acknowledged) < POSTS  # the kill really came during the load

    rows = set(stored_rows(database))
    lost = [item for p in acknowledged for item in p.items if expected_row(p, item) not in rows]
    assert lost == []
    # Each post is one transaction: an unacknowledged (in-flight) post is stored whole or not at all.
    for post in posts:
        if not post.acknowledged:
            present = [expected_row(post, item) in rows for item in post.items]
            assert all(present) or not any(present)
    expected_count = sum(len(p.items) for p in acknowledged)

    restarted = Gunicorn(tmp_path, database=database, workers=2, threads=4, log_name="restart.log")
    try:
        again = post_json(requests.Session(), f"{restarted.url}/cds-services/{acknowledged[0].service}/feedback",
                          {"feedback": acknowledged[0].items})
        assert again.json() == {"stored": 0, "duplicates": len(acknowledged[0].items)}
        assert restarted.proc.poll() is None
    finally:
        restarted.stop()
    with capsys.disabled():
        print(f"\n[{'postgresql' if database.startswith('postgresql') else 'sqlite'}] SIGKILL after {len(acknowledged)} acknowledged posts: "
              f"{expected_count} acknowledged items, {expected_count - len(lost)} found after the kill, "
              f"{len(rows)} rows in all (in-flight posts stored whole or not at all)")
