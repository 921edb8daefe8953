"""What victims told the force: survey results, complaints by right, feedback panels and the actions they led
to. Pure: (filters, ...) in, (sql, params) out; data_access.outcomes runs them.

Surveys and complaints belong to the period of their own date (responded_at, received_at) and count as of the
as-of date. They are linked to a case, not to a victim, so they can be filtered and broken down by the case's
district, command area and offence group but not by the victim's characteristics: asking for that is an error,
never a silently unfiltered figure. A response or complaint with no case matches no case filter.

Surveys, per survey and for all surveys ('all'): for each question (overall, kept_informed, treated_fairly,
scored 1 to 5) the responses that answered it and those scoring 4 or 5 ("good"); for aware_of_code, those
that answered and those aware of the Code.

Complaints, per right (0 = no right stated) and outcome, with margins (right_no NULL = all rights, outcome
'all' = every outcome): the complaints received, those acknowledged by the as-of date, and the median working
days from receipt to acknowledgement (0 = the same day; weekends and bank holidays are not working days). The
outcome is as of the as-of date: a complaint closed after it, or not closed, is 'open'; one closed with no
outcome recorded is 'not_recorded'.

Panels and actions are force-wide (no filters). Their free text (titles, findings, owners) is returned as
typed: it is untrusted, and whoever shows it must escape it, never render it as HTML or Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from metrics import contract
from metrics.compliance import breakdown_grouping
from metrics.filters import DIMENSIONS, Filters, filter_clauses
from metrics.rates import wilson_interval

__all__ = ["ALL", "CASE_DIMENSIONS", "SURVEY_QUESTIONS", "SURVEY_MEASURES", "SURVEY_COUNT_COLUMNS", "GOOD_SCORE",
           "OPEN_ACTION_STATUSES", "survey_results_sql", "survey_rates", "complaints_sql", "panels_sql",
           "action_log_sql",
           "NOT_STATED", "COMPLAINT_OUTCOME_ORDER", "unsupported_filters", "survey_measure_series",
           "complaint_rates_by_right", "complaint_outcomes", "complaint_crosstab", "complaint_ack_times_sql"]

ALL = "all"
CASE_DIMENSIONS = ("command_area", "district", "offence_group")  # what a case-linked record can be filtered by
SURVEY_QUESTIONS = ("overall", "kept_informed", "treated_fairly")
GOOD_SCORE = 4  # 4 or 5 out of 5 counts as a good answer
# measure -> (label, numerator column, denominator column)
SURVEY_MEASURES: dict[str, tuple[str, str, str]] = {
    "overall": ("Satisfied overall (4-5 of 5)", "overall_good", "overall_answered"),
    "kept_informed": ("Satisfied with being kept informed (4-5 of 5)", "kept_informed_good", "kept_informed_answered"),
    "treated_fairly": ("Felt treated fairly (4-5 of 5)", "treated_fairly_good", "treated_fairly_answered"),
    "aware_of_code": ("Aware of the Victims' Code", "aware_yes", "aware_answered"),
}
SURVEY_COUNT_COLUMNS = ("responses", *(c for _, n, d in SURVEY_MEASURES.values() for c in (d, n)))
OPEN_ACTION_STATUSES = ("proposed", "agreed", "in_progress")
_BREAKDOWN_NAMES = ("total", "month", *CASE_DIMENSIONS)


def _check_case_filters(filters: Filters, breakdowns: Sequence[str], what: str) -> None:
    victim_level = [DIMENSIONS[name].label.lower() for name in filters.active() if name not in CASE_DIMENSIONS]
    if victim_level:
        raise ValueError(f"{what} are linked to a case, not a victim, so they cannot be filtered by "
                         f"{', '.join(victim_level)}")
    unknown = [b for b in breakdowns if b not in _BREAKDOWN_NAMES]
    if unknown or not breakdowns:
        raise ValueError(f"{what} cannot be broken down by {', '.join(unknown) or '(nothing given)'}; "
                         f"choose from {', '.join(_BREAKDOWN_NAMES)}")


def _case_columns() -> str:
    # A record without a case (or a case's district without a command area) is 'unknown' / 'Unassigned'.
    return """COALESCE(k.district, 'unknown') AS district,
           CASE WHEN k.case_id IS NULL THEN 'unknown' ELSE COALESCE(d.command_area, 'Unassigned') END AS command_area,
           COALESCE(k.offence_group, 'unknown') AS offence_group"""


def survey_results_sql(filters: Filters, breakdowns: Sequence[str] = ("total",)) -> tuple[str, dict]:
    """Survey counts per survey (and 'all') and breakdown level, for responses dated in the period.

    Columns: survey, breakdown, level, SURVEY_COUNT_COLUMNS. Breakdowns: total, month (of the response),
    command_area, district, offence_group.
    """
    _check_case_filters(filters, breakdowns, "survey responses")
    params: dict = {"all": ALL, "good": GOOD_SCORE}
    where = filter_clauses(filters, params, "b", "responded_date")
    names = list(dict.fromkeys(breakdowns))
    per_survey, breakdown_expr, level_expr = breakdown_grouping(names, params, keys=("survey",),
                                                                month_column="responded_month")
    all_surveys, _, _ = breakdown_grouping(names, params, month_column="responded_month")
    answered = ",\n       ".join(
        f"count({q}) AS {q}_answered, count(*) FILTER (WHERE {q} >= $good) AS {q}_good" for q in SURVEY_QUESTIONS)
    sql = f"""WITH
