"""Fixtures shared by test folders that have no package of their own."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

PG_BASE = "postgresql://127.0.0.1:5432/test"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A throwaway schema in the local PostgreSQL (dropped afterwards); skips when PostgreSQL is absent."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    schema = f"cds_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    """A PostgreSQL URL whose connections use a throwaway schema (see ``pg_schema``)."""
    return f"{PG_BASE}?options=-csearch_path%3D{pg_schema}"
