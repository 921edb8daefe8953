"""Shared test set-up: import paths, a Hypothesis profile that writes nothing to disk, and a
`make_store` fixture that builds a tiny store from hand-written rows and opens it read-only."""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

TESTS = Path(__file__).resolve().parent
for folder in (TESTS.parent, TESTS):  # the project packages, and tests/helpers.py
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from helpers import build_and_open  # noqa: E402

# No example database and no .hypothesis/ folder in the repository (Hypothesis keeps caches there
# even without a database); no per-example deadline (the first DuckDB query of a run is slower).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "vcd-tests-hypothesis")
settings.register_profile("tests", database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tests")


@pytest.fixture
def make_store(tmp_path):
    """make_store(tables, as_of, name=...) -> an open, read-only Store; closed after the test."""
    opened = []

    def factory(tables: dict, as_of: date, name: str = "store.duckdb"):
        store = build_and_open(tmp_path, tables, as_of, name)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def nav_spy(monkeypatch):
    """The titles of the pages handed to st.navigation on each run, and how often the store was opened."""
    import streamlit as st

    import ui.frame as frame

    seen = {"pages": [], "store_opened": 0}
    real_navigation, real_open = st.navigation, frame._open_cached

    def navigation(pages, *args, **kwargs):
        seen["pages"].append([p.title for p in pages])
        return real_navigation(pages, *args, **kwargs)

    def opened(*args, **kwargs):
        seen["store_opened"] += 1
        return real_open(*args, **kwargs)

    monkeypatch.setattr(st, "navigation", navigation)
    monkeypatch.setattr(frame, "_open_cached", opened)
    return seen
