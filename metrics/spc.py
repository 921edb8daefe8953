"""Statistical process control the NHS England "Making Data Count" (MDC) way: XmR charts, the four
special-cause rules, and the variation and assurance icons, with words for every icon.

Pure: values and dates in, an SpcResult (dataclasses and DataFrames) out. No I/O, no plotting.

The maths (peers-and-conventions.md B2-B4; NHSRplotthedots and the NHSE SQL v2.6 agree on it):

    centre line   mean of the partition's baseline points
    MR-bar        mean of |x_i - x_(i-1)| over the baseline points
    limits        mean +/- 2.66 x MR-bar                    (about 3 sigma: 2.66 = 3 / 1.128)
    near limits   mean +/- (2/3 x 2.66) x MR-bar            (2 sigma)

Choices where the reference leaves one open:

* Moving-range outlier screening is off by default, as in the MDC Excel tool and the NHSE SQL
  (`@ExcludeMovingRangeOutliers = 0`), so the limits match the tools NHS and police analysts already
  use; `screen_outliers=True` drops moving ranges above 3.267 x MR-bar once and recomputes MR-bar
  (the NHSRplotthedots default).
* Fewer than MIN_POINTS_SPC (15) months with a value: a run chart, as the NHSE SQL does it: the mean
  is kept as the centre line but the "SPC elements are removed": no limits, no rules, no icons. The
  count is over the whole chart, ignoring rebases (also as the SQL).
* Rebasing: each rebase date starts a partition with its own mean and limits, from all its points or
  (baseline_points=N) its first N; the moving range across a break is not used, and rules run
  within a partition only. A partition whose limits rest on fewer than MIN_POINTS_PARTITION (12)
  points still gets limits, marked `trial` and named in the note (the SQL's warning, made visible):
  a change brought in after a panel should show its effect straight away, flagged as provisional.
  A partition with a single point has no moving range, so no limits, no rules, and if it holds the
  latest month, the variation icon is "not_enough_data".
* Rule 4 follows B3, which is stricter than the issue's shorthand ("two of three beyond two sigma
  on the same side"): only points between the near limit and the process limit count as close
  (a point beyond the limits is not close), all three points must be on the same side of the mean,
  and only the close points are flagged.
* "Beyond" is strict everywhere, as in NHSRplotthedots: a point exactly on a process limit is not
  outside it (it is close), and a point exactly on a near limit is not close.
* A flagged point is an improvement or a concern by where it lies, as B3 and NHSRplotthedots do it
  (the NHSE SQL instead goes by the rule's direction and a per-measure conflict setting): above the
  mean is "high", below is "low". Only a trend point can sit exactly on the mean; it takes its
  trend's direction (a peak on the mean that ends a rise and starts a fall counts as the concerning
  side, the SQL sample metrics' conflict setting).
* Assurance counts a target exactly on a limit as pass or fail, as the NHSE SQL (>= v2.1) does
  (NHSRplotthedots uses strict inequalities and calls it hit and miss). For a compliance rate with
  "at least X%" targets, a process whose lower limit is exactly X% will meet X% every month, so
  "consistently passing" is the true statement. Pass is tested first, so a flat series sitting on
  its target (limits collapsed onto it) is passing, not failing.
* Missing values (NaN: months with no denominator) are kept as rows but are not points: they are
  skipped for the mean, the moving ranges, the rules and the icons, exactly as if the month's row
  were absent from the MDC tools. So a moving range, a shift or a trend carries across a gap; the
  note says how many months were skipped.
* "Exactly on the mean" allows for float noise (ON_MEAN_TOLERANCE, relative): 0.6 and 0.8 average to
  0.7000000000000001, and a month at 7/10 = 0.7 must count as on that mean, not below it. The same
  allowance applies to a target on a limit.
* Limits are not clipped to 0-100%: clipping would change which points are beyond them and the
  assurance icon; a chart may clip what it draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "LIMIT_FACTOR", "NEAR_LIMIT_FACTOR", "MR_SCREEN_FACTOR", "MIN_POINTS_SPC", "MIN_POINTS_PARTITION",
    "DEFAULT_RUN_LENGTH", "RUN_LENGTH_RANGE", "DIRECTIONS", "ON_MEAN_TOLERANCE", "RUN_CHART_NOTE",
    "IconText", "VARIATION_ICONS", "ASSURANCE_ICONS", "POINT_TYPES",
    "SpcResult", "xmr_chart", "xmr_limits",
    "rule_outside", "rule_shift", "rule_trend", "rule_two_of_three",
]

LIMIT_FACTOR = 2.66  # 3 / d2, d2 = 1.128 for moving ranges of two
NEAR_LIMIT_FACTOR = 2 * LIMIT_FACTOR / 3  # 2 sigma = 1.7733...
MR_SCREEN_FACTOR = 3.267  # D4 for n = 2: the upper limit of the moving-range chart
MIN_POINTS_SPC = 15  # NHSE SQL @SettingMinimumPoints
MIN_POINTS_PARTITION = 12  # NHSE SQL @SettingMinimumPointsPartition; fewer -> trial limits
DEFAULT_RUN_LENGTH = 7  # shift and trend length (@SettingSpecialCauseShiftPoints / TrendPoints)
RUN_LENGTH_RANGE = (6, 8)  # the lengths the NHSE SQL accepts without warning
DIRECTIONS = ("up", "down", "neither")
# Rates are fractions such as 7/10 whose float mean can land a hair off the value (0.6 and 0.8 average
# to 0.7000000000000001): a point this close to the mean, relative to its size, counts as on it.
ON_MEAN_TOLERANCE = 1e-9
RUN_CHART_NOTE = (f"Fewer than {MIN_POINTS_SPC} points: a run chart without process limits; "
                  f"limits need at least {MIN_POINTS_SPC} months.")


@dataclass(frozen=True)
class IconText:
    label: str  # short words shown beside (or instead of) the icon
    sentence: str  # one plain-English sentence for captions, alt text and the board pack


# Colour is never the only carrier of meaning: every icon and point type has words.
VARIATION_ICONS: dict[str, IconText] = {
    "common_cause": IconText(
        "Common cause variation",
        "The latest month is within the normal month-to-month variation of this process, "
        "so there is no sign of a real change."),
    "improvement_high": IconText(
        "Special cause: improving (high)",
        "The latest month is part of an unusual pattern above the average, and higher is better "
        "for this measure, so this points to a real improvement."),
    "improvement_low": IconText(
        "Special cause: improving (low)",
        "The latest month is part of an unusual pattern below the average, and lower is better "
        "for this measure, so this points to a real improvement."),
    "concern_high": IconText(
        "Special cause: concerning (high)",
        "The latest month is part of an unusual pattern above the average, and lower is better "
        "for this measure, so this points to a real deterioration worth looking into."),
    "concern_low": IconText(
        "Special cause: concerning (low)",
        "The latest month is part of an unusual pattern below the average, and higher is better "
        "for this measure, so this points to a real deterioration worth looking into."),
    "neither_high": IconText(
        "Special cause: neither (high)",
        "The latest month is part of an unusual pattern above the average; this measure has no "
        "better direction, so it is a real change rather than a good or a bad one."),
    "neither_low": IconText(
        "Special cause: neither (low)",
        "The latest month is part of an unusual pattern below the average; this measure has no "
        "better direction, so it is a real change rather than a good or a bad one."),
    "not_enough_data": IconText(
        "Not enough data for SPC",
        "There are too few months with a value to set process limits, so no variation signal "
        "is given yet."),
}

ASSURANCE_ICONS: dict[str, IconText] = {
    "consistently_passing": IconText(
        "Consistently passing the target",
        "The process limits are both on the passing side of the target, so the target can be "
        "expected to be met every month unless the process changes."),
    "consistently_failing": IconText(
        "Consistently failing the target",
        "The process limits are both on the failing side of the target, so the target will not be "
        "met without a change to how the work is done."),
    "hit_and_miss": IconText(
        "Hit and miss",
        "The target lies between the process limits, so it will be met in some months and missed in "
        "others by chance alone."),
}

POINT_TYPES: dict[str, IconText] = {
    "common_cause": IconText("Common cause", "Within the normal variation of the process."),
    "special_cause_improvement": IconText(
        "Special cause: improving", "Part of an unusual pattern on the better side of the average."),
    "special_cause_concern": IconText(
        "Special cause: concerning", "Part of an unusual pattern on the worse side of the average."),
    "special_cause_neither": IconText(
        "Special cause: neither", "Part of an unusual pattern, for a measure with no better direction."),
    "not_assessed": IconText(
        "Not assessed", f"A run chart: fewer than {MIN_POINTS_SPC} months, so no rules are applied."),
    "no_data": IconText("No value", "No value this month (no cases), so it is not a point on the chart."),
}

_RULE_WORDS = {
    "rule_outside": "beyond a process limit",
    "rule_shift": "shift: a long run on one side of the mean",
    "rule_trend": "trend: a long run of rises or falls",
    "rule_two_of_three": "two of three close to a process limit",
}


# --- the four rules, over the observed points of one partition, in date order (no NaN) ---------------

def _runs_at_least(mask: np.ndarray, length: int) -> np.ndarray:
    """True at every position that belongs to a run of at least `length` consecutive Trues."""
    mask = np.asarray(mask, dtype=bool)
    out = np.zeros(mask.shape, dtype=bool)
    start = None
    for i, flag in enumerate([*mask.tolist(), False]):  # a sentinel closes the last run
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start >= length:
                out[start:i] = True
            start = None
    return out


def _side_of_mean(values, mean) -> np.ndarray:
    """+1 above the mean, -1 below, 0 on it (within ON_MEAN_TOLERANCE, relative)."""
    v = np.asarray(values, dtype=float)
    tol = ON_MEAN_TOLERANCE * max(1.0, abs(float(mean)))
    return np.where(v > mean + tol, 1, np.where(v < mean - tol, -1, 0))


def rule_outside(values, upl, lpl) -> np.ndarray:
    """Rule 1: a point strictly above the upper or below the lower process limit."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):  # NaN limits (no limits) never flag
        return (v > upl) | (v < lpl)


