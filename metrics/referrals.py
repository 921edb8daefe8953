"""Referral uptake: the funnel from a victim considered for a support service to engaging with it. Pure:
(filters, breakdowns) in, (sql, params) out; data_access.outcomes runs it.

Every row of the `referrals` export is one victim considered for one commissioned service (Victim Support,
Synergy Essex, Compass, or another). A record belongs to the month the victim's crime was reported, as the
contact-log measures do, so a quarter's funnel follows the same victims through every step. Each step counts
only the records that passed every earlier step, as of the as-of date (what is dated after it had not happened):

    in_scope        every record for a victim whose crime was reported in the period (and matches the filters)
    offered         offered_at on or before the as-of date; or, with no offer date, consent recorded as given or
                    declined (asking for consent is the offer)
    consent_given   offered, and consent = 'given'
    referred        consent given, and referred_at on or before the as-of date
    referred_within referred on or before the 2nd working day after the offer (the contract has no date of
                    consent: consent is given when the referral is offered). Same working-day rule as the
                    entitlements (calendar.wd_seq); a referral with no offer date cannot be shown to be within
                    and is not counted as within
    contacted       referred, and the service's first contact (contacted_at) on or before the as-of date
    engaged         contacted, and engaged = true

Counts are returned, never rates; `uptake_rates` divides each step by the one it follows, with Wilson
intervals. There is one row per service and one for all services together ('all').
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics import contract
from metrics.compliance import BREAKDOWNS, breakdown_grouping
from metrics.filters import Filters, filter_clauses
from metrics.rates import wilson_interval

__all__ = ["REFERRAL_WORKING_DAYS", "ALL_SERVICES", "FunnelStep", "REFERRAL_STEPS", "REFERRAL_COUNT_COLUMNS",
           "REFERRAL_BREAKDOWNS", "referral_uptake_sql", "uptake_rates",
           "ReferralMeasure", "REFERRAL_MEASURES", "referral_measure", "service_order", "referral_measure_rates",
           "TimeStart", "TIME_TO_REFERRAL_STARTS", "HISTOGRAM_CAP", "referral_times_sql", "WorkingDayDistribution",
           "working_day_distribution"]

REFERRAL_WORKING_DAYS = 2  # a referral is due within 2 working days (Right 4)
ALL_SERVICES = "all"


@dataclass(frozen=True)
class FunnelStep:
    column: str  # count column in the SQL's result
    label: str  # as the board reads it
    of: str | None  # the step it is a share of (None for the first)
    definition: str  # one plain sentence


REFERRAL_STEPS: tuple[FunnelStep, ...] = (
    FunnelStep("in_scope", "Considered for the service", None,
               "Referral records of victims whose crime was reported in the period: offered a referral, or owed "
               "the offer and not asked."),
    FunnelStep("offered", "Offered a referral", "in_scope",
               "The offer was made by the as-of date (or consent was recorded, which means it was made)."),
    FunnelStep("consent_given", "Consent given", "offered", "The victim agreed to be referred."),
    FunnelStep("referred", "Referred", "consent_given",
               "The referral was sent to the service by the as-of date."),
    FunnelStep("referred_within", f"Referred within {REFERRAL_WORKING_DAYS} working days", "referred",
               f"Sent no more than {REFERRAL_WORKING_DAYS} working days after the offer (weekends and bank holidays "
               "excluded; the same day counts); without an offer date a referral is not counted as within."),
    FunnelStep("contacted", "Contacted by the service", "referred",
               "The service's first contact with the victim was made by the as-of date."),
    FunnelStep("engaged", "Engaged with the service", "contacted",
               "The service recorded that the victim took up support."),
)
REFERRAL_COUNT_COLUMNS = tuple(step.column for step in REFERRAL_STEPS)
# Breakdowns a later page may ask for; the board pack uses 'total'. The month is the report month.
REFERRAL_BREAKDOWNS = tuple(BREAKDOWNS)


def _steps_cte(filters: Filters, params: dict) -> str:
    params.update(within_days=REFERRAL_WORKING_DAYS)
    where = filter_clauses(filters, params, "b", "report_date")
    return f"""WITH
