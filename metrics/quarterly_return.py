"""The quarterly compliance return a force sends its Police and Crime Commissioner: one row per catalogue
entitlement for one quarter, for the whole force, as a CSV with a fixed column order.

Pure: a quarter string, the store's date range and the compliance counts (metrics.compliance, run by
data_access) in; the return's rows and its CSV text out. `compliance_return` is the one place the
return's rows are made, so the CLI and the Board overview download always agree; disclosure control
(small-number suppression) belongs there too. Column definitions in words: README, "Quarterly
compliance return".
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from metrics.catalogue import Catalogue
from metrics.compliance import COUNT_COLUMNS
from metrics.disclosure import MARKER, DisclosurePolicy, suppress_compliance
from metrics.filters import Filters, add_months, month_end

__all__ = ["RETURN_COLUMNS", "suppressed_return", "Quarter", "ReturnError", "parse_quarter", "quarter_of", "quarters_covering",
           "latest_complete_quarter", "return_filters", "check_request", "compliance_return", "return_csv",
           "return_file_name"]

RETURN_COLUMNS = ("right_no", "entitlement", "label", "eligible", "delivered", "on_time", "not_yet_due",
                  "not_applicable", "delivered_rate", "on_time_rate")
_COUNT_COLUMNS = ("eligible", "delivered", "on_time", "not_yet_due", "not_applicable")
_TEXT_COLUMNS = ("entitlement", "label")
_RATE_PLACES = Decimal("0.0001")
_QUARTER_RE = re.compile(r"(\d{4})[Qq]([1-4])")
# A spreadsheet runs a cell starting with one of these as a formula (OWASP CSV injection); the importer
# refuses such text, and the return neutralises it too in case a catalogue label ever starts with one.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ReturnError(ValueError):
    """The return cannot be made as asked; the message says why in words a user can act on."""


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1 = January to March

    @property
    def first_month(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_month(self) -> date:
        """The first day of the quarter's third month (as Filters.last_month takes it)."""
        return date(self.year, 3 * self.number, 1)

    @property
    def last_day(self) -> date:
        return month_end(self.last_month)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

    def describe(self) -> str:
        """'2025Q3 (Jul to Sep 2025)'."""
        return f"{self} ({self.first_month:%b} to {self.last_month:%b %Y})"


def parse_quarter(text: str) -> Quarter:
    """'2025Q3' -> Quarter(2025, 3); anything else is refused with a message saying what is wrong."""
    match = _QUARTER_RE.fullmatch(text or "")
    if not match:
        raise ReturnError(f"{text!r} is not a quarter: write the four-digit year, Q and the quarter number "
                          "1 to 4, for example 2025Q3 for July to September 2025.")
    return Quarter(int(match[1]), int(match[2]))


def quarter_of(day: date) -> Quarter:
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def quarters_covering(first_month: date, last_month: date) -> list[Quarter]:
    """Every quarter holding at least one month from first_month to last_month, oldest first."""
    quarters, current = [], quarter_of(first_month)
    while current.first_month <= last_month:
        quarters.append(current)
        current = quarter_of(add_months(current.first_month, 3))
    return quarters


def latest_complete_quarter(quarters: list[Quarter], as_of: date) -> Quarter:
    """The latest of `quarters` that had ended by the as-of date, or the earliest if none had."""
    ended = [q for q in quarters if q.last_day <= as_of]
    return max(ended) if ended else min(quarters)


def return_filters(quarter: Quarter, as_of: date) -> Filters:
    """The whole force, entitlements triggered in the quarter, as of the date: no other filter applies."""
    return Filters(first_month=quarter.first_month, last_month=quarter.last_month, as_of=as_of)


def check_request(quarter: Quarter, as_of: date, *, first_month: date, last_month: date,
                  data_as_of: date) -> list[str]:
    """Refuse a return the store cannot answer (ReturnError); otherwise the notes to give with it.

    first_month..last_month are the store's months with entitlements; data_as_of its extract date.
    """
    held = f"the store holds data from {first_month:%b %Y} to {last_month:%b %Y}"
    if quarter.last_month < first_month or quarter.first_month > last_month:
        raise ReturnError(f"{quarter.describe()} is outside the store's data: {held}.")
    if as_of < quarter.first_month:
        raise ReturnError(f"The as-of date {as_of:%Y-%m-%d} is before {quarter} begins on "
                          f"{quarter.first_month:%Y-%m-%d}: nothing triggered in the quarter had happened by then.")
    if as_of > data_as_of:
        raise ReturnError(f"The as-of date {as_of:%Y-%m-%d} is after the store's data date {data_as_of:%Y-%m-%d}: "
                          "the store cannot say what was delivered after it was extracted, so entitlements still "
                          "pending then would wrongly count as missed.")
    notes = []
    if quarter.first_month < first_month or quarter.last_month > last_month:
        notes.append(f"{held}, so the return covers only part of {quarter.describe()}.")
    if as_of < quarter.last_day:
        notes.append(f"As of {as_of:%Y-%m-%d}, before {quarter} ends on {quarter.last_day:%Y-%m-%d}: entitlements "
                     "triggered after the as-of date are not counted, and some counted may still be due.")
    return notes


def _rate(numerator: int, denominator: int) -> float:
    """numerator / denominator rounded half up to 4 decimal places (exactly, from the counts); NaN if 0."""
    if denominator == 0:
        return np.nan
    return float((Decimal(numerator) / Decimal(denominator)).quantize(_RATE_PLACES, rounding=ROUND_HALF_UP))


