"""Fixtures of the HTTP tests; the helpers they use live in ``hook_support.py``."""

from __future__ import annotations

from typing import Any

import pytest
from hook_support import NOW, make_config, make_engine

from cds_service.app import create_app
from cds_service.engine import Engine


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_engine: uses Engine.load() (the real facts and pathway layers)")


@pytest.fixture
def engine() -> Engine:
    return make_engine()


@pytest.fixture
def make_app(tmp_path, engine):
    """Build an app (closing it afterwards); keyword arguments are Config fields."""
    apps = []

    def build(engine_: Engine | None = None, clock=lambda: NOW, **config_kw: Any):
        app = create_app(make_config(tmp_path, **config_kw), engine=engine_ or engine, clock=clock)
        app.testing = True
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["cds"].close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def real_engine() -> Engine:
    """The production engine: ``Engine.load()`` (mappings, templates, every pathway)."""
    return Engine.load()