-- step 1: each referral record with its victim's report date and the dimensions the filters use
referral_base AS (
    SELECT r.referral_id, r.victim_id, r.service, r.consent, r.engaged,
           CAST(k.reported_at AS DATE)                                 AS report_date,
           CAST(date_trunc('month', k.reported_at) AS DATE)           AS report_month,
           r.offered_at IS NULL                                        AS no_offer_date,
           -- a date after the as-of date had not happened yet
           CASE WHEN CAST(r.offered_at AS DATE) <= $as_of THEN CAST(r.offered_at AS DATE) END   AS offered_date,
           CASE WHEN CAST(r.referred_at AS DATE) <= $as_of THEN CAST(r.referred_at AS DATE) END AS referred_date,
           CAST(r.contacted_at AS DATE) <= $as_of                      AS contacted_by_as_of,
           CASE WHEN v.enhanced_category IS NULL THEN 'standard' ELSE 'enhanced' END AS victim_type,
           COALESCE(v.age_band, 'unknown') AS age_band, COALESCE(v.sex, 'unknown') AS sex,
           COALESCE(v.ethnicity, 'unknown') AS ethnicity, COALESCE(v.disability, 'unknown') AS disability,
           k.district, COALESCE(d.command_area, 'Unassigned') AS command_area, k.offence_group, k.team
    FROM referrals r
    JOIN victims v ON v.victim_id = r.victim_id
    JOIN cases k ON k.case_id = v.case_id
    LEFT JOIN districts d ON d.district = k.district
),
in_scope AS (SELECT * FROM referral_base b WHERE {where}),
-- step 2: the steps each record reached; each needs every earlier one, so the funnel never widens
offered AS (
    SELECT i.*,
           i.offered_date IS NOT NULL OR (i.no_offer_date AND i.consent IN ('given', 'declined')) AS is_offered
    FROM in_scope i
),
consented AS (SELECT o.*, o.is_offered AND o.consent = 'given' AS is_consent_given FROM offered o),
referred AS (SELECT c.*, c.is_consent_given AND c.referred_date IS NOT NULL AS is_referred FROM consented c),
steps AS (
    SELECT r.*,
           r.is_referred AND r.offered_date IS NOT NULL
               AND ref.wd_seq_next <= off.wd_seq + $within_days                      AS is_referred_within,
           r.is_referred AND COALESCE(r.contacted_by_as_of, false)                   AS is_contacted,
           r.is_referred AND COALESCE(r.contacted_by_as_of, false) AND COALESCE(r.engaged, false) AS is_engaged,
           CASE WHEN r.is_referred AND r.offered_date IS NOT NULL
                THEN greatest(ref.wd_seq_next - off.wd_seq, 0) END                   AS working_days_to_referral
    FROM referred r
    LEFT JOIN calendar off ON off.day = r.offered_date
    LEFT JOIN calendar ref ON ref.day = r.referred_date
)"""


def referral_uptake_sql(filters: Filters, breakdowns: Sequence[str] = ("total",)) -> tuple[str, dict]:
    """Funnel counts per service (and for all services, service = 'all') and breakdown level, in one scan.

    Columns: service, breakdown, level, REFERRAL_COUNT_COLUMNS, and median_working_days_to_referral (from the
    offer, over referrals with an offer date; 0 = the same day). The period is the victims' report months.
    """
    unknown = [b for b in breakdowns if b not in BREAKDOWNS]
    if unknown or not breakdowns:
        raise ValueError(f"unknown breakdown(s): {', '.join(unknown) or '(none given)'}")
    params: dict = {"all_services": ALL_SERVICES}
    ctes = _steps_cte(filters, params)
    names = list(dict.fromkeys(breakdowns))
    per_service, breakdown_expr, level_expr = breakdown_grouping(names, params, keys=("service",),
                                                                 month_column="report_month")
    all_services, _, _ = breakdown_grouping(names, params, month_column="report_month")
    sql = f"""{ctes}
SELECT CASE WHEN GROUPING(service) = 0 THEN service ELSE $all_services END AS service,
       {breakdown_expr} AS breakdown,
       CAST({level_expr} AS VARCHAR) AS level,
       count(*)                                   AS in_scope,
       count(*) FILTER (WHERE is_offered)         AS offered,
       count(*) FILTER (WHERE is_consent_given)   AS consent_given,
       count(*) FILTER (WHERE is_referred)        AS referred,
       count(*) FILTER (WHERE is_referred_within) AS referred_within,
       count(*) FILTER (WHERE is_contacted)       AS contacted,
       count(*) FILTER (WHERE is_engaged)         AS engaged,
       median(working_days_to_referral)           AS median_working_days_to_referral