# return column -> the compliance count it comes from; rates -> their numerator and denominator columns
_RETURN_SOURCES = {"eligible": "eligible", "delivered": "delivered", "on_time": "delivered_on_time",
                   "not_yet_due": "not_yet_due", "not_applicable": "not_applicable"}
_RETURN_RATES = {"delivered_rate": ("delivered", "eligible"), "on_time_rate": ("on_time", "eligible")}


def compliance_return(counts: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """The return's rows, one per catalogue entitlement in catalogue order, from the 'total' compliance counts
    of one quarter (metrics.compliance.compliance_counts_sql with the filters of `return_filters`).

    Counts are nullable integers: empty for entitlements not measured from records, and on_time for those
    with no timescale. Rates are fractions rounded half up to 4 places, NaN where the denominator is 0.
    The single place the return is produced: apply disclosure control here.
    """
    totals = counts[counts["breakdown"] == "total"] if "breakdown" in counts.columns else counts
    if totals["entitlement"].duplicated().any():
        raise ValueError("the compliance counts have more than one total row for an entitlement")
    by_code = totals.set_index("entitlement")
    rows = []
    for ent in catalogue.entitlements:
        row: dict = {"right_no": ent.right_no, "entitlement": ent.code, "label": ent.label}
        if not ent.measured:
            rows.append({**row, **dict.fromkeys(_COUNT_COLUMNS, pd.NA), "delivered_rate": np.nan,
                         "on_time_rate": np.nan})
            continue
        found = by_code.loc[ent.code] if ent.code in by_code.index else None

        def count(column: str, found=found) -> int:
            return 0 if found is None else int(found[column])

        eligible, delivered = count("eligible"), count("delivered")
        row.update(eligible=eligible, delivered=delivered, on_time=pd.NA, not_yet_due=count("not_yet_due"),
                   not_applicable=count("not_applicable"), delivered_rate=_rate(delivered, eligible),
                   on_time_rate=np.nan)
        if ent.has_timescale:
            # The denominator is the eligible instances with a timescale for their victim (eligible_timed):
            # the same as eligible unless the Code sets a timescale for only standard or only enhanced victims.
            row.update(on_time=count("delivered_on_time"),
                       on_time_rate=_rate(count("delivered_on_time"), count("eligible_timed")))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(RETURN_COLUMNS))
    frame[list(_COUNT_COLUMNS)] = frame[list(_COUNT_COLUMNS)].astype("Int64")
    frame[["delivered_rate", "on_time_rate"]] = frame[["delivered_rate", "on_time_rate"]].astype(float)
    return frame


def suppressed_return(counts: pd.DataFrame, catalogue: Catalogue,
                      policy: DisclosurePolicy | None = None) -> tuple[pd.DataFrame, str]:
    """The return as the board may see it: counts from 1 to threshold - 1, and anything from which one could be
    worked out, shown as MARKER, with any rate built on them. Returns the rows and the note saying what was hidden."""
    totals = counts[counts["breakdown"] == "total"] if "breakdown" in counts.columns else counts
    keys = [c for c in ("entitlement", "right_no", "breakdown", "level") if c in totals.columns]
    result = suppress_compliance(totals[keys + list(COUNT_COLUMNS)].reset_index(drop=True), policy=policy).entitlements
    hidden = result.hidden.set_index(result.frame["entitlement"])
    frame = compliance_return(counts, catalogue).astype(object)
    for column, source in _RETURN_SOURCES.items():
        rows = frame["entitlement"].map(lambda code, c=source: bool(hidden[c].get(code, False)))
        frame.loc[rows & frame[column].notna(), column] = MARKER
    for rate, (numerator, denominator) in _RETURN_RATES.items():
        gone = frame[numerator].eq(MARKER) | frame[denominator].eq(MARKER)
        if rate == "on_time_rate":  # its denominator (eligible with a timescale) is not a column of the return
            gone |= frame["entitlement"].map(lambda code: bool(hidden["eligible_timed"].get(code, False)))
        frame.loc[gone & frame[rate].notna(), rate] = MARKER
    return frame, result.note


def _text_cell(value) -> str:
    text = "" if value is None or value is pd.NA else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def return_csv(frame: pd.DataFrame) -> str:
    """The return as CSV text: the header RETURN_COLUMNS, counts as whole numbers, rates to 4 decimal places,
    missing values as empty cells, suppressed ones as [c], and text that a spreadsheet would run as a formula prefixed with '."""
    if tuple(frame.columns) != RETURN_COLUMNS:
        raise ValueError(f"a return has the columns {', '.join(RETURN_COLUMNS)}; got {', '.join(map(str, frame.columns))}")
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: quotes where needed, CRLF line ends
    writer.writerow(RETURN_COLUMNS)
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(RETURN_COLUMNS, record):
            if column in _TEXT_COLUMNS:
                cells.append(_text_cell(value))
            elif isinstance(value, str) and value == MARKER:  # suppressed (suppressed_return)
                cells.append(MARKER)
            elif pd.isna(value):
                cells.append("")
            elif column.endswith("_rate"):
                cells.append(f"{value:.4f}")
            else:
                cells.append(str(int(value)))
        writer.writerow(cells)
    return out.getvalue()


def return_file_name(quarter: Quarter, as_of: date) -> str:
    return f"victims-code-return-{quarter}-as-of-{as_of:%Y-%m-%d}.csv"
