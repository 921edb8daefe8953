"""Did a monthly rate change after a known date (a feedback panel, a completed panel action, a month)?

Pure: a monthly series (month, numerator, denominator) and a change date in, a BeforeAfter out. Two views
that both allow for noise, never a bare percentage change:

1. A difference in proportions: the after period's pooled rate minus the before period's, with Newcombe's
   hybrid score 95% interval (method 10 of Newcombe 1998, built from the two Wilson intervals):

       d = p_after - p_before
       lower = d - sqrt((p_after - l_after)^2 + (u_before - p_before)^2)
       upper = d + sqrt((u_after - p_after)^2 + (p_before - l_before)^2)

   where (l, u) is each period's Wilson 95% interval. Newcombe's own example, 56/70 against 48/80, gives
   0.0524 to 0.3339 (tests/test_before_after.py checks it).
   Verdict: "higher" when the interval lies above 0, "lower" when below, "no clear change" when it includes
   0, and "too early to tell" when either period has fewer than `min_months` months with a value or a
   denominator under `min_denominator` (a verdict on a few months, or a few dozen cases, is not worth giving).

2. SPC: an XmR chart of the months before and after, with the mean and limits worked out from the before
   months only (metrics.spc's `baseline_points`) and held fixed across the after months, so the after months
   are judged against how the process behaved before. The verdict names any special cause among the after
   months (beyond a limit, a shift of 7 on one side of the before mean, a trend of 7, two of three close to a
   limit) and which side it is on. Fewer than 15 months with a value in all (metrics.spc.MIN_POINTS_SPC), or
   fewer than `min_months` before: too early to tell. Limits from fewer than 12 before months are trial limits.

Which months: records belong to a month (for referrals, the month the crime was reported). A change on the
first day of a month takes effect from that month, which is the first "after" month. A change later in a
month leaves that month out of both periods (it is partly before and partly after): the first "after" month is
the next one. Every month before the change's month is "before".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from metrics.rates import Z_95, wilson_interval
from metrics.spc import MIN_POINTS_PARTITION, MIN_POINTS_SPC, SpcResult, xmr_chart
from metrics.summaries import month_runs

__all__ = ["MIN_MONTHS", "MIN_DENOMINATOR", "VERDICT_LABELS", "ChangeSplit", "ProportionChange", "SpcChange",
           "BeforeAfter", "split_months", "newcombe_difference", "compare_proportions", "spc_after_change",
           "before_after"]

MIN_MONTHS = 3  # months with a value needed on each side before any verdict is given
MIN_DENOMINATOR = 30  # cases needed on each side for the difference in proportions

VERDICT_LABELS = {
    "higher": "Higher after",
    "lower": "Lower after",
    "no_clear_change": "No clear change",
    "too_early": "Too early to tell",
}


@dataclass(frozen=True)
class ChangeSplit:
    """Which months are before, which after, and the month left out because the change fell inside it."""

    change: date
    first_after: pd.Timestamp  # the first month of the after period
    transition: pd.Timestamp | None  # the change's own month when it is left out, else None

    def period_of(self, month: pd.Timestamp) -> str:
        """'before', 'after' or 'transition' for a month (its first day)."""
        month = pd.Timestamp(month)
        if month >= self.first_after:
            return "after"
        if self.transition is not None and month == self.transition:
            return "transition"
        return "before"


def split_months(change: date) -> ChangeSplit:
    """A change on the 1st takes effect from its own month; later in a month, from the next month."""
    month = pd.Timestamp(change).replace(day=1)
    if change.day == 1:
        return ChangeSplit(change=change, first_after=month, transition=None)
    return ChangeSplit(change=change, first_after=month + pd.DateOffset(months=1), transition=month)


def newcombe_difference(x_before: float, n_before: float, x_after: float, n_after: float,
                        z: float = Z_95) -> tuple[float, float, float]:
    """(after rate - before rate, lower, upper): Newcombe's hybrid score interval; NaN where a side has no cases."""
    if n_before <= 0 or n_after <= 0:
        return math.nan, math.nan, math.nan
    p_before, p_after = x_before / n_before, x_after / n_after
    l_before, u_before = (float(v) for v in wilson_interval(x_before, n_before, z))
    l_after, u_after = (float(v) for v in wilson_interval(x_after, n_after, z))
    difference = p_after - p_before
    lower = difference - math.sqrt((p_after - l_after) ** 2 + (u_before - p_before) ** 2)
    upper = difference + math.sqrt((u_after - p_after) ** 2 + (p_before - l_before) ** 2)
    return difference, lower, upper


@dataclass(frozen=True)
class ProportionChange:
    before_numerator: int
    before_denominator: int
    before_months: int  # months with a value (a denominator above 0)
    after_numerator: int
    after_denominator: int
    after_months: int
    before_rate: float
    before_lower: float
    before_upper: float
    after_rate: float
    after_lower: float
    after_upper: float
    difference: float  # after - before, as a fraction (0.05 = 5 percentage points)
    lower: float
    upper: float
    verdict: str  # a key of VERDICT_LABELS
    words: str  # the verdict and its figures in one or two plain sentences

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.verdict]


