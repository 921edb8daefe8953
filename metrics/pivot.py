"""The Explore page's SQL and tables: a pivot of compliance counts over allow-listed dimensions, the list of
missed or late entitlement instances for follow-up, and spreadsheet-safe exports.

Pure: choices in, (sql, params) or frames out; data_access runs the SQL. Both queries start from the same
classified instances as metrics.compliance (its `classified_ctes`), so a pivot cell holds exactly the
numbers every other page shows for that slice. Only names in PIVOT_DIMENSIONS and PIVOT_MEASURES become
SQL or columns; anything else is refused with ValueError before any SQL is built, and every value
(filters, teams, dates) is bound as a parameter.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from metrics import contract
from metrics.catalogue import Catalogue
from metrics.compliance import COUNT_COLUMNS, COUNTS_SQL, classified_ctes
from metrics.filters import DIMENSIONS, Filters
from metrics.rates import wilson_interval

__all__ = ["PivotDimension", "PivotMeasure", "PIVOT_DIMENSIONS", "PIVOT_MEASURES", "PivotSpec", "PivotTable",
           "NO_TEAM", "pivot_sql", "pivot_table", "describe_pivot", "measured_codes",
           "FOLLOW_UP_COLUMNS", "missed_or_late_sql", "missed_or_late_teams_sql", "follow_up_table",
           "neutralise", "neutralise_frame", "csv_bytes", "xlsx_bytes"]

NO_TEAM = "(no team recorded)"


@dataclass(frozen=True)
class PivotDimension:
    name: str
    label: str
    sql: str  # expression over the classified instances; fixed text, never from input
    ordered: bool  # True: levels keep their own order (months, quarters, rights); False: alphabetical by label


PIVOT_DIMENSIONS: dict[str, PivotDimension] = {d.name: d for d in (
    PivotDimension("month", "Month triggered", "strftime(trigger_month, '%Y-%m')", True),
    PivotDimension("quarter", "Quarter triggered",
                   "strftime(trigger_month, '%Y') || '-Q' || CAST(quarter(trigger_month) AS VARCHAR)", True),
    PivotDimension("right", "Right", "CAST(right_no AS VARCHAR)", True),
    PivotDimension("entitlement", "Entitlement", "entitlement", False),
    PivotDimension("team", "Team", "COALESCE(team, $no_team)", False),
    *(PivotDimension(d.name, d.label, d.column, False) for d in DIMENSIONS.values()),
)}


@dataclass(frozen=True)
class PivotMeasure:
    name: str
    label: str
    numerator: str  # a count column
    denominator: str | None  # None: the measure is the count itself
    description: str


PIVOT_MEASURES: dict[str, PivotMeasure] = {m.name: m for m in (
    PivotMeasure("eligible", "Eligible", "eligible", None,
                 "Instances triggered in the period, less those not applicable and those not yet due"),
    PivotMeasure("delivered", "Delivered", "delivered", None,
                 "Delivered, or offered and declined, on or before the as-of date"),
    PivotMeasure("delivered_rate", "Delivered rate", "delivered", "eligible", "Delivered ÷ eligible"),
    PivotMeasure("on_time_rate", "On-time rate", "delivered_on_time", "eligible_timed",
                 "Delivered within the Code's timescale ÷ eligible instances that have one"),
    PivotMeasure("not_yet_due", "Not yet due", "not_yet_due", None,
                 "Not delivered by the as-of date, with a deadline after it (excluded from the rates)"),
    PivotMeasure("not_applicable", "Not applicable", "not_applicable", None,
                 "Recorded as not applicable, with a reason (excluded from the rates)"),
)}


@dataclass(frozen=True)
class PivotSpec:
    """What to pivot: rows, optional columns and a measure, each checked against its allow-list."""

    rows: str
    measure: str
    columns: str | None = None

    def __post_init__(self) -> None:
        for role, name in (("rows", self.rows), ("columns", self.columns)):
            if name is not None and name not in PIVOT_DIMENSIONS:
                raise ValueError(f"unknown pivot {role} dimension {name!r}; choose from "
                                 f"{', '.join(PIVOT_DIMENSIONS)}")
        if self.measure not in PIVOT_MEASURES:
            raise ValueError(f"unknown pivot measure {self.measure!r}; choose from {', '.join(PIVOT_MEASURES)}")
        if self.columns == self.rows:
            raise ValueError("rows and columns must be different dimensions")


def measured_codes(catalogue: Catalogue, rights: Sequence[int] | None) -> list[str] | None:
    """The measured entitlement codes of the chosen rights (None: every right). An unknown right is refused."""
    if rights is None:
        return None
    known = {r.number for r in catalogue.rights}
    unknown = [r for r in rights if r not in known]
    if unknown:
        raise ValueError(f"unknown right(s): {', '.join(map(str, unknown))}")
    codes = [e.code for n in rights for e in catalogue.right(n).measured_entitlements]
    if not codes:
        raise ValueError("nothing is measured under the chosen right(s)")
    return codes


def _team_clause(teams: Sequence[str] | None, params: dict) -> str:
    if not teams:
        return ""
    params["pivot_teams"] = [str(t) for t in teams]
    return "WHERE list_contains($pivot_teams, COALESCE(team, $no_team))"


def pivot_sql(catalogue: Catalogue, filters: Filters, spec: PivotSpec, *, rights: Sequence[int] | None = None,
              teams: Sequence[str] | None = None) -> tuple[str, dict]:
    """Compliance counts per (row level, column level) in the filters, optionally for some rights and teams.

    Returns rows of (row_level, column_level, eligible, delivered, delivered_on_time, eligible_timed,
    not_yet_due, not_applicable); column_level is 'all' when the spec has no columns.
    """
    if not isinstance(spec, PivotSpec):
        raise ValueError("the pivot must be given as a PivotSpec")
    params: dict = {}
    ctes = classified_ctes(catalogue, filters, measured_codes(catalogue, rights), params)
    row_sql = PIVOT_DIMENSIONS[spec.rows].sql
    column_sql = PIVOT_DIMENSIONS[spec.columns].sql if spec.columns else "'all'"
    sql = f"""{ctes}
