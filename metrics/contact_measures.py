"""Measures from the contact log (see `contact_measures` in catalogue.yaml), built as SQL. Pure.

One row of facts per victim whose crime was reported in the period (and matches the filters):
  - first contact: the victim's earliest recorded contact, in working days and working hours after the
    report; within the force standard, late, or not yet due (no contact yet, still inside the standard);
  - updates: over a fixed window (the first `update_window_days` after the report, or until the case
    closed if sooner), the longest gap in calendar days between the report, each update contact and the
    end of the window, computed with LAG over the victim's contacts; kept, not kept (with days overdue),
    not yet due (90 days had not passed by the as-of date), closed early (the case closed within the
    agreed frequency, so no update was owed) or not investigated (a decision not to investigate was
    recorded). The fixed window keeps recent months comparable with older ones;
  - face to face: whether an enhanced-rights victim had a face-to-face contact.
Contacts dated after the as-of date, before the report or after the case closed are ignored, so a gap is
never negative and a victim is never counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from metrics.catalogue import Catalogue
from metrics.compliance import BREAKDOWNS, breakdown_grouping
from metrics.filters import Filters, filter_clauses
from metrics.rates import wilson_interval

__all__ = ["NOT_INVESTIGATED_CODE", "victim_contact_sql", "overdue_updates_sql", "channel_mix_sql",
           "contact_measure_rates", "CONTACT_COUNT_COLUMNS"]

NOT_INVESTIGATED_CODE = "r6_decision_not_to_investigate"
CONTACT_COUNT_COLUMNS = (
    "victims", "contacts", "initial_eligible", "initial_within", "initial_not_yet_due",
    "updates_eligible", "updates_kept", "updates_not_yet_due", "updates_not_investigated", "updates_closed_early",
    "f2f_eligible", "f2f_with", "victims_face_to_face",
)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _victim_facts_ctes(catalogue: Catalogue, filters: Filters, params: dict, *, period_filter: bool = True) -> str:
    settings = catalogue.contact_log
    if settings is None:
        raise ValueError("the catalogue has no contact_log settings")
    start, end = (_minutes(t) for t in settings.working_hours)
    params.update(
        default_frequency=settings.default_update_frequency_days,
        update_window=settings.update_window_days,
        initial_standard=settings.initial_contact_standard_working_days,
        update_kinds=list(settings.update_kinds),
        f2f_kinds=list(settings.face_to_face_kinds),
        f2f_channels=list(settings.face_to_face_channels),
        day_start=start, day_end=end,
        not_investigated=NOT_INVESTIGATED_CODE,
        as_of=filters.as_of,
    )
    where = filter_clauses(filters, params, "v", "report_date", period=period_filter)
    return f"""WITH