def rule_shift(values, mean, length: int = DEFAULT_RUN_LENGTH) -> np.ndarray:
    """Rule 2: `length` or more consecutive points all above, or all below, the mean; every point of
    the run is flagged. A point exactly on the mean is on neither side, so it breaks the run."""
    side = _side_of_mean(values, mean)
    return _runs_at_least(side > 0, length) | _runs_at_least(side < 0, length)


def _trend_runs(values, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(rising, falling): points in a run of `length` or more points each strictly above (below) the
    one before, counting both ends, i.e. length - 1 successive rises (falls)."""
    v = np.asarray(values, dtype=float)
    rising = np.zeros(v.shape, dtype=bool)
    falling = np.zeros(v.shape, dtype=bool)
    if len(v) < 2:
        return rising, falling
    step = np.diff(v)  # step[i] joins point i to point i + 1; equal neighbours are neither
    for out, moves in ((rising, step > 0), (falling, step < 0)):
        in_run = _runs_at_least(moves, length - 1)
        out[:-1] |= in_run  # the step's first point
        out[1:] |= in_run  # and its second
    return rising, falling


def rule_trend(values, length: int = DEFAULT_RUN_LENGTH) -> np.ndarray:
    """Rule 3: `length` or more consecutive points each strictly higher (or each strictly lower) than
    the previous, endpoints included; equal neighbours break the trend; every point is flagged."""
    rising, falling = _trend_runs(values, length)
    return rising | falling


def _close(values, upl, lpl, upper_near, lower_near) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return ~rule_outside(v, upl, lpl) & ((v > upper_near) | (v < lower_near))


def rule_two_of_three(values, mean, upl, lpl, upper_near, lower_near) -> np.ndarray:
    """Rule 4 (B3): in any 3 consecutive points all on the same side of the mean, at least 2 are
    close to a limit (beyond the near limit but not beyond the process limit); only the close points
    are flagged. A point beyond the limits is not close, and a point on the mean is on no side."""
    v = np.asarray(values, dtype=float)
    close = _close(v, upl, lpl, upper_near, lower_near)
    side = _side_of_mean(v, mean)
    above, below = side > 0, side < 0
    out = np.zeros(v.shape, dtype=bool)
    for s in range(len(v) - 2):
        window = slice(s, s + 3)
        same_side = above[window].all() or below[window].all()
        if same_side and close[window].sum() >= 2:
            out[window] |= close[window]
    return out


# --- limits ----------------------------------------------------------------------------------------

def xmr_limits(values, *, screen_outliers: bool = False) -> dict[str, float]:
    """Mean, MR-bar and limits from baseline values (no NaN), as a dict:
    mean, mr_bar, upl, lpl, upper_near, lower_near, screened (moving ranges dropped).
    With one value there is no moving range: mr_bar and the limits are NaN."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        raise ValueError("xmr_limits needs at least one value")
    # fsum, and the value itself for a flat series, so a flat series sits exactly on its mean.
    mean = float(v[0]) if (v == v[0]).all() else math.fsum(v) / len(v)
    mr = np.abs(np.diff(v))
    screened = 0
    if len(mr) == 0:
        mr_bar = float("nan")
    else:
        mr_bar = float(mr.mean())
        if screen_outliers:
            keep = mr <= MR_SCREEN_FACTOR * mr_bar  # one pass, as NHSRplotthedots
            screened = int((~keep).sum())
            mr_bar = float(mr[keep].mean())
    return {
        "mean": mean, "mr_bar": mr_bar,
        "upl": mean + LIMIT_FACTOR * mr_bar, "lpl": mean - LIMIT_FACTOR * mr_bar,
        "upper_near": mean + NEAR_LIMIT_FACTOR * mr_bar, "lower_near": mean - NEAR_LIMIT_FACTOR * mr_bar,
        "screened": screened,
    }


# --- the chart -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpcResult:
    points: pd.DataFrame  # one row per month given, in date order (columns: see xmr_chart)
    partitions: pd.DataFrame  # one row per partition: start, end, points, mean, mr_bar, limits, trial
    kind: str  # 'xmr' or 'run'
    note: str  # what the chart cannot show and why; '' when there is nothing to say
    variation_icon: str  # a key of VARIATION_ICONS
    assurance_icon: str | None  # a key of ASSURANCE_ICONS; None without a target, for 'neither' or no limits
    direction: str
    target: float | None

    @property
    def variation_text(self) -> IconText:
        return VARIATION_ICONS[self.variation_icon]

    @property
    def assurance_text(self) -> IconText | None:
        return None if self.assurance_icon is None else ASSURANCE_ICONS[self.assurance_icon]

    def summary(self) -> dict:
        """One board-table row: the latest point with its partition's mean and limits, and both icons
        with their words."""
        observed = self.points.dropna(subset=["value"])
        last = observed.iloc[-1] if len(observed) else None
        assurance = self.assurance_text
        return {
            "kind": self.kind,
            "latest_date": None if last is None else last["date"],
            "latest_value": np.nan if last is None else last["value"],
            "mean": np.nan if last is None else last["mean"],
            "upl": np.nan if last is None else last["upl"],
            "lpl": np.nan if last is None else last["lpl"],
            "target": self.target,
            "variation_icon": self.variation_icon,
            "variation_label": self.variation_text.label,
            "variation_sentence": self.variation_text.sentence,
            "assurance_icon": self.assurance_icon,
            "assurance_label": None if assurance is None else assurance.label,
            "assurance_sentence": None if assurance is None else assurance.sentence,
            "note": self.note,
        }


def _check_run_length(name: str, length: int) -> None:
    low, high = RUN_LENGTH_RANGE
    if not low <= length <= high:
        raise ValueError(f"{name} must be between {low} and {high} (MDC default {DEFAULT_RUN_LENGTH}), got {length}")


def _month(ts: pd.Timestamp) -> str:
    return ts.strftime("%b %Y")


def _signal_side(side: float, rising: bool, falling: bool, direction: str) -> str:
    """'high' or 'low' for a flagged point: by its side of the mean; on the mean, by its trend."""
    if side > 0:
        return "high"
    if side < 0:
        return "low"
    if rising and not falling:
        return "high"
    if falling and not rising:
        return "low"
    # A peak or trough exactly on the mean, in a rise and a fall at once: take the concerning side.
    return "low" if direction == "up" else "high"


def _point_type(signal_side: str, direction: str) -> str:
    if direction == "neither":
        return "special_cause_neither"
    improving = (signal_side == "high") == (direction == "up")
    return "special_cause_improvement" if improving else "special_cause_concern"


def _assurance(target: float, upl: float, lpl: float, direction: str) -> str | None:
    """NHSE SQL (>= v2.1): a target on a limit counts; pass is tested before fail."""
    if np.isnan(upl) or np.isnan(lpl):
        return None
    tol = ON_MEAN_TOLERANCE * max(1.0, abs(target))  # float noise in the limits must not flip the icon
    upl, lpl = upl - tol, lpl + tol  # so "on the limit" includes a hair either side
    if direction == "up":
        if target <= lpl:
            return "consistently_passing"
        if target >= upl:
            return "consistently_failing"
    else:
        if target >= upl:
            return "consistently_passing"
        if target <= lpl:
            return "consistently_failing"
    return "hit_and_miss"


def _as_floats(values) -> np.ndarray:
    """Values as a float array, NaN for a missing one (None, pd.NA, NaN)."""
    if (isinstance(values, (pd.Series, np.ndarray)) and isinstance(values.dtype, np.dtype)
            and values.dtype.kind in "fiu"):  # numpy numbers: no missing marker but NaN
        return np.asarray(values, dtype=float)
    return pd.Series(list(values), dtype="Float64").to_numpy(dtype=float, na_value=np.nan)


def _as_dates(dates) -> pd.Series:
    """Dates as a datetime Series, read by pandas whatever they came as."""
    if isinstance(dates, (pd.Series, pd.Index, np.ndarray)) and isinstance(dates.dtype, np.dtype) \
            and dates.dtype.kind == "M":  # naive numpy datetimes
        return pd.Series(np.asarray(dates))
    return pd.to_datetime(pd.Series(list(dates), dtype=object))


def xmr_chart(
    values: Sequence[float],
    dates: Sequence,
    *,
    direction: str = "up",
    target: float | None = None,
    rebase_dates: Sequence = (),
    baseline_points: int | None = None,
    shift_points: int = DEFAULT_RUN_LENGTH,
    trend_points: int = DEFAULT_RUN_LENGTH,
    screen_outliers: bool = False,
) -> SpcResult:
    """An MDC XmR chart (or a run chart under MIN_POINTS_SPC points) for monthly values.

    values: rates as fractions, or counts; NaN (or None) for a month with no denominator.
    dates: one per value (anything pandas reads as a date); sorted here, must be unique.
    direction: 'up' or 'down' is better, or 'neither'.
    target: optional; feeds the assurance icon (only for 'up'/'down').
    rebase_dates: each starts a new partition (limits recalculated from that date, e.g. after a
        change agreed at a feedback panel); a run never spans a break.
    baseline_points: if given, each partition's mean and limits come from its first N points only.
    shift_points, trend_points: run lengths for rules 2 and 3 (6 to 8, default 7).
    screen_outliers: drop moving ranges above 3.267 x MR-bar before setting limits (default off).

    points columns: date, value, partition, baseline (used for the limits), moving_range, mean, upl,
    lpl, upper_near, lower_near, trial, rule_outside, rule_shift, rule_trend, rule_two_of_three,
    special_cause, signal_side ('high'/'low' for special-cause points, else None), point_type (a key
    of POINT_TYPES) and signals (the rules a point breaks, in words).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    _check_run_length("shift_points", shift_points)
    _check_run_length("trend_points", trend_points)
    if baseline_points is not None and baseline_points < 2:
        raise ValueError("baseline_points needs at least 2 points (one moving range)")
    if target is not None and not np.isfinite(target):
        raise ValueError("target must be a finite number")

    v = _as_floats(values)
    d = _as_dates(dates)
    if len(v) != len(d):
        raise ValueError(f"{len(v)} values but {len(d)} dates")
    if d.isna().any():
        raise ValueError("every value needs a date")
    if d.duplicated().any():
        raise ValueError("dates must be unique (one value per month)")
    if np.isinf(v).any():
        raise ValueError("values must be finite or NaN")

    order = np.argsort(d.to_numpy(), kind="stable")
    point_dates, point_values = d.to_numpy()[order], v[order]
    breaks = np.sort(pd.to_datetime(pd.Series(list(rebase_dates), dtype=object)).dropna().unique())
    raw_part = np.searchsorted(breaks, point_dates, side="right")
    # Number the partitions that have rows 0, 1, 2 ... (a rebase before the first month does nothing). The dates
    # are sorted, so each partition is one run of rows.
    partition = pd.factorize(raw_part)[0] if len(point_dates) else np.zeros(0, dtype=int)

    observed = ~np.isnan(point_values)
    n_observed = int(observed.sum())
    kind = "xmr" if n_observed >= MIN_POINTS_SPC else "run"

    n = len(point_dates)
    cols = {name: np.full(n, np.nan) for name in ("moving_range", "mean", "upl", "lpl", "upper_near", "lower_near")}
    flags = {name: np.zeros(n, dtype=bool) for name in ("baseline", "trial", *_RULE_WORDS)}
    rising_all = np.zeros(n, dtype=bool)
    falling_all = np.zeros(n, dtype=bool)
    notes: list[str] = []
    part_rows = []

    for part in range(int(partition.max()) + 1 if n else 0):
        rows = np.flatnonzero(partition == part)
        obs_rows = rows[observed[rows]]
        start, end = pd.Timestamp(point_dates[rows[0]]), pd.Timestamp(point_dates[rows[-1]])
        if len(obs_rows) == 0:
            part_rows.append({"partition": part, "start": start, "end": end, "points": 0,
                              "baseline_points": 0, "mean": np.nan, "mr_bar": np.nan, "upl": np.nan, "lpl": np.nan,
                              "upper_near": np.nan, "lower_near": np.nan, "trial": False, "screened": 0})
            if len(breaks):
                notes.append(f"The period from {_month(start)} has no values.")
            continue
        x = point_values[obs_rows]
        cols["moving_range"][obs_rows[1:]] = np.abs(np.diff(x))
        base_n = len(x) if baseline_points is None else min(baseline_points, len(x))
        flags["baseline"][obs_rows[:base_n]] = True
        lim = xmr_limits(x[:base_n], screen_outliers=screen_outliers)
        has_limits = kind == "xmr" and not np.isnan(lim["mr_bar"])
        trial = has_limits and base_n < MIN_POINTS_PARTITION
        cols["mean"][rows] = lim["mean"]  # the centre line spans the partition's empty months too
        if has_limits:
            for key in ("upl", "lpl", "upper_near", "lower_near"):
                cols[key][rows] = lim[key]
            flags["trial"][rows] = trial
        part_rows.append({"partition": part, "start": start, "end": end, "points": len(x),
                          "baseline_points": base_n, "mean": lim["mean"], "mr_bar": lim["mr_bar"],
                          "upl": cols["upl"][rows[0]], "lpl": cols["lpl"][rows[0]],
                          "upper_near": cols["upper_near"][rows[0]], "lower_near": cols["lower_near"][rows[0]],
                          "trial": trial, "screened": lim["screened"]})
        if kind != "xmr":
            continue  # a run chart: SPC elements removed (NHSE SQL)
        if not has_limits:
            notes.append(f"The period from {_month(start)} has a single point: no limits can be set for it.")
            continue
        if trial:
            notes.append(f"Limits from {_month(start)} are trial limits: based on {base_n} points, "
                         f"fewer than {MIN_POINTS_PARTITION}.")
        if lim["mr_bar"] == 0:
            notes.append(f"Every baseline value from {_month(start)} is the same, so the limits sit on the mean.")
        if lim["screened"]:
            notes.append(f"{lim['screened']} unusually large month-to-month change(s) from {_month(start)} were "
                         f"left out of the limits (moving ranges above {MR_SCREEN_FACTOR} x the average).")
        flags["rule_outside"][obs_rows] = rule_outside(x, lim["upl"], lim["lpl"])
        flags["rule_shift"][obs_rows] = rule_shift(x, lim["mean"], shift_points)
        rising, falling = _trend_runs(x, trend_points)
        rising_all[obs_rows], falling_all[obs_rows] = rising, falling
        flags["rule_trend"][obs_rows] = rising | falling
        flags["rule_two_of_three"][obs_rows] = rule_two_of_three(
            x, lim["mean"], lim["upl"], lim["lpl"], lim["upper_near"], lim["lower_near"])

    special = np.zeros(n, dtype=bool)
    for key in _RULE_WORDS:
        special |= flags[key]
    signal_side: list[str | None] = [None] * n
    point_type: list[str] = []
    signals: list[str] = []
    for i in range(n):
        if not observed[i]:
            point_type.append("no_data")
        elif kind == "run":
            point_type.append("not_assessed")
        elif not special[i]:
            point_type.append("common_cause")
        else:
            side = _signal_side(_side_of_mean(point_values[i], cols["mean"][i]), rising_all[i], falling_all[i], direction)
            signal_side[i] = side
            point_type.append(_point_type(side, direction))
        signals.append("; ".join(words for key, words in _RULE_WORDS.items() if flags[key][i]))

    # One constructor call: adding 19 columns one by one (DataFrame.assign) took most of a chart's time.
    points = pd.DataFrame({
        "date": point_dates, "value": point_values,
        "partition": partition, "baseline": flags["baseline"], **cols, "trial": flags["trial"],
        **{key: flags[key] for key in _RULE_WORDS},
        "special_cause": special, "signal_side": signal_side, "point_type": point_type, "signals": signals,
    })
    partitions = pd.DataFrame(part_rows, columns=[
        "partition", "start", "end", "points", "baseline_points", "mean", "mr_bar", "upl", "lpl",
        "upper_near", "lower_near", "trial", "screened"])

    # Icons come from the latest month with a value (MDC: the latest non-ghosted point).
    variation_icon = "not_enough_data"
    assurance_icon = None
    if kind == "xmr":
        last = int(np.flatnonzero(observed)[-1])
        if not np.isnan(cols["upl"][last]):
            pt = point_type[last]
            if pt == "common_cause":
                variation_icon = "common_cause"
            else:
                prefix = {"special_cause_improvement": "improvement", "special_cause_concern": "concern",
                          "special_cause_neither": "neither"}[pt]
                variation_icon = f"{prefix}_{signal_side[last]}"
            if target is not None and direction != "neither":
                assurance_icon = _assurance(float(target), cols["upl"][last], cols["lpl"][last], direction)

    if n_observed == 0:
        notes.insert(0, "No months with a value: there is nothing to chart.")
    elif kind == "run":
        plural = "s" if n_observed != 1 else ""
        notes.insert(0, RUN_CHART_NOTE + f" This chart has {n_observed} month{plural} with a value.")
    missing = n - n_observed
    if missing and n_observed:
        notes.append(f"{missing} month{'s' if missing != 1 else ''} with no value (no cases) "
                     f"{'are' if missing != 1 else 'is'} left out of the mean, limits and rules.")

    return SpcResult(points=points, partitions=partitions, kind=kind, note=" ".join(notes),
                     variation_icon=variation_icon, assurance_icon=assurance_icon,
                     direction=direction, target=None if target is None else float(target))
