"""Build the SQL that counts entitlement compliance, from the catalogue and the filters.

Pure: (catalogue, filters, breakdowns) in, (sql, params) out. It never opens a connection;
data_access runs it. Each instance of an entitlement is classified as of the as-of date:

    not_applicable  outcome recorded as not applicable (excluded, counted separately)
    delivered       delivered, or offered and declined, on or before the as-of date
    not_yet_due     not delivered by the as-of date, but its due date is after it (excluded)
    not_delivered   everything else (counts against compliance)

eligible = delivered + not_delivered. On time = delivered on or before the N-th working day after
the trigger date, N from the catalogue for standard or enhanced victims. Counts are returned, never
rates: rates are divided last, at the level shown (see metrics.rates).
"""

from __future__ import annotations

from collections.abc import Sequence

from metrics.catalogue import Catalogue
from metrics.filters import DIMENSIONS, Filters, filter_clauses

__all__ = ["BREAKDOWNS", "COUNT_COLUMNS", "COUNTS_SQL", "breakdown_grouping", "check_breakdowns", "classified_ctes",
           "compliance_counts_sql", "grouped_counts_select", "not_applicable_sql"]

# Breakdown name -> (the column rows are grouped by, '' for the total; SQL giving the level as text).
BREAKDOWNS: dict[str, tuple[str, str]] = {
    "total": ("", "'all'"),
    "month": ("trigger_month", "strftime(trigger_month, '%Y-%m')"),
    **{name: (dim.column, dim.column) for name, dim in DIMENSIONS.items()},
}
COUNT_COLUMNS = ("eligible", "delivered", "delivered_on_time", "eligible_timed", "not_yet_due", "not_applicable")


def _timescales_cte(catalogue: Catalogue, codes: Sequence[str] | None, params: dict) -> str:
    """A VALUES table of (entitlement, right_no, standard_days, enhanced_days), all bound."""
    wanted = [e for e in catalogue.measured_entitlements if codes is None or e.code in codes]
    if not wanted:
        raise ValueError("no measured entitlements selected")
    rows = []
    for i, ent in enumerate(wanted):
        params.update({f"code_{i}": ent.code, f"right_{i}": ent.right_no,
                       f"std_{i}": ent.standard_days, f"enh_{i}": ent.enhanced_days})
        rows.append(f"($code_{i}, CAST($right_{i} AS INTEGER), CAST($std_{i} AS INTEGER), CAST($enh_{i} AS INTEGER))")
    return "timescales (entitlement, right_no, standard_days, enhanced_days) AS (\n    VALUES " + ",\n           ".join(rows) + "\n)"


def classified_ctes(catalogue: Catalogue, filters: Filters, codes: Sequence[str] | None, params: dict) -> str:
    return f"""WITH
{_timescales_cte(catalogue, codes, params)},
-- step 1: the instances in the period and filters, with the working days this victim is allowed
in_scope AS (
    SELECT f.*, t.right_no,
           CASE WHEN f.victim_type = 'enhanced' THEN t.enhanced_days ELSE t.standard_days END AS days_allowed
    FROM entitlement_facts f
    JOIN timescales t USING (entitlement)
    WHERE {filter_clauses(filters, params, "f", "trigger_date")}
),
-- step 2: the working-day number of the as-of date (any date: past the calendar's end, every
-- instance's due date lies within the calendar, so the last number there counts the same)
as_of_day AS (SELECT COALESCE(max(wd_seq), 0) AS as_of_wd_seq FROM calendar WHERE day <= $as_of),
-- step 3: each instance's status as of the as-of date, and whether it was delivered on time
classified AS (
    SELECT i.*,
           CASE
               WHEN i.outcome = 'not_applicable' THEN 'not_applicable'
               WHEN i.outcome IN ('delivered', 'declined') AND i.delivered_date <= $as_of THEN 'delivered'
               WHEN i.days_allowed IS NOT NULL AND a.as_of_wd_seq < i.trigger_wd_seq + i.days_allowed THEN 'not_yet_due'
               ELSE 'not_delivered'
           END AS status,
           i.days_allowed IS NOT NULL
               AND i.outcome IN ('delivered', 'declined') AND i.delivered_date <= $as_of
               AND i.delivered_wd_seq_next <= i.trigger_wd_seq + i.days_allowed AS on_time
    FROM in_scope i CROSS JOIN as_of_day a
)"""