SELECT CAST({row_sql} AS VARCHAR) AS row_level,
       CAST({column_sql} AS VARCHAR) AS column_level,
       {COUNTS_SQL}
FROM classified
{_team_clause(teams, params)}
GROUP BY ALL"""
    if "$no_team" in sql:  # DuckDB refuses a bound parameter the statement does not use
        params["no_team"] = NO_TEAM
    return sql, params


# --- the pivot as tables -----------------------------------------------------------------------------

def _level_label(dimension: str, level: str, catalogue: Catalogue) -> str:
    if dimension == "month":
        return date.fromisoformat(level + "-01").strftime("%b %Y")
    if dimension == "quarter":
        return level.replace("-", " ")
    if dimension == "right":
        return f"Right {level}: {catalogue.right(int(level)).short_title}"
    if dimension == "entitlement":
        try:
            return catalogue.entitlement(level).label
        except KeyError:
            return level
    if dimension == "team":
        return level
    return contract.label(level)


def _level_order(dimension: str, levels: pd.Series, labels: pd.Series) -> list[str]:
    """Levels in display order: their own order where they have one, else alphabetical by label. Never by value."""
    frame = pd.DataFrame({"level": levels, "label": labels}).drop_duplicates("level")
    if dimension == "right":
        frame = frame.assign(key=frame["level"].astype(int)).sort_values("key")
    elif PIVOT_DIMENSIONS[dimension].ordered:
        frame = frame.sort_values("level")
    else:
        frame = frame.assign(key=frame["label"].str.casefold()).sort_values(["key", "level"])
    return frame["level"].tolist()


@dataclass(frozen=True)
class PivotTable:
    spec: PivotSpec
    cells: pd.DataFrame  # one row per cell: labels, the six counts, value, numerator, denominator, interval
    wide: pd.DataFrame  # rows x columns of the measure, rows and columns in display order


def pivot_table(counts: pd.DataFrame, spec: PivotSpec, catalogue: Catalogue) -> PivotTable:
    """The pivot's cells (each with its counts, and for a rate its numerator, denominator and Wilson 95%
    interval) and the rows x columns table of the chosen measure. Rates are divided last, per cell."""
    measure = PIVOT_MEASURES[spec.measure]
    cells = counts.copy()
    if cells.empty:
        columns = ["row_level", "column_level", "row_label", "column_label", *COUNT_COLUMNS,
                   "numerator", "denominator", "value", "lower", "upper"]
        return PivotTable(spec=spec, cells=pd.DataFrame(columns=columns), wide=pd.DataFrame())
    cells["row_label"] = [_level_label(spec.rows, v, catalogue) for v in cells["row_level"]]
    if spec.columns:
        cells["column_label"] = [_level_label(spec.columns, v, catalogue) for v in cells["column_level"]]
    else:
        cells["column_label"] = measure.label
    for column in COUNT_COLUMNS:
        cells[column] = cells[column].astype("int64")
    cells["numerator"] = cells[measure.numerator]
    if measure.denominator is None:
        cells["denominator"] = np.nan
        cells["value"] = cells[measure.numerator].astype(float)
        cells["lower"] = cells["upper"] = np.nan
    else:
        n = cells[measure.denominator].to_numpy(float)
        x = cells["numerator"].to_numpy(float)
        cells["denominator"] = cells[measure.denominator]
        with np.errstate(divide="ignore", invalid="ignore"):
            cells["value"] = np.where(n > 0, x / n, np.nan)
        lower, upper = wilson_interval(x, n)
        cells["lower"], cells["upper"] = lower, upper
    row_order = _level_order(spec.rows, cells["row_level"], cells["row_label"])
    column_order = (_level_order(spec.columns, cells["column_level"], cells["column_label"])
                    if spec.columns else ["all"])
    # Pivot on the levels (unique), then show their labels.
    wide = cells.pivot(index="row_level", columns="column_level", values="value") \
        .reindex(index=row_order, columns=column_order)
    if measure.denominator is None:  # a count absent from the data is a true zero; a rate stays undefined
        wide = wide.fillna(0).astype("int64")
    row_labels = dict(zip(cells["row_level"], cells["row_label"]))
    column_labels = dict(zip(cells["column_level"], cells["column_label"]))
    wide.index = pd.Index([row_labels[v] for v in wide.index], name=PIVOT_DIMENSIONS[spec.rows].label)
    wide.columns = pd.Index([column_labels[v] for v in wide.columns], name=None)
    row_rank = {level: i for i, level in enumerate(row_order)}
    column_rank = {level: i for i, level in enumerate(column_order)}
    cells = cells.assign(_r=cells["row_level"].map(row_rank), _c=cells["column_level"].map(column_rank)) \
        .sort_values(["_r", "_c"]).drop(columns=["_r", "_c"]).reset_index(drop=True)
    return PivotTable(spec=spec, cells=cells, wide=wide)


def _value_text(value: float, is_rate: bool) -> str:
    if pd.isna(value):
        return "no eligible instances"
    return f"{value:.1%}" if is_rate else f"{int(value):,}"


def describe_pivot(table: PivotTable, context: str) -> str:
    """The pivot in words, for screen readers and under the chart: what is shown, its size and range."""
    spec, measure = table.spec, PIVOT_MEASURES[table.spec.measure]
    rows = PIVOT_DIMENSIONS[spec.rows].label.lower()
    by = f"by {rows}" + (f" (rows) and {PIVOT_DIMENSIONS[spec.columns].label.lower()} (columns)" if spec.columns else "")
    values = table.cells["value"]
    is_rate = measure.denominator is not None
    shown = values.dropna()
    if table.cells.empty:
        return f"{measure.label} {by}: nothing in this selection. {context}."
    text = (f"{measure.label} {by}: {table.wide.shape[0]} row(s) x {table.wide.shape[1]} column(s). "
            f"Values run from {_value_text(shown.min(), is_rate)} to {_value_text(shown.max(), is_rate)}."
            if len(shown) else f"{measure.label} {by}: no cell has eligible instances.")
    empty = int(values.isna().sum()) + (table.wide.size - len(table.cells))
    if is_rate and empty:
        text += f" {empty} cell(s) have no eligible instances, so no rate."
    return f"{text} Rows are in {'their own' if PIVOT_DIMENSIONS[spec.rows].ordered else 'alphabetical'} order. " \
           f"{context}."


# --- missed or late instances, for follow-up (case level: data_access checks the role) -------------

FOLLOW_UP_COLUMNS = ("delivery_id", "victim_id", "case_id", "entitlement", "team", "follow_up", "triggered", "due",
                     "delivered", "days_late")


def _follow_up_ctes(catalogue: Catalogue, filters: Filters, params: dict) -> str:
    """Instances in the filters that were not delivered, or delivered after their due date, as of the as-of date.

    Not delivered = the compliance status 'not_delivered' (past due, or with no timescale and still not
    delivered). Late = delivered by the as-of date but not on time. Due = the N-th working day after the
    trigger (the calendar's working day with that working-day number); days late count calendar days from
    the due date to the delivery, or to the as-of date when not delivered.
    """
    params["no_team"] = NO_TEAM
    return classified_ctes(catalogue, filters, None, params) + """,
follow_up AS (
    SELECT c.delivery_id, c.victim_id, c.case_id, c.entitlement, c.right_no,
           COALESCE(c.team, $no_team) AS team,
           CASE WHEN c.status = 'delivered' THEN 'delivered late' ELSE 'not delivered' END AS follow_up,
           c.trigger_date AS triggered, due.day AS due,
           CASE WHEN c.status = 'delivered' THEN c.delivered_date END AS delivered,
           CASE WHEN c.status = 'delivered' THEN c.delivered_date - due.day ELSE $as_of - due.day END AS days_late
    FROM classified c
    LEFT JOIN calendar due ON due.is_working_day AND due.wd_seq = c.trigger_wd_seq + c.days_allowed
    WHERE c.status = 'not_delivered'
       OR (c.status = 'delivered' AND c.days_allowed IS NOT NULL AND NOT c.on_time)
)"""


def missed_or_late_sql(catalogue: Catalogue, filters: Filters, *, team: str | None, limit: int,
                       offset: int) -> tuple[str, dict]:
    """One page of missed or late instances (one team's, or every team's), by team, then trigger date, then
    delivery id; plus the number in all in a `total_rows` column."""
    if limit < 1 or offset < 0:
        raise ValueError("limit must be at least 1 and offset at least 0")
    params: dict = {"limit": int(limit), "offset": int(offset), "team": None if team is None else str(team)}
    sql = _follow_up_ctes(catalogue, filters, params) + f"""
SELECT {', '.join(FOLLOW_UP_COLUMNS)}, count(*) OVER () AS total_rows
FROM follow_up
WHERE CAST($team AS VARCHAR) IS NULL OR team = $team
ORDER BY team, triggered, delivery_id
LIMIT $limit OFFSET $offset"""
    return sql, params


def missed_or_late_teams_sql(catalogue: Catalogue, filters: Filters) -> tuple[str, dict]:
    """Per team with any: how many instances were not delivered and how many delivered late (alphabetical)."""
    params: dict = {}
    sql = _follow_up_ctes(catalogue, filters, params) + """
SELECT team,
       count(*) FILTER (WHERE follow_up = 'not delivered')  AS not_delivered,
       count(*) FILTER (WHERE follow_up = 'delivered late') AS delivered_late
FROM follow_up
GROUP BY team
ORDER BY team"""
    return sql, params


def follow_up_table(rows: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """The follow-up rows as people read them: entitlement labels and plain column names."""
    labels = {e.code: e.label for e in catalogue.entitlements}
    out = rows.assign(entitlement=rows["entitlement"].map(lambda c: labels.get(c, c)),
                      days_late=pd.array(rows["days_late"], dtype="Int64"),
                      **{c: pd.to_datetime(rows[c]) for c in ("triggered", "due", "delivered")})
    return out[list(FOLLOW_UP_COLUMNS)].rename(columns={
        "delivery_id": "Delivery", "victim_id": "Victim", "case_id": "Case", "entitlement": "Entitlement",
        "team": "Team", "follow_up": "Follow up", "triggered": "Triggered", "due": "Due",
        "delivered": "Delivered", "days_late": "Days late"})


# --- exports ----------------------------------------------------------------------------------------

# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"); some trim leading
# spaces first, so spaces do not hide one.
_FORMULA_START = re.compile(r"^[\t\r]|^\s*[=+\-@]")


def neutralise(value):
    """Text that a spreadsheet would run as a formula, made literal with a leading apostrophe; other values
    unchanged (numbers stay numbers, so a negative number is not text and is left alone)."""
    if isinstance(value, str) and _FORMULA_START.match(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell, column name and index label of a frame neutralised for a spreadsheet."""
    out = frame.copy()
    for column in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_bool_dtype(out[column])):
            out[column] = out[column].map(neutralise).astype(object)
    out.columns = [neutralise(str(c)) for c in out.columns]
    if not isinstance(out.index, pd.RangeIndex):
        out.index = out.index.map(lambda v: neutralise(v) if isinstance(v, str) else v)
        if out.index.name is not None:
            out.index.name = neutralise(str(out.index.name))
    return out


def csv_bytes(frame: pd.DataFrame, *, index: bool = False) -> bytes:
    """A neutralised CSV (UTF-8 with a byte-order mark, so spreadsheets read accents correctly)."""
    buffer = io.StringIO()
    neutralise_frame(frame).to_csv(buffer, index=index, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame], *, index_sheets: Sequence[str] = ()) -> bytes:
    """A workbook with one neutralised sheet per frame; every text cell is written as text, never a formula."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    book = Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        safe = neutralise_frame(frame.reset_index() if name in index_sheets else frame)
        sheet = book.create_sheet(title=str(name)[:31])
        sheet.append([str(c) for c in safe.columns])
        for record in safe.itertuples(index=False):
            sheet.append([_excel_value(v) for v in record])
        for row in sheet.iter_rows(min_row=1):
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = TYPE_STRING  # openpyxl would otherwise store "=..." as a formula
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _excel_value(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value
