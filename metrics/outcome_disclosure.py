"""Disclosure control for the Referral uptake and Victim voice pages, for the board: which counts to hide.

Pure, built on metrics.disclosure (its rules: a count from 1 to t-1 is hidden, so is a count whose complement
is that small, and any count from which a hidden one could be worked out). Each function protects one table
together with the total it shares with the page's headline table, and returns masks (True = hide); the pages
hide every count a mask names, with the rates, intervals and medians that rest on them.

Tables that share a total are protected one at a time, each treating the shared total as shown, and a total
hidden by any of them is then hidden in all of them: hiding more never reveals more. A two-way table (complaints
by right and outcome) cannot be protected this way, so the board is not shown one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from metrics.disclosure import DisclosurePolicy, suppress_breakdown, suppress_series

__all__ = ["TOTAL", "table_mask", "levels_mask", "months_mask", "histogram_mask", "within_shown"]

TOTAL = "\x00total"  # the total row's level: never a real level's name


def table_mask(frame: pd.DataFrame, *, dimension: str, counts: Sequence[str], total: str,
               nested: Sequence[tuple[str, str]] = (), policy: DisclosurePolicy) -> pd.DataFrame:
    """A one-way table with its total row (dimension == total) -> booleans (frame's index, `counts`)."""
    counts = list(counts)
    if frame.empty:
        return pd.DataFrame(False, index=frame.index, columns=counts)
    view = frame[[dimension, *counts]].reset_index(drop=True)
    result = suppress_breakdown(view, dimension=dimension, counts=counts, total=total, nested=list(nested),
                                policy=policy)
    mask = result.hidden[counts].to_numpy(dtype=bool)
    return pd.DataFrame(mask, index=frame.index, columns=counts)


def levels_mask(rows: pd.DataFrame, total: pd.Series, *, numerator: str, denominator: str,
                policy: DisclosurePolicy) -> tuple[pd.DataFrame, tuple[bool, bool]]:
    """Rows of several one-way breakdowns (breakdown, level, numerator, denominator) that each add up to the
    same `total` (its numerator and denominator) -> (booleans per row for the two counts, and whether the
    total's numerator and denominator must be hidden because some breakdown needed it)."""
    counts = [numerator, denominator]
    mask = pd.DataFrame(False, index=rows.index, columns=counts)
    total_hidden = np.zeros(2, dtype=bool)
    total_row = pd.DataFrame({"level": [TOTAL], numerator: [int(total[numerator])],
                              denominator: [int(total[denominator])]})
    for _, group in rows.groupby("breakdown", sort=True):
        table = pd.concat([group[["level", *counts]], total_row], ignore_index=True)
        hidden = table_mask(table, dimension="level", counts=counts, total=TOTAL, nested=[(numerator, denominator)],
                            policy=policy).to_numpy()
        mask.loc[group.index, counts] = hidden[:-1]
        total_hidden |= hidden[-1]
    return mask, (bool(total_hidden[0]), bool(total_hidden[1]))


def months_mask(history: pd.DataFrame, period: pd.DataFrame, total: pd.Series, *, numerator: str = "numerator",
                denominator: str = "denominator", policy: DisclosurePolicy) -> tuple[np.ndarray, tuple[bool, bool]]:
    """Which months of a monthly series to hide.

    history: the months charted (month, numerator, denominator). period: every month of the period with its
    counts (the same measure; a month the chart leaves out is still one of the cells that add up to the total),
    and `total` the period's total shown elsewhere. The period's months are protected with that total; the
    charted months before the period on their own (their total is taken as shown: the cautious assumption).
    Returns (True for each history row with a hidden count, whether the total's counts must be hidden)."""
    counts = [numerator, denominator]
    period_rows = period[["month", *counts]].copy()
    period_rows["level"] = pd.to_datetime(period_rows["month"]).dt.strftime("%Y-%m")
    total_row = pd.DataFrame({"level": [TOTAL], numerator: [int(total[numerator])],
                              denominator: [int(total[denominator])]})
    table = pd.concat([period_rows[["level", *counts]], total_row], ignore_index=True)
    hidden = table_mask(table, dimension="level", counts=counts, total=TOTAL, nested=[(numerator, denominator)],
                        policy=policy).to_numpy()
    hidden_months = set(period_rows.loc[hidden[:-1].any(axis=1), "level"])
    months = pd.to_datetime(history["month"]).dt.strftime("%Y-%m")
    before = history[~months.isin(set(period_rows["level"]))]
    if len(before):
        series = before[["month", *counts]].reset_index(drop=True)
        result = suppress_series(series, numerator=numerator, denominator=denominator, rate=None, policy=policy)
        flagged = result.hidden[counts].to_numpy().any(axis=1)
        hidden_months |= set(pd.to_datetime(series.loc[flagged, "month"]).dt.strftime("%Y-%m"))
    return months.isin(hidden_months).to_numpy(), (bool(hidden[-1][0]), bool(hidden[-1][1]))


def histogram_mask(bars: pd.DataFrame, total: int, *, policy: DisclosurePolicy) -> tuple[np.ndarray, bool]:
    """A histogram's bars (label, count) adding up to `total` -> (True for each hidden bar, whether the total
    must be hidden)."""
    table = pd.concat([bars[["label", "count"]], pd.DataFrame({"label": [TOTAL], "count": [int(total)]})],
                      ignore_index=True)
    hidden = table_mask(table, dimension="label", counts=["count"], total=TOTAL, policy=policy)["count"].to_numpy()
    return hidden[:-1], bool(hidden[-1])


def within_shown(bars: pd.DataFrame, hidden: np.ndarray, total_hidden: bool) -> bool:
    """Whether the count within the limit may be shown beside a histogram whose `hidden` bars are hidden: when no
    bar is hidden, or (with the total shown) every hidden bar is on the same side (within, or not), since the
    hidden bars' sum is then the total less the bars shown, which anyone can work out already."""
    if not hidden.any():
        return True
    if total_hidden:
        return False
    sides = {bool(w) if w is not None and not pd.isna(w) else False for w in bars.loc[hidden, "within"]}
    return len(sides) == 1