def breakdown_grouping(names: Sequence[str], params: dict, keys: Sequence[str] = (),
                       month_column: str = "trigger_month") -> tuple[str, str, str]:
    """GROUPING SETS for the breakdowns (one scan for all), and the SQL naming each row's breakdown and level.

    Rows are grouped on the raw columns and only the few result rows are turned into text. GROUPING(col)
    is 0 for the column a row is grouped by, which labels the row with its breakdown. `keys` are grouped
    in every set; `month_column` is the date column the 'month' breakdown groups by.
    Returns (grouping sets, breakdown expression, level expression); breakdown names are bound in params.
    """
    which, level, sets = [], [], []
    for n in names:
        params[f"breakdown_{n}"] = n
        column, level_sql = BREAKDOWNS[n]
        if n == "month":
            column, level_sql = month_column, f"strftime({month_column}, '%Y-%m')"
        sets.append("(" + ", ".join([*keys, column] if column else keys) + ")")
        if column:
            which.append(f"WHEN GROUPING({column}) = 0 THEN $breakdown_{n}")
            level.append(f"WHEN GROUPING({column}) = 0 THEN {level_sql}")
    total = "$breakdown_total" if "total" in names else "NULL"
    breakdown_expr = f"CASE {' '.join(which)} ELSE {total} END" if which else total
    level_expr = f"CASE {' '.join(level)} ELSE 'all' END" if level else "'all'"
    return ", ".join(sets), breakdown_expr, level_expr


# The six counts, from each instance's status (see classified_ctes); the pivot uses the same expressions.
COUNTS_SQL = """count(*) FILTER (WHERE status IN ('delivered', 'not_delivered'))                              AS eligible,
       count(*) FILTER (WHERE status = 'delivered')                                                  AS delivered,
       count(*) FILTER (WHERE on_time)                                                               AS delivered_on_time,
       count(*) FILTER (WHERE status IN ('delivered', 'not_delivered') AND days_allowed IS NOT NULL) AS eligible_timed,
       count(*) FILTER (WHERE status = 'not_yet_due')                                                AS not_yet_due,
       count(*) FILTER (WHERE status = 'not_applicable')                                             AS not_applicable"""


def check_breakdowns(breakdowns: Sequence[str]) -> None:
    unknown = [b for b in breakdowns if b not in BREAKDOWNS]
    if unknown or not breakdowns:
        raise ValueError(f"unknown breakdown(s): {', '.join(unknown) or '(none given)'}")


def grouped_counts_select(source: str, counts: str, breakdowns: Sequence[str], params: dict) -> str:
    """The SELECT giving (entitlement, right_no, breakdown, level, the counts) from `source` for each breakdown,
    in one scan. `source` and `counts` are SQL written by the builders here and in metrics.cube, never by users."""
    grouping_sets, breakdown_expr, level_expr = breakdown_grouping(list(dict.fromkeys(breakdowns)), params,
                                                                   keys=("entitlement", "right_no"))
    return f"""SELECT entitlement, right_no,
       {breakdown_expr} AS breakdown,
       CAST({level_expr} AS VARCHAR) AS level,
       {counts}
FROM {source}
GROUP BY GROUPING SETS ({grouping_sets})
ORDER BY breakdown, entitlement, level"""


def compliance_counts_sql(
    catalogue: Catalogue,
    filters: Filters,
    breakdowns: Sequence[str] = ("total",),
    codes: Sequence[str] | None = None,
) -> tuple[str, dict]:
    """Counts per entitlement for each breakdown, in one scan.

    Returns rows of (entitlement, right_no, breakdown, level, eligible, delivered, delivered_on_time,
    eligible_timed, not_yet_due, not_applicable). `breakdowns` are names in BREAKDOWNS; `codes`
    limits the entitlements (default: every measured one).
    """
    check_breakdowns(breakdowns)
    params: dict = {}
    ctes = classified_ctes(catalogue, filters, codes, params)
    return f"{ctes}\n{grouped_counts_select('classified', COUNTS_SQL, breakdowns, params)}", params


def not_applicable_sql(catalogue: Catalogue, filters: Filters, codes: Sequence[str] | None = None) -> tuple[str, dict]:
    """Instances excluded as not applicable, counted per entitlement and recorded reason."""
    params: dict = {}
    sql = classified_ctes(catalogue, filters, codes, params) + """
SELECT entitlement, right_no, COALESCE(exception_reason, '(no reason recorded)') AS exception_reason,
       count(*) AS instances
FROM classified
WHERE status = 'not_applicable'
GROUP BY ALL
ORDER BY entitlement, instances DESC"""
    return sql, params