def _points(value: float) -> str:
    return f"{value * 100:+.1f} percentage points"


def _too_early_reasons(before_months: int, after_months: int, before_n: int, after_n: int, min_months: int,
                       min_denominator: int | None) -> list[str]:
    reasons = []
    for side, months in (("before", before_months), ("after", after_months)):
        if months < min_months:
            reasons.append(f"the {side} period has {months} month{'s' if months != 1 else ''} with cases "
                           f"(at least {min_months} are needed)")
    if min_denominator is not None:
        for side, n in (("before", before_n), ("after", after_n)):
            if n < min_denominator:
                reasons.append(f"the {side} period has {n:,} cases (at least {min_denominator} are needed)")
    return reasons


def compare_proportions(x_before: int, n_before: int, months_before: int, x_after: int, n_after: int,
                        months_after: int, *, min_months: int = MIN_MONTHS,
                        min_denominator: int = MIN_DENOMINATOR) -> ProportionChange:
    """The two periods' pooled rates, their difference with Newcombe's 95% interval, and the verdict."""
    for name, x, n in (("before", x_before, n_before), ("after", x_after, n_after)):
        if n < 0 or x < 0 or x > n:
            raise ValueError(f"the {name} period's numerator must lie between 0 and its denominator")
    rate = {}
    for side, x, n in (("before", x_before, n_before), ("after", x_after, n_after)):
        low, high = (float(v) for v in wilson_interval(x, n))
        rate[side] = (x / n if n else math.nan, low, high)
    difference, lower, upper = newcombe_difference(x_before, n_before, x_after, n_after)
    reasons = _too_early_reasons(months_before, months_after, n_before, n_after, min_months, min_denominator)
    figures = (f"{rate['after'][0]:.1%} after ({x_after:,} of {n_after:,}) against {rate['before'][0]:.1%} before "
               f"({x_before:,} of {n_before:,})") if n_before and n_after else ""
    if reasons:
        verdict = "too_early"
        words = "Too early to tell: " + "; ".join(reasons) + "."
    else:
        interval = f"{_points(difference)} (95% CI {_points(lower)} to {_points(upper)})"
        if lower > 0:
            verdict = "higher"
            words = f"Higher after: {figures}, a difference of {interval}; the interval excludes no change."
        elif upper < 0:
            verdict = "lower"
            words = f"Lower after: {figures}, a difference of {interval}; the interval excludes no change."
        else:
            verdict = "no_clear_change"
            words = (f"No clear change: {figures}, a difference of {interval}; the interval includes no change, "
                     "so the difference may be chance.")
    return ProportionChange(
        before_numerator=int(x_before), before_denominator=int(n_before), before_months=int(months_before),
        after_numerator=int(x_after), after_denominator=int(n_after), after_months=int(months_after),
        before_rate=rate["before"][0], before_lower=rate["before"][1], before_upper=rate["before"][2],
        after_rate=rate["after"][0], after_lower=rate["after"][1], after_upper=rate["after"][2],
        difference=difference, lower=lower, upper=upper, verdict=verdict, words=words)


@dataclass(frozen=True)
class SpcChange:
    result: SpcResult | None  # None when there is nothing to chart
    verdict: str  # 'higher', 'lower', 'both' (special causes on both sides), 'no_clear_change' or 'too_early'
    words: str
    after_signals: pd.DataFrame  # the after months that are special causes: date, value, signal_side, signals
    before_unstable: bool  # some before months are special causes themselves: the baseline was not stable

    @property
    def label(self) -> str:
        return {"both": "Special causes on both sides", **VERDICT_LABELS}[self.verdict]


_NO_SIGNALS = pd.DataFrame(columns=["date", "value", "signal_side", "signals"])


