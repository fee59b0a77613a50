"""The serving worker's garbage-collector settings (cds_service.gc_tuning)."""

from __future__ import annotations

import gc

import pytest

from cds_service.gc_tuning import GEN0_THRESHOLD, tune_gc_for_serving


@pytest.fixture
def restore_gc():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_freezes_start_up_objects_and_raises_the_first_threshold(restore_gc) -> None:
    start_up = {"loaded": ["at", "start-up"]}
    tune_gc_for_serving()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == GEN0_THRESHOLD > 700
    assert gc.isenabled()
    assert start_up["loaded"]


def test_cycles_are_still_collected(restore_gc) -> None:
    tune_gc_for_serving()

    class Node:
        pass

    import weakref

    a, b = Node(), Node()
    a.other, b.other = b, a
    probe = weakref.ref(a)
    del a, b
    gc.collect()
    assert probe() is None