survey_base AS (
    SELECT s.response_id, s.survey, s.overall, s.kept_informed, s.treated_fairly, s.aware_of_code,
           CAST(s.responded_at AS DATE)                        AS responded_date,
           CAST(date_trunc('month', s.responded_at) AS DATE)  AS responded_month,
           {_case_columns()}
    FROM surveys s
    LEFT JOIN cases k ON k.case_id = s.case_id
    LEFT JOIN districts d ON d.district = k.district
),
in_scope AS (SELECT * FROM survey_base b WHERE {where})
SELECT CASE WHEN GROUPING(survey) = 0 THEN survey ELSE $all END AS survey,
       {breakdown_expr} AS breakdown,
       CAST({level_expr} AS VARCHAR) AS level,
       count(*) AS responses,
       {answered},
       count(aware_of_code) AS aware_answered,
       count(*) FILTER (WHERE aware_of_code) AS aware_yes
FROM in_scope
GROUP BY GROUPING SETS ({per_survey}, {all_surveys})
ORDER BY breakdown, level, survey"""
    return sql, params


def survey_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Survey counts -> one row per survey, breakdown, level and measure (SURVEY_MEASURES): numerator,
    denominator, rate (NaN where no one answered) and its Wilson 95% interval."""
    parts = []
    for measure, (label, numerator, denominator) in SURVEY_MEASURES.items():
        part = counts[["survey", "breakdown", "level"]].copy()
        part["measure"] = measure
        part["label"] = label
        part["numerator"] = counts[numerator].astype("int64")
        part["denominator"] = counts[denominator].astype("int64")
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    n, x = out["denominator"].to_numpy(float), out["numerator"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"] = np.where(n > 0, x / n, np.nan)
    out["rate_lower"], out["rate_upper"] = wilson_interval(x, n)
    return out


def complaints_sql(filters: Filters) -> tuple[str, dict]:
    """Complaints received in the period per right and outcome, with both margins and the grand total.

    Columns: right_no (0 = not stated, NULL = all rights), outcome ('all' = every outcome), complaints,
    acknowledged, median_working_days_to_acknowledge.
    """
    _check_case_filters(filters, ("total",), "complaints")
    params: dict = {"all": ALL}
    where = filter_clauses(filters, params, "b", "received_date")
    sql = f"""WITH
complaint_base AS (
    SELECT c.complaint_id, COALESCE(c.right_no, 0) AS right_no,
           CAST(c.received_at AS DATE) AS received_date,
           CASE WHEN c.closed_at IS NULL OR CAST(c.closed_at AS DATE) > $as_of THEN 'open'
                ELSE COALESCE(c.outcome, 'not_recorded') END AS outcome,
           CASE WHEN CAST(c.acknowledged_at AS DATE) <= $as_of THEN CAST(c.acknowledged_at AS DATE) END AS acknowledged_date,
           {_case_columns()}
    FROM complaints c
    LEFT JOIN cases k ON k.case_id = c.case_id
    LEFT JOIN districts d ON d.district = k.district
),
in_scope AS (SELECT * FROM complaint_base b WHERE {where}),
timed AS (
    SELECT i.*,
           CASE WHEN i.acknowledged_date IS NOT NULL THEN greatest(ack.wd_seq_next - rec.wd_seq, 0) END
               AS working_days_to_acknowledge
    FROM in_scope i
    LEFT JOIN calendar rec ON rec.day = i.received_date
    LEFT JOIN calendar ack ON ack.day = i.acknowledged_date
)
SELECT CASE WHEN GROUPING(right_no) = 0 THEN right_no END AS right_no,
       CASE WHEN GROUPING(outcome) = 0 THEN outcome ELSE $all END AS outcome,
       count(*) AS complaints,
       count(acknowledged_date) AS acknowledged,
       median(working_days_to_acknowledge) AS median_working_days_to_acknowledge
FROM timed
GROUP BY GROUPING SETS ((right_no, outcome), (right_no), (outcome), ())
ORDER BY right_no NULLS LAST, outcome"""
    return sql, params


def panels_sql(first: date, last: date, as_of: date) -> tuple[str, dict]:
    """Feedback panels held from `first` to `last` (and by the as-of date), in date order, with the victims
    heard (live, recorded or through a support worker; NULL when none of the three was recorded) and their
    findings counted by kind."""
    params = {"first": first, "last": last, "as_of": as_of}
    sql = """
SELECT p.panel_id, p.held_on, COALESCE(p.title, '') AS title, p.themes, p.format,
       CASE WHEN p.victims_live IS NULL AND p.victims_recorded IS NULL AND p.victims_via_support_worker IS NULL
            THEN NULL
            ELSE COALESCE(p.victims_live, 0) + COALESCE(p.victims_recorded, 0) + COALESCE(p.victims_via_support_worker, 0)
       END AS victims_heard,
       p.staff_attendees,
       count(f.finding_id) FILTER (WHERE f.kind = 'concern')    AS concerns,
       count(f.finding_id) FILTER (WHERE f.kind = 'suggestion') AS suggestions,
       count(f.finding_id) FILTER (WHERE f.kind = 'praise')     AS praise
FROM panels p
LEFT JOIN panel_findings f ON f.panel_id = p.panel_id
WHERE p.held_on BETWEEN $first AND $last AND p.held_on <= $as_of
GROUP BY ALL
ORDER BY p.held_on, p.panel_id"""
    return sql, params


def action_log_sql(first: date, last: date, as_of: date) -> tuple[str, dict]:
    """Panel actions a board reviews: every action still open on the as-of date, and those raised or completed
    from `first` to `last`; overdue ones first (longest overdue first), then by due date.

    The status is as of the as-of date (an action completed after it was still in progress). Overdue = open
    and due before the as-of date. Columns: action_id, title, owner, raised_on, due_on, status, completed_on,
    measure, overdue, days_overdue, finding_kind, right_no, finding_summary, panel_held_on, panel_title.
    """
    params = {"first": first, "last": last, "as_of": as_of, "open_statuses": list(OPEN_ACTION_STATUSES)}
    sql = """
WITH actions_as_of AS (
    SELECT a.*,
           CASE WHEN a.status = 'done' AND a.completed_on > $as_of THEN 'in_progress' ELSE a.status END AS status_as_of
    FROM actions a
    WHERE a.raised_on <= $as_of
)
SELECT a.action_id, a.title, a.owner, a.raised_on, a.due_on, a.status_as_of AS status,
       CASE WHEN a.completed_on <= $as_of THEN a.completed_on END AS completed_on, a.measure,
       COALESCE(list_contains($open_statuses, a.status_as_of) AND a.due_on < $as_of, false) AS overdue,
       CASE WHEN list_contains($open_statuses, a.status_as_of) AND a.due_on < $as_of
            THEN CAST($as_of - a.due_on AS INTEGER) END AS days_overdue,
       f.kind AS finding_kind, f.right_no, f.summary AS finding_summary,
       p.held_on AS panel_held_on, p.title AS panel_title
FROM actions_as_of a
LEFT JOIN panel_findings f ON f.finding_id = a.finding_id
LEFT JOIN panels p ON p.panel_id = f.panel_id
WHERE list_contains($open_statuses, a.status_as_of)
   OR a.raised_on BETWEEN $first AND $last
   OR (a.completed_on BETWEEN $first AND $last AND a.completed_on <= $as_of)
ORDER BY overdue DESC, days_overdue DESC NULLS LAST, a.due_on NULLS LAST, a.action_id"""
    return sql, params


# --- for the Victim voice page -------------------------------------------------------------------------------

NOT_STATED = 0  # complaints_sql's right_no for a complaint that names no right
# Outcomes as of the as-of date, in the order a reader follows a complaint: still open, then how it ended.
COMPLAINT_OUTCOME_ORDER = (*contract.COMPLAINT_OUTCOMES, "not_recorded")


def unsupported_filters(filters: Filters) -> list[str]:
    """The active filters that survey responses and complaints cannot follow (the victim's characteristics),
    by their labels; empty when every active filter is a case's."""
    return [DIMENSIONS[name].label for name in filters.active() if name not in CASE_DIMENSIONS]


def survey_measure_series(rates: pd.DataFrame, measure: str, survey: str = ALL) -> pd.DataFrame:
    """survey_rates' month rows for one measure and survey, with 'month' (the first day of each month)."""
    rows = rates[(rates["breakdown"] == "month") & (rates["measure"] == measure) & (rates["survey"] == survey)]
    return rows.assign(month=pd.to_datetime(rows["level"] + "-01")).reset_index(drop=True)


def _with_rate(frame: pd.DataFrame, numerator: str, denominator: str, rate: str) -> pd.DataFrame:
    n, x = frame[denominator].to_numpy(float), frame[numerator].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame[rate] = np.where(n > 0, x / n, np.nan)
    frame[f"{rate}_lower"], frame[f"{rate}_upper"] = wilson_interval(x, n)
    return frame


def complaint_rates_by_right(complaints: pd.DataFrame) -> pd.DataFrame:
    """complaints_sql's rows -> one row per right named (in number order; 0 = no right stated, last) and one for
    all complaints (right_no NA): complaints, acknowledged, acknowledged_rate with its Wilson interval, and the
    median working days to acknowledge."""
    rows = complaints[complaints["outcome"] == ALL].copy()
    rows["_order"] = rows["right_no"].map(lambda r: 99 if pd.isna(r) else 13 if int(r) == NOT_STATED else int(r))
    rows = rows.sort_values("_order", kind="stable").drop(columns="_order")
    out = rows[["right_no", "complaints", "acknowledged", "median_working_days_to_acknowledge"]].copy()
    return _with_rate(out.reset_index(drop=True), "acknowledged", "complaints", "acknowledged_rate")


def complaint_outcomes(complaints: pd.DataFrame) -> pd.DataFrame:
    """complaints_sql's rows -> one row per outcome as of the as-of date (COMPLAINT_OUTCOME_ORDER, only those
    with complaints) and one for all ('all', last): complaints, acknowledged and the median working days."""
    rows = complaints[complaints["right_no"].isna()].copy()
    order = {o: i for i, o in enumerate((*COMPLAINT_OUTCOME_ORDER, ALL))}
    rows["_order"] = rows["outcome"].map(lambda o: order.get(o, len(order) - 1.5))
    rows = rows.sort_values(["_order", "outcome"], kind="stable").drop(columns="_order")
    return rows[["outcome", "complaints", "acknowledged", "median_working_days_to_acknowledge"]].reset_index(drop=True)


def complaint_crosstab(complaints: pd.DataFrame) -> pd.DataFrame:
    """Complaints by right (rows, number order, 0 last) and outcome (columns, COMPLAINT_OUTCOME_ORDER), with
    the margins complaints_sql gives ('all' column, and a row with right_no NA for all rights)."""
    rows = complaints.copy()
    rows["right_key"] = rows["right_no"].map(lambda r: -1 if pd.isna(r) else int(r))
    wide = rows.pivot_table(index="right_key", columns="outcome", values="complaints", aggfunc="sum", fill_value=0)
    columns = [o for o in COMPLAINT_OUTCOME_ORDER if o in wide.columns]
    columns += sorted(c for c in wide.columns if c not in columns and c != ALL) + [ALL]
    wide = wide.reindex(columns=columns, fill_value=0)
    order = sorted(wide.index, key=lambda r: 99 if r == -1 else 13 if r == NOT_STATED else r)
    wide = wide.loc[order].reset_index()
    wide.insert(0, "right_no", pd.array([None if r == -1 else r for r in wide.pop("right_key")], dtype="Int64"))
    wide.columns.name = None
    return wide


def complaint_ack_times_sql(filters: Filters) -> tuple[str, dict]:
    """Complaints received in the period by working days from receipt to acknowledgement (0 = the same day;
    NULL = not acknowledged by the as-of date). Columns: working_days, complaints."""
    _check_case_filters(filters, ("total",), "complaints")
    params: dict = {}
    where = filter_clauses(filters, params, "b", "received_date")
    sql = f"""WITH
complaint_base AS (
    SELECT c.complaint_id, CAST(c.received_at AS DATE) AS received_date,
           CASE WHEN CAST(c.acknowledged_at AS DATE) <= $as_of THEN CAST(c.acknowledged_at AS DATE) END AS acknowledged_date,
           {_case_columns()}
    FROM complaints c
    LEFT JOIN cases k ON k.case_id = c.case_id
    LEFT JOIN districts d ON d.district = k.district
),
in_scope AS (SELECT * FROM complaint_base b WHERE {where})
SELECT CASE WHEN i.acknowledged_date IS NOT NULL THEN greatest(ack.wd_seq_next - rec.wd_seq, 0) END AS working_days,
       count(*) AS complaints
FROM in_scope i
LEFT JOIN calendar rec ON rec.day = i.received_date
LEFT JOIN calendar ack ON ack.day = i.acknowledged_date
GROUP BY ALL
ORDER BY working_days NULLS LAST"""
    return sql, params