def spc_after_change(series: pd.DataFrame, split: ChangeSplit, *, min_months: int = MIN_MONTHS,
                     direction: str = "up") -> SpcChange:
    """An XmR chart of `series` (month, rate: NaN for a month without a value) with its limits from the before
    months only, and whether the after months show a special cause against them."""
    frame = series.sort_values("month").reset_index(drop=True)
    parts = frame["month"].map(split.period_of)
    observed = frame["rate"].notna()
    before_n = int((observed & (parts == "before")).sum())
    after_n = int((observed & (parts == "after")).sum())
    if int(observed.sum()) == 0:
        return SpcChange(None, "too_early", "Too early to tell: no months with a value.", _NO_SIGNALS, False)
    # The before months come first, so the first before_n observed points are exactly the baseline.
    result = xmr_chart(frame["rate"], frame["month"], direction=direction,
                       baseline_points=max(before_n, 2)) if before_n >= 2 else None
    reasons = _too_early_reasons(before_n, after_n, 0, 0, min_months, None)
    total = int(observed.sum())
    if total < MIN_POINTS_SPC:
        reasons.append(f"there are {total} months with a value, and process limits need at least {MIN_POINTS_SPC}")
    if result is None:
        result = xmr_chart(frame["rate"], frame["month"], direction=direction)
    if reasons:
        return SpcChange(result, "too_early", "Too early to tell by SPC: " + "; ".join(reasons) + ".", _NO_SIGNALS,
                         False)
    points = result.points
    is_after = points["date"].map(split.period_of).eq("after").to_numpy()
    special = points["special_cause"].to_numpy(dtype=bool)
    signals = points.loc[is_after & special, ["date", "value", "signal_side", "signals"]].reset_index(drop=True)
    before_unstable = bool((special & points["date"].map(split.period_of).eq("before").to_numpy()).any())
    first = points.loc[points["baseline"]].iloc[0]
    limits = (f"the before period's mean {first['mean']:.1%} and process limits {first['lpl']:.1%} to "
              f"{first['upl']:.1%}" + (f" (trial limits: from {before_n} months, fewer than {MIN_POINTS_PARTITION})"
                                       if before_n < MIN_POINTS_PARTITION else ""))
    sides = set(signals["signal_side"])
    if not sides:
        verdict = "no_clear_change"
        words = (f"No special cause in the {after_n} months after the change: they stay within {limits}, with no "
                 "shift, trend or run of points close to a limit, so any difference is within normal variation.")
    else:
        verdict = "both" if len(sides) > 1 else ("higher" if sides == {"high"} else "lower")
        described = []
        for side, words_side in (("high", "above"), ("low", "below")):
            rows = signals[signals["signal_side"] == side]
            if len(rows):
                why = sorted({s for text in rows["signals"] for s in text.split("; ") if s})
                described.append(f"{len(rows)} month{'s' if len(rows) != 1 else ''} {words_side} the before period's "
                                 f"mean ({month_runs(rows['date'])}: {', '.join(why)})")
        lead = {"higher": "Special cause, higher after", "lower": "Special cause, lower after",
                "both": "Special causes on both sides after"}[verdict]
        words = f"{lead}: judged against {limits}, " + "; and ".join(described) + "."
    if before_unstable:
        words += (" Some before months are special causes against their own limits, so the before period was not "
                  "stable: read the comparison with care.")
    return SpcChange(result, verdict, words, signals, before_unstable)


@dataclass(frozen=True)
class BeforeAfter:
    split: ChangeSplit
    months: pd.DataFrame  # the series with a 'period' column: before, transition or after
    proportions: ProportionChange
    spc: SpcChange

    @property
    def before_range(self) -> str:
        return _range(self.months, "before")

    @property
    def after_range(self) -> str:
        return _range(self.months, "after")


def _range(months: pd.DataFrame, period: str) -> str:
    rows = months[months["period"] == period]
    if rows.empty:
        return "no months"
    first, last = rows["month"].min(), rows["month"].max()
    return f"{first:%b %Y}" if first == last else f"{first:%b %Y} to {last:%b %Y}"


def before_after(series: pd.DataFrame, change: date, *, min_months: int = MIN_MONTHS,
                 min_denominator: int = MIN_DENOMINATOR, direction: str = "up") -> BeforeAfter:
    """Both views of one measure's monthly series (month, numerator, denominator) around a change date.

    A month with a denominator of 0, or with its counts missing (withheld), has no value: it is neither counted
    in a period's months nor charted.
    """
    missing = [c for c in ("month", "numerator", "denominator") if c not in series.columns]
    if missing:
        raise ValueError(f"the monthly series needs column(s) {', '.join(missing)}")
    split = split_months(change)
    frame = series[["month", "numerator", "denominator"]].copy()
    frame["month"] = pd.to_datetime(frame["month"])
    frame = frame.sort_values("month").reset_index(drop=True)
    numerator = pd.to_numeric(frame["numerator"], errors="coerce").astype(float)
    denominator = pd.to_numeric(frame["denominator"], errors="coerce").astype(float)
    has_value = denominator.gt(0) & numerator.notna()
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["rate"] = np.where(has_value, numerator / denominator, np.nan)
    frame["period"] = frame["month"].map(split.period_of)
    sums = {}
    for side in ("before", "after"):
        rows = has_value & frame["period"].eq(side)
        sums[side] = (int(numerator[rows].sum()), int(denominator[rows].sum()), int(rows.sum()))
    proportions = compare_proportions(*sums["before"][:2], sums["before"][2], *sums["after"][:2], sums["after"][2],
                                      min_months=min_months, min_denominator=min_denominator)
    spc = spc_after_change(frame[["month", "rate"]], split, min_months=min_months, direction=direction)
    return BeforeAfter(split=split, months=frame, proportions=proportions, spc=spc)
