"""Named queries for what happened after, and around, the entitlements: referral uptake, survey results,
complaints, feedback panels and panel actions. Each builds its SQL in metrics/ (pure) and runs it on the store.

All return aggregates, except the panel and action lists, which hold no victim data but do hold people's
free text (untrusted: escape it wherever it is shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from data_access.store import Store
from metrics.filters import Filters
from metrics.referrals import referral_times_sql, referral_uptake_sql
from metrics.victim_voice import (action_log_sql, complaint_ack_times_sql, complaints_sql, panels_sql,
                                  survey_results_sql)

__all__ = ["referral_uptake", "survey_results", "complaints_by_right", "panels_held", "action_log",
           "referral_times", "complaint_acknowledgement_times"]


def referral_uptake(store: Store, filters: Filters, breakdowns: Sequence[str] = ("total",)) -> pd.DataFrame:
    """Referral funnel counts per service (and 'all') and breakdown level (see metrics.referrals)."""
    sql, params = referral_uptake_sql(filters, breakdowns)
    return store.query(sql, params)


def survey_results(store: Store, filters: Filters, breakdowns: Sequence[str] = ("total",)) -> pd.DataFrame:
    """Survey counts per survey (and 'all') and breakdown level (see metrics.victim_voice)."""
    sql, params = survey_results_sql(filters, breakdowns)
    return store.query(sql, params)


def complaints_by_right(store: Store, filters: Filters) -> pd.DataFrame:
    """Complaints per right and outcome with margins, acknowledged, and median working days to acknowledge."""
    sql, params = complaints_sql(filters)
    frame = store.query(sql, params)
    frame["right_no"] = frame["right_no"].astype("Int64")
    return frame


def panels_held(store: Store, first: date, last: date, as_of: date) -> pd.DataFrame:
    """Feedback panels held from `first` to `last`, with victims heard and findings by kind."""
    sql, params = panels_sql(first, last, as_of)
    frame = store.query(sql, params)
    frame["held_on"] = pd.to_datetime(frame["held_on"])
    frame["victims_heard"] = frame["victims_heard"].astype("Int64")
    return frame


def action_log(store: Store, first: date, last: date, as_of: date) -> pd.DataFrame:
    """Panel actions open on the as-of date, or raised or completed from `first` to `last`; overdue flagged."""
    sql, params = action_log_sql(first, last, as_of)
    frame = store.query(sql, params)
    for column in ("raised_on", "due_on", "completed_on", "panel_held_on"):
        frame[column] = pd.to_datetime(frame[column])
    frame["right_no"] = frame["right_no"].astype("Int64")
    frame["days_overdue"] = frame["days_overdue"].astype("Int64")
    return frame


def referral_times(store: Store, filters: Filters, start: str = "offer") -> pd.DataFrame:
    """Referrals sent per service (and 'all') by working days from the offer or the report (see
    metrics.referrals.referral_times_sql); working_days is NA where there is no start date."""
    sql, params = referral_times_sql(filters, start)
    frame = store.query(sql, params)
    frame["working_days"] = frame["working_days"].astype("Int64")
    return frame


def complaint_acknowledgement_times(store: Store, filters: Filters) -> pd.DataFrame:
    """Complaints received in the period by working days to acknowledgement (NA: not acknowledged by the as-of
    date)."""
    sql, params = complaint_ack_times_sql(filters)
    frame = store.query(sql, params)
    frame["working_days"] = frame["working_days"].astype("Int64")
    return frame
