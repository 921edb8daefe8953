"""Dates to mark on trend charts: feedback panels held, and panel actions completed.

Titles are free text typed by people (untrusted): they come back as plain strings, and whoever shows
them must never render them as HTML or Markdown (ui/charts.py escapes them for Plotly hover text).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from data_access.store import Store

__all__ = ["panel_dates", "completed_actions"]


def panel_dates(store: Store, first: date, last: date) -> pd.DataFrame:
    """Panels held from `first` to `last` (inclusive), in date order: panel_id, held_on (date), title."""
    frame = store.query("""
        SELECT panel_id, held_on, COALESCE(title, '') AS title
        FROM panels
        WHERE held_on BETWEEN $first AND $last
        ORDER BY held_on, panel_id""", {"first": first, "last": last})
    return _dates(frame, "held_on")


def completed_actions(store: Store, first: date, last: date) -> pd.DataFrame:
    """Actions with status 'done' completed from `first` to `last` (inclusive), in date order:
    action_id, completed_on (date), measure (the entitlement or contact-measure code it should move, or
    None), title."""
    frame = store.query("""
        SELECT action_id, completed_on, measure, title
        FROM actions
        WHERE status = 'done' AND completed_on BETWEEN $first AND $last
        ORDER BY completed_on, action_id""", {"first": first, "last": last})
    return _dates(frame, "completed_on")


def _dates(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    frame[column] = pd.to_datetime(frame[column])
    return frame
