"""The figures behind each page, from compliance counts (pure). Pages and the benchmark share these."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from metrics.catalogue import Catalogue
from metrics.rates import add_rates, rollup_to_rights

__all__ = ["BOARD_BREAKDOWNS", "RIGHT_BREAKDOWNS", "BoardOverview", "RightDetail", "board_overview", "right_detail"]

BOARD_BREAKDOWNS = ("total", "month")
RIGHT_BREAKDOWNS = ("total", "month", "district", "offence_group", "victim_type")


@dataclass(frozen=True)
class BoardOverview:
    entitlements: pd.DataFrame  # one row per measured entitlement: counts and rates over the period
    rights: pd.DataFrame  # one row per right (all 12), indexed by right_no: counts and rates
    rights_monthly: pd.DataFrame  # one row per right and month, with a 'month' timestamp column


@dataclass(frozen=True)
class RightDetail:
    entitlements: pd.DataFrame  # per entitlement, breakdown and level: counts, rates and 'label'
    right: pd.DataFrame  # the right's own roll-up, per breakdown and level


def _with_month(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    is_month = frame["breakdown"] == "month"
    frame["month"] = pd.NaT
    frame.loc[is_month, "month"] = pd.to_datetime(frame.loc[is_month, "level"] + "-01")
    return frame


def board_overview(counts: pd.DataFrame, catalogue: Catalogue) -> BoardOverview:
    """Counts with breakdowns BOARD_BREAKDOWNS -> the Board overview's tables."""
    totals = counts[counts["breakdown"] == "total"]
    monthly = rollup_to_rights(counts[counts["breakdown"] == "month"], catalogue)
    return BoardOverview(
        entitlements=add_rates(totals),
        rights=rollup_to_rights(totals, catalogue).set_index("right_no"),
        rights_monthly=_with_month(monthly).dropna(subset=["month"]),
    )


def right_detail(counts: pd.DataFrame, catalogue: Catalogue, number: int) -> RightDetail:
    """Counts for one right's entitlements with RIGHT_BREAKDOWNS -> the Rights compliance tables."""
    rates = _with_month(add_rates(counts))
    rates["label"] = [catalogue.entitlement(code).label for code in rates["entitlement"]]
    rolled = rollup_to_rights(counts, catalogue)
    return RightDetail(entitlements=rates, right=_with_month(rolled[rolled["right_no"] == number]))