-- step 1: victims in scope, with the dimensions the filters use and the window their updates are judged over
victim_base AS (
    SELECT v.victim_id, v.case_id, k.reported_at,
           CAST(k.reported_at AS DATE)                                    AS report_date,
           CAST(date_trunc('month', k.reported_at) AS DATE)              AS report_month,
           -- a closure after the as-of date had not happened yet
           CASE WHEN CAST(k.closed_at AS DATE) <= $as_of THEN k.closed_at END AS closed_at,
           COALESCE(v.update_frequency_days, $default_frequency)          AS frequency_days,
           CASE WHEN v.enhanced_category IS NULL THEN 'standard' ELSE 'enhanced' END AS victim_type,
           COALESCE(v.age_band, 'unknown') AS age_band, COALESCE(v.sex, 'unknown') AS sex,
           COALESCE(v.ethnicity, 'unknown') AS ethnicity, COALESCE(v.disability, 'unknown') AS disability,
           k.district, COALESCE(d.command_area, 'Unassigned') AS command_area, k.offence_group, k.team
    FROM victims v
    JOIN cases k ON k.case_id = v.case_id
    LEFT JOIN districts d ON d.district = k.district
),
in_scope AS (
    SELECT v.*,
           -- contacts count until the case closed or the as-of date
           LEAST(COALESCE(CAST(v.closed_at AS DATE), $as_of), $as_of) AS window_end,
           -- updates are judged over the first $update_window days, or until the case closed if sooner
           LEAST(v.report_date + $update_window, COALESCE(CAST(v.closed_at AS DATE), v.report_date + $update_window))
               AS update_end,
           v.victim_id IN (SELECT victim_id FROM entitlements WHERE entitlement = $not_investigated) AS not_investigated
    FROM victim_base v
    WHERE {where}
),
-- step 2: the contacts that count: by the as-of date, not before the report, not after the case closed
contacts_in_scope AS (
    SELECT c.victim_id, c.contact_at, CAST(c.contact_at AS DATE) AS contact_date, c.kind, c.channel
    FROM contacts c
    JOIN in_scope v ON v.victim_id = c.victim_id
    WHERE CAST(c.contact_at AS DATE) BETWEEN v.report_date AND v.window_end
      AND c.contact_at >= v.reported_at
      AND (v.closed_at IS NULL OR c.contact_at <= v.closed_at)
),
-- step 3: per victim, the first contact, the number of contacts and any face-to-face contact
per_victim AS (
    SELECT victim_id, min(contact_at) AS first_contact_at, count(*) AS contacts,
           bool_or(list_contains($f2f_kinds, kind) OR list_contains($f2f_channels, channel)) AS face_to_face
    FROM contacts_in_scope
    GROUP BY victim_id
),
-- step 4: gaps between the report, each update and the end of the window (LAG over each victim's days)
update_days AS (
    SELECT c.victim_id, c.contact_date AS day
    FROM contacts_in_scope c JOIN in_scope v USING (victim_id)
    WHERE list_contains($update_kinds, c.kind) AND c.contact_date <= v.update_end
    UNION ALL SELECT victim_id, report_date FROM in_scope
    UNION ALL SELECT victim_id, update_end FROM in_scope WHERE update_end <= $as_of
),
gaps AS (
    SELECT victim_id, day - lag(day) OVER (PARTITION BY victim_id ORDER BY day) AS gap_days
    FROM update_days
),
longest_gap AS (SELECT victim_id, max(gap_days) AS longest_gap_days FROM gaps GROUP BY victim_id),
-- step 5: each victim's measures
victim_facts AS (
    SELECT v.*, p.first_contact_at, COALESCE(p.contacts, 0) AS contacts, COALESCE(p.face_to_face, false) AS face_to_face,
           g.longest_gap_days,
           -- working days after the report day (0 = the same day), by the on-time rule of the entitlements
           CASE WHEN p.first_contact_at IS NOT NULL
                THEN greatest(fc.wd_seq_next - rd.wd_seq, 0) END AS initial_working_days,
           CASE WHEN p.first_contact_at IS NULL THEN NULL
                WHEN v.report_date = CAST(p.first_contact_at AS DATE) THEN
                    CASE WHEN rd.is_working_day THEN greatest(
                        least(greatest(hour(p.first_contact_at) * 60 + minute(p.first_contact_at), $day_start), $day_end)
                        - least(greatest(hour(v.reported_at) * 60 + minute(v.reported_at), $day_start), $day_end), 0)
                    ELSE 0 END
                ELSE (CASE WHEN rd.is_working_day THEN $day_end
                           - least(greatest(hour(v.reported_at) * 60 + minute(v.reported_at), $day_start), $day_end) ELSE 0 END)
                   + (CASE WHEN fc.is_working_day THEN
                           least(greatest(hour(p.first_contact_at) * 60 + minute(p.first_contact_at), $day_start), $day_end)
                           - $day_start ELSE 0 END)
                   + (fc.wd_seq - CAST(fc.is_working_day AS INTEGER) - rd.wd_seq) * ($day_end - $day_start)
           END / 60.0 AS initial_working_hours,
           CASE WHEN p.first_contact_at IS NOT NULL
                     AND fc.wd_seq_next <= rd.wd_seq + $initial_standard THEN 'within'
                WHEN p.first_contact_at IS NULL AND a.as_of_wd_seq < rd.wd_seq + $initial_standard THEN 'not_yet_due'
                ELSE 'not_within' END AS initial_status,
           CASE WHEN v.not_investigated THEN 'not_investigated'
                -- judged only once the whole window has passed, closed or not, so every month's victims
                -- are the same mix of early and late closures
                WHEN v.report_date + $update_window > $as_of THEN 'not_yet_due'
                WHEN v.update_end - v.report_date <= v.frequency_days THEN 'closed_early'
                WHEN g.longest_gap_days <= v.frequency_days THEN 'kept'
                ELSE 'not_kept' END AS update_status,
           greatest(g.longest_gap_days - v.frequency_days, 0) AS days_overdue
    FROM in_scope v
    LEFT JOIN per_victim p ON p.victim_id = v.victim_id
    LEFT JOIN longest_gap g ON g.victim_id = v.victim_id
    LEFT JOIN calendar rd ON rd.day = v.report_date
    LEFT JOIN calendar fc ON fc.day = CAST(p.first_contact_at AS DATE)
    CROSS JOIN (SELECT COALESCE(max(wd_seq), 0) AS as_of_wd_seq FROM calendar WHERE day <= $as_of) a
)"""


def victim_contact_sql(catalogue: Catalogue, filters: Filters, breakdowns: Sequence[str] = ("total",)) -> tuple[str, dict]:
    """Counts and medians of the contact measures per breakdown level, from one scan of the victim facts.

    Columns: breakdown, level, CONTACT_COUNT_COLUMNS, and medians initial_working_days_median,
    initial_working_hours_median (victims with a contact) and days_overdue_median (victims not kept).
    """
    unknown = [b for b in breakdowns if b not in BREAKDOWNS]
    if unknown or not breakdowns:
        raise ValueError(f"unknown breakdown(s): {', '.join(unknown) or '(none given)'}")
    params: dict = {}
    ctes = _victim_facts_ctes(catalogue, filters, params)
    names = list(dict.fromkeys(breakdowns))
    # A victim's month is the month their crime was reported.
    grouping_sets, breakdown_expr, level_expr = breakdown_grouping(names, params, month_column="report_month")
    sql = f"""{ctes}
SELECT {breakdown_expr} AS breakdown,
       CAST({level_expr} AS VARCHAR) AS level,
       count(*)                                                         AS victims,
       sum(contacts)                                                    AS contacts,
       count(*) FILTER (WHERE initial_status <> 'not_yet_due')          AS initial_eligible,
       count(*) FILTER (WHERE initial_status = 'within')                AS initial_within,
       count(*) FILTER (WHERE initial_status = 'not_yet_due')           AS initial_not_yet_due,
       count(*) FILTER (WHERE update_status IN ('kept', 'not_kept'))    AS updates_eligible,
       count(*) FILTER (WHERE update_status = 'kept')                   AS updates_kept,
       count(*) FILTER (WHERE update_status = 'not_yet_due')            AS updates_not_yet_due,
       count(*) FILTER (WHERE update_status = 'not_investigated')       AS updates_not_investigated,
       count(*) FILTER (WHERE update_status = 'closed_early')           AS updates_closed_early,
       count(*) FILTER (WHERE victim_type = 'enhanced')                 AS f2f_eligible,
       count(*) FILTER (WHERE victim_type = 'enhanced' AND face_to_face) AS f2f_with,
       count(*) FILTER (WHERE face_to_face)                             AS victims_face_to_face,
       median(initial_working_days)                                     AS initial_working_days_median,
       median(initial_working_hours)                                    AS initial_working_hours_median,
       median(days_overdue) FILTER (WHERE update_status = 'not_kept')   AS days_overdue_median
FROM victim_facts
GROUP BY GROUPING SETS ({grouping_sets})
ORDER BY breakdown, level"""
    return sql, params


def channel_mix_sql(catalogue: Catalogue, filters: Filters, breakdown: str = "total") -> tuple[str, dict]:
    """Contacts by channel (and level of one breakdown) for victims in scope."""
    if breakdown not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown: {breakdown}")
    params: dict = {}
    ctes = _victim_facts_ctes(catalogue, filters, params)
    column = "report_month" if breakdown == "month" else BREAKDOWNS[breakdown][0]
    level = "'all'" if not column else ("strftime(v.report_month, '%Y-%m')" if breakdown == "month" else f"v.{column}")
    sql = f"""{ctes}
SELECT CAST({level} AS VARCHAR) AS level, COALESCE(c.channel, 'not recorded') AS channel, count(*) AS contacts
FROM contacts_in_scope c JOIN in_scope v USING (victim_id)
GROUP BY ALL
ORDER BY level, channel"""
    return sql, params


def overdue_updates_sql(catalogue: Catalogue, filters: Filters, limit: int, offset: int) -> tuple[str, dict]:
    """Victims of open, investigated cases whose last update is older than their agreed frequency, as of the
    as-of date, most overdue first, one page at a time; plus the total in a `total_rows` column.

    The period filter does not apply (a victim reported long ago can be overdue now); the other filters do.
    """
    if limit < 1 or offset < 0:
        raise ValueError("limit must be at least 1 and offset at least 0")
    params: dict = {"limit": int(limit), "offset": int(offset)}
    ctes = _victim_facts_ctes(catalogue, filters, params, period_filter=False)
    sql = f"""{ctes},
last_update AS (
    SELECT victim_id, max(contact_date) AS last_update_date
    FROM contacts_in_scope WHERE list_contains($update_kinds, kind) GROUP BY victim_id
),
overdue AS (
    SELECT v.victim_id, v.case_id, v.district, v.team, v.offence_group, v.victim_type, v.report_date,
           v.frequency_days, l.last_update_date,
           $as_of - COALESCE(l.last_update_date, v.report_date) AS days_since_update,
           $as_of - COALESCE(l.last_update_date, v.report_date) - v.frequency_days AS days_overdue
    FROM in_scope v
    LEFT JOIN last_update l ON l.victim_id = v.victim_id
    WHERE v.closed_at IS NULL AND NOT v.not_investigated
)
SELECT *, count(*) OVER () AS total_rows
FROM overdue
WHERE days_overdue > 0
ORDER BY days_overdue DESC, victim_id
LIMIT $limit OFFSET $offset"""
    return sql, params


def contact_measure_rates(counts: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """One row per contact measure, breakdown and level: numerator, denominator, rate, Wilson interval."""
    spec = {
        "c_initial_contact_within_standard": ("initial_within", "initial_eligible", "initial_not_yet_due"),
        "c_updates_kept_to_agreed_frequency": ("updates_kept", "updates_eligible", "updates_not_yet_due"),
        "c_face_to_face_enhanced": ("f2f_with", "f2f_eligible", None),
    }
    parts = []
    for measure in catalogue.contact_measures:
        numerator, denominator, excluded = spec[measure.code]
        part = counts[["breakdown", "level"]].copy()
        part["measure"] = measure.code
        part["label"] = measure.label
        part["numerator"] = counts[numerator].astype("int64")
        part["denominator"] = counts[denominator].astype("int64")
        part["not_yet_due"] = counts[excluded].astype("int64") if excluded else 0
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if out.empty:
        return out
    n, x = out["denominator"].to_numpy(float), out["numerator"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"] = np.where(n > 0, x / n, np.nan)
    out["rate_lower"], out["rate_upper"] = wilson_interval(x, n)
    is_month = out["breakdown"] == "month"
    out["month"] = pd.NaT
    out.loc[is_month, "month"] = pd.to_datetime(out.loc[is_month, "level"] + "-01")
    return out