FROM steps
GROUP BY GROUPING SETS ({per_service}, {all_services})
ORDER BY breakdown, level, service"""
    return sql, params


def uptake_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Funnel counts -> one row per service, breakdown, level and step: count, the count of the step it is a
    share of, the share (NaN where that is 0) and its Wilson 95% interval. Services in the contract's order,
    'all' last."""
    parts = []
    for step in REFERRAL_STEPS:
        part = counts[["service", "breakdown", "level"]].copy()
        part["step"] = step.column
        part["label"] = step.label
        part["count"] = counts[step.column].astype("int64")
        part["of_count"] = counts[step.of].astype("int64") if step.of else part["count"]
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    n, x = out["of_count"].to_numpy(float), out["count"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["share"] = np.where(n > 0, x / n, np.nan)
    out["share_lower"], out["share_upper"] = wilson_interval(x, n)
    first = out["step"] == REFERRAL_STEPS[0].column
    out.loc[first, ["share", "share_lower", "share_upper"]] = np.nan  # the first step is not a share of anything
    services = {s: i for i, s in enumerate((*contract.REFERRAL_SERVICES, ALL_SERVICES))}
    steps = {s.column: i for i, s in enumerate(REFERRAL_STEPS)}
    out["_service"], out["_step"] = out["service"].map(services), out["step"].map(steps)
    out = out.sort_values(["breakdown", "level", "_service", "_step"], kind="stable")
    return out.drop(columns=["_service", "_step"]).reset_index(drop=True)


# --- for the Referral uptake page: measures over time, and the time to referral ---------------------------

@dataclass(frozen=True)
class ReferralMeasure:
    code: str
    label: str
    numerator: str  # a count column of referral_uptake_sql
    denominator: str
    definition: str  # one plain sentence: numerator and denominator


def _share_measure(step: FunnelStep) -> ReferralMeasure:
    of = next(s for s in REFERRAL_STEPS if s.column == step.of)
    return ReferralMeasure(f"{step.column}_of_{of.column}", f"{step.label}, of {of.label.lower()}", step.column,
                           of.column, f"{step.label} ÷ {of.label.lower()}. {step.definition}")


# "Did referrals rise?" is first about the whole funnel, so the overall rate comes first; then each step as a share
# of the one before it, as the funnel shows them.
REFERRAL_MEASURES: tuple[ReferralMeasure, ...] = (
    ReferralMeasure("referred_of_in_scope", "Referred, of all considered for the service", "referred", "in_scope",
                    "Referred (the referral sent by the as-of date) ÷ every record of a victim considered for the "
                    "service, whether or not they were offered it or agreed."),
    *(_share_measure(step) for step in REFERRAL_STEPS if step.of),
)


def referral_measure(code: str) -> ReferralMeasure:
    for measure in REFERRAL_MEASURES:
        if measure.code == code:
            return measure
    raise ValueError(f"unknown referral measure {code!r}; choose from {', '.join(m.code for m in REFERRAL_MEASURES)}")


def service_order(services) -> list[str]:
    """The services present, in the contract's order, any others alphabetically, and 'all' last."""
    known = [s for s in contract.REFERRAL_SERVICES if s in set(services)]
    others = sorted(s for s in set(services) if s not in contract.REFERRAL_SERVICES and s != ALL_SERVICES)
    return known + others + ([ALL_SERVICES] if ALL_SERVICES in set(services) else [])


def referral_measure_rates(counts: pd.DataFrame, measure: ReferralMeasure, service: str = ALL_SERVICES) -> pd.DataFrame:
    """One service's rows of referral_uptake_sql's counts (every breakdown and level) as one measure: breakdown,
    level, numerator, denominator, rate (NaN where the denominator is 0), rate_lower, rate_upper, and 'month'
    (the first day of the month, on the month rows; NaT elsewhere)."""
    rows = counts[counts["service"] == service]
    out = rows[["breakdown", "level"]].copy()
    out["numerator"] = rows[measure.numerator].astype("int64")
    out["denominator"] = rows[measure.denominator].astype("int64")
    n, x = out["denominator"].to_numpy(float), out["numerator"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"] = np.where(n > 0, x / n, np.nan)
    out["rate_lower"], out["rate_upper"] = wilson_interval(x, n)
    is_month = out["breakdown"] == "month"
    out["month"] = pd.NaT
    out.loc[is_month, "month"] = pd.to_datetime(out.loc[is_month, "level"] + "-01")
    out["month"] = pd.to_datetime(out["month"])
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class TimeStart:
    column: str  # the date column of the steps CTE the clock starts from (never user input)
    label: str
    definition: str


TIME_TO_REFERRAL_STARTS: dict[str, TimeStart] = {
    "offer": TimeStart(
        "offered_date", "From the offer",
        f"Working days from the offer of a referral to the referral being sent, for referrals sent by the as-of date. "
        f"The contract records no date of consent, which is given when the referral is offered, so the clock starts "
        f"at the offer. The funnel's 'referred within {REFERRAL_WORKING_DAYS} working days' counts the same way, so "
        f"the share within matches it. A referral with no offer date cannot be timed and is shown apart."),
    "report": TimeStart(
        "report_date", "From the crime report",
        "Working days from the crime being reported to the referral being sent, for referrals sent by the as-of "
        f"date: Right 4's own clock (a referral is due within {REFERRAL_WORKING_DAYS} working days of reporting)."),
}
HISTOGRAM_CAP = 10  # working days shown one by one; longer waits are one bar


def referral_times_sql(filters: Filters, start: str = "offer") -> tuple[str, dict]:
    """Referrals sent by the as-of date per service (and 'all') and working days from `start` ('offer' or
    'report'; see TIME_TO_REFERRAL_STARTS) to the referral, for victims reported in the period.

    Columns: service, working_days (0 = the same day; NULL = no start date), referrals. Working days count as
    for due dates: weekends and bank holidays are not working days, and the clock starts on the start day's
    working-day number, so a referral sent on the first working day after the start is 1.
    """
    if start not in TIME_TO_REFERRAL_STARTS:
        raise ValueError(f"unknown start {start!r} for the time to referral; choose from "
                         f"{', '.join(TIME_TO_REFERRAL_STARTS)}")
    params: dict = {"all_services": ALL_SERVICES}
    ctes = _steps_cte(filters, params)
    start_column = TIME_TO_REFERRAL_STARTS[start].column
    sql = f"""{ctes},
timed AS (
    -- greatest() skips NULLs, so a referral with no start date must be kept NULL explicitly
    SELECT s.service,
           CASE WHEN start_day.wd_seq IS NOT NULL THEN greatest(ref_day.wd_seq_next - start_day.wd_seq, 0) END
               AS working_days
    FROM steps s
    LEFT JOIN calendar start_day ON start_day.day = s.{start_column}
    LEFT JOIN calendar ref_day ON ref_day.day = s.referred_date
    WHERE s.is_referred
)
SELECT CASE WHEN GROUPING(service) = 0 THEN service ELSE $all_services END AS service,
       working_days,
       count(*) AS referrals
FROM timed
GROUP BY GROUPING SETS ((service, working_days), (working_days))
ORDER BY service, working_days NULLS LAST"""
    return sql, params


@dataclass(frozen=True)
class WorkingDayDistribution:
    """A histogram of whole working days with the share within a limit.

    bars: one row per bar (label, days: the first day it counts, or None for the undated bar; count, share of
    all counted, within: True/False, or None for the undated bar), in order: 0, 1, ... cap, 'over cap', then
    'no start date' if any. within_count / total: those within `limit` days of all counted, undated included
    (an undated one cannot be shown to be within), with rate and Wilson interval. median: over the dated ones.
    """

    bars: pd.DataFrame
    limit: int
    total: int
    within_count: int
    undated: int
    rate: float
    rate_lower: float
    rate_upper: float
    median: float


def working_day_distribution(days: pd.Series, counts: pd.Series, *, limit: int, cap: int = HISTOGRAM_CAP,
                             undated_label: str = "No start date") -> WorkingDayDistribution:
    """Working days (NaN/None = no start date) with how many took that long -> a WorkingDayDistribution."""
    if cap < limit:
        raise ValueError("the histogram must show every day up to the limit one by one")
    frame = pd.DataFrame({"days": pd.to_numeric(days, errors="coerce"), "count": counts.astype("int64")})
    dated = frame.dropna(subset=["days"])
    if (dated["days"] < 0).any():
        raise ValueError("working days cannot be negative")
    undated = int(frame.loc[frame["days"].isna(), "count"].sum())
    per_day = dated.groupby("days")["count"].sum()
    rows = [{"label": str(d), "days": d, "count": int(per_day.get(d, 0)), "within": d <= limit}
            for d in range(cap + 1)]
    rows.append({"label": f"over {cap}", "days": cap + 1, "count": int(per_day[per_day.index > cap].sum()),
                 "within": False})
    if undated:
        rows.append({"label": undated_label, "days": None, "count": undated, "within": None})
    bars = pd.DataFrame(rows)
    total = int(bars["count"].sum())
    bars["share"] = bars["count"] / total if total else np.nan
    within_count = int(per_day[per_day.index <= limit].sum())
    lower, upper = wilson_interval(within_count, total)
    # The median of whole days, as DuckDB's median: the middle value, or the mean of the middle two.
    values = np.repeat(per_day.index.to_numpy(float), per_day.to_numpy(int))
    median = float(np.median(values)) if len(values) else np.nan
    return WorkingDayDistribution(bars=bars, limit=limit, total=total, within_count=within_count, undated=undated,
                                  rate=within_count / total if total else np.nan, rate_lower=float(lower),
                                  rate_upper=float(upper), median=median)
