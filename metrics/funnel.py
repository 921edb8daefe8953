"""Funnel plots (Spiegelhalter 2005) for comparing a proportion across units: districts, command
areas, teams. Pure: counts in, DataFrames out; no plotting.

Each unit's rate (numerator / denominator) is compared with the overall rate: the sum of the
numerators over the sum of the denominators (never an average of the units' rates), with control
limits that narrow as the denominator grows: 95% (2 sigma) and 99.8% (3 sigma).

The limits are exact binomial ones: for a denominator n and overall rate p0, the lower limit at tail
probability p (0.025 or 0.001) is Spiegelhalter's interpolated p-quantile of Binomial(n, p0),

    r = smallest r with P(X <= r) >= p;   a = (P(X <= r) - p) / P(X = r);   lower = (r - a) / n

and the upper limit is the same thing for the misses, n - X ~ Binomial(n, 1 - p0), turned round:
upper = 1 - lower(n, 1 - p0, p). Doing each tail from its own side (rather than reading the upper
limit off the same cumulative curve) makes a unit fall outside a limit exactly when its one-sided
exact binomial tail probability is below p:

    rate < lower  <=>  P(X <= numerator) < p;      rate > upper  <=>  P(X >= numerator) < p

so a small team at 100% is never called "above" unless 100% really is that unlikely (reading both
limits off one curve puts the upper limit half a count low and does exactly that), and the limits
for p0 = 0.5 are symmetric about 0.5. The limits are clipped to [0, 1].
method="normal" gives p0 +/- z sqrt(p0 (1 - p0) / n) instead, for cross-checks; it is poor for
small n and for rates near 0% or 100%, which compliance rates often are, so it is not the default.

A unit with a denominator of 0 (or a missing count) has no rate: it is listed with band "no_data",
named in the note, adds nothing to the overall rate and is not plotted.

No ranking: units come back in the order given (or alphabetically), never sorted by rate.
Over-dispersion (Spiegelhalter's multiplicative or additive adjustment) is not applied.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.spc import IconText

__all__ = ["TAILS", "Z_95", "Z_998", "FUNNEL_BANDS", "FunnelResult", "funnel", "funnel_limits", "funnel_curve"]

# Two-sided coverage -> probability in each tail.
TAILS = {"95": 0.025, "998": 0.001}
Z_95 = 1.959963984540054  # standard normal quantile at 0.975
Z_998 = 3.090232306167813  # standard normal quantile at 0.999
METHODS = ("exact", "normal")
LIMIT_COLUMNS = ("lower_998", "lower_95", "upper_95", "upper_998")

FUNNEL_BANDS: dict[str, IconText] = {
    "above_998": IconText(
        "Above the 99.8% limit",
        "Higher than the overall rate by far more than chance explains for a unit of this size "
        "(by chance alone, fewer than 1 in 1,000 units would be this high)."),
    "above_95": IconText(
        "Above the 95% limit",
        "Higher than the overall rate by more than chance usually explains for a unit of this size "
        "(by chance alone, about 1 in 40 units would be this high)."),
    "within": IconText(
        "Within the limits",
        "Consistent with the overall rate once the unit's size is allowed for."),
    "below_95": IconText(
        "Below the 95% limit",
        "Lower than the overall rate by more than chance usually explains for a unit of this size "
        "(by chance alone, about 1 in 40 units would be this low)."),
    "below_998": IconText(
        "Below the 99.8% limit",
        "Lower than the overall rate by far more than chance explains for a unit of this size "
        "(by chance alone, fewer than 1 in 1,000 units would be this low)."),
    "no_data": IconText(
        "No cases",
        "No cases in the period, so there is no rate to compare."),
}


# --- limits ----------------------------------------------------------------------------------------

def _binomial_pmf(n: int, p0: float, log_fact: np.ndarray) -> np.ndarray:
    """P(X = k) for k = 0..n, X ~ Binomial(n, p0), in log space so large n neither under- nor overflows."""
    if p0 <= 0.0:
        return np.eye(1, n + 1, 0).ravel()
    if p0 >= 1.0:
        return np.eye(1, n + 1, n).ravel()
    k = np.arange(n + 1)
    log_pmf = log_fact[n] - log_fact[k] - log_fact[n - k] + k * np.log(p0) + (n - k) * np.log1p(-p0)
    pmf = np.exp(log_pmf - log_pmf.max())
    return pmf / pmf.sum()


def _interpolated_lower(pmf: np.ndarray, p: float) -> float:
    """Spiegelhalter's interpolated p-quantile, (r - a) / n, from the pmf over 0..n (not clipped)."""
    n = len(pmf) - 1
    cdf = np.cumsum(pmf)
    r = int(np.searchsorted(cdf, p, side="left"))  # smallest r with F(r) >= p
    r = min(r, n)  # F(n) is 1 in theory; float rounding can leave it a hair short
    below = cdf[r - 1] if r > 0 else 0.0
    a = (cdf[r] - p) / (cdf[r] - below)
    return (r - a) / n


def _log_factorials(n_max: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n_max + 1, dtype=float)))])


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


# The same limits are asked for at every rerun of a page (same overall rate, same sizes): worked out once. The
# dict returned is shared between callers, who only read it.
@functools.lru_cache(maxsize=50_000)
def _exact_limits(centre: float, size: int) -> dict[str, float]:
    pmf = _binomial_pmf(size, centre, _log_factorials(size))
    limits = {}
    for level, p in TAILS.items():
        limits[f"lower_{level}"] = _interpolated_lower(pmf, p)
        # The upper limit is the lower limit of the misses, n - X, turned round.
        limits[f"upper_{level}"] = 1.0 - _interpolated_lower(pmf[::-1], p)
    return {k: float(np.clip(v, 0.0, 1.0)) for k, v in limits.items()}


def funnel_limits(centre: float, denominators, *, method: str = "exact") -> pd.DataFrame:
    """95% and 99.8% limits around `centre` (a proportion) at each denominator.

    Returns columns denominator, centre, lower_998, lower_95, upper_95, upper_998, one row per
    denominator given, in the order given; NaN limits where the denominator is 0 or missing or the
    centre is NaN. Exact limits need whole-number denominators.
    """
    _check_method(method)
    n = pd.Series(denominators, dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
    centre = float(centre)
    if not np.isnan(centre) and not 0.0 <= centre <= 1.0:
        raise ValueError(f"centre must be a proportion between 0 and 1, got {centre}")
    valid = np.isfinite(n) & (n > 0) & (not np.isnan(centre))
    if (n[np.isfinite(n)] < 0).any():
        raise ValueError("denominators must not be negative")
    out = {col: np.full(len(n), np.nan) for col in LIMIT_COLUMNS}
    if method == "normal":
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.sqrt(centre * (1 - centre) / n)
        for level, z in (("95", Z_95), ("998", Z_998)):
            out[f"lower_{level}"] = np.where(valid, np.clip(centre - z * se, 0.0, 1.0), np.nan)
            out[f"upper_{level}"] = np.where(valid, np.clip(centre + z * se, 0.0, 1.0), np.nan)
    elif valid.any():
        whole = n[valid]
        if (whole != np.round(whole)).any():
            raise ValueError("exact binomial limits need whole-number denominators")
        for i in np.flatnonzero(valid):
            limits = _exact_limits(float(centre), int(n[i]))
            for col in LIMIT_COLUMNS:
                out[col][i] = limits[col]
    return pd.DataFrame({"denominator": n, "centre": centre, **out})


def funnel_curve(centre: float, max_denominator: float, *, min_denominator: float = 1, points: int = 200,
                 method: str = "exact") -> pd.DataFrame:
    """Limit lines for drawing: funnel_limits at up to `points` whole denominators spaced evenly on
    a log scale from min_denominator to max_denominator (both included). Empty if there is no range
    or no centre."""
    _check_method(method)
    low, high = max(1, int(np.floor(min_denominator))), int(np.ceil(max_denominator))
    if np.isnan(centre) or high < low:
        return funnel_limits(centre, [], method=method)
    sizes = np.unique(np.round(np.geomspace(low, high, num=max(2, points))).astype(int))
    return funnel_limits(centre, sizes, method=method)


# --- the comparison --------------------------------------------------------------------------------

@dataclass(frozen=True)
class FunnelResult:
    units: pd.DataFrame  # unit, numerator, denominator, rate, limits at the unit's denominator, band, band_label
    centre: float  # the overall rate: sum of numerators / sum of denominators (NaN if no cases at all)
    curve: pd.DataFrame  # funnel_curve from 1 to the largest denominator, for drawing the limits
    outside_95: tuple[str, ...]  # units outside the 95% limits (this includes those outside 99.8%), in unit order
    outside_998: tuple[str, ...]  # units outside the 99.8% limits
    no_data: tuple[str, ...]  # units with no cases: listed, not plotted
    method: str
    note: str  # the units outside the limits named, and any units left out, in words


def _band(rate: float, lim: pd.Series) -> str:
    if np.isnan(rate):
        return "no_data"
    if rate > lim["upper_998"]:
        return "above_998"
    if rate > lim["upper_95"]:
        return "above_95"
    if rate < lim["lower_998"]:
        return "below_998"
    if rate < lim["lower_95"]:
        return "below_95"
    return "within"


def _counts(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.Series(frame[column], dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
    finite = values[np.isfinite(values)]
    if (finite < 0).any() or (finite != np.round(finite)).any():
        raise ValueError(f"{column} must be whole numbers of zero or more")
    return values


def _names(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def funnel(frame: pd.DataFrame, *, unit: str = "unit", numerator: str = "numerator",
           denominator: str = "denominator", method: str = "exact", order: str = "given") -> FunnelResult:
    """Compare each unit's rate with the overall rate using funnel limits.

    frame: one row per unit, with the unit's name and its numerator and denominator counts.
    order: 'given' (the rows' order) or 'alphabetical'; never by rate.
    """
    _check_method(method)
    if order not in ("given", "alphabetical"):
        raise ValueError("order must be 'given' or 'alphabetical'")
    names = frame[unit].astype(str)
    if names.duplicated().any():
        raise ValueError(f"unit names must be unique; repeated: {sorted(set(names[names.duplicated()]))}")
    num, den = _counts(frame, numerator), _counts(frame, denominator)
    usable = np.isfinite(num) & np.isfinite(den) & (den > 0)
    if (num[usable] > den[usable]).any():
        raise ValueError("a numerator cannot exceed its denominator")

    total_den = den[usable].sum()
    centre = float(num[usable].sum() / total_den) if total_den > 0 else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(usable, num / den, np.nan)

    units = pd.DataFrame({"unit": names.to_numpy(), "numerator": pd.Series(num).astype("Int64"),
                          "denominator": pd.Series(den).astype("Int64"), "rate": rate})
    limits = funnel_limits(centre, np.where(usable, den, np.nan), method=method)
    for col in LIMIT_COLUMNS:
        units[col] = limits[col].to_numpy()
    units["band"] = [_band(r, lim) for r, (_, lim) in zip(rate, units[list(LIMIT_COLUMNS)].iterrows())]
    units["band_label"] = [FUNNEL_BANDS[b].label for b in units["band"]]
    if order == "alphabetical":
        units = units.sort_values("unit", key=lambda s: s.str.casefold(), kind="stable")
    units = units.reset_index(drop=True)

    outside_95 = tuple(units.loc[units["band"].isin(["above_95", "above_998", "below_95", "below_998"]), "unit"])
    outside_998 = tuple(units.loc[units["band"].isin(["above_998", "below_998"]), "unit"])
    no_data = tuple(units.loc[units["band"] == "no_data", "unit"])

    notes = []
    plotted = len(units) - len(no_data)
    if plotted == 0:
        notes.append("No unit has any cases, so there is no overall rate and no funnel to draw.")
    elif outside_95:
        described = [f"{name} ({FUNNEL_BANDS[band].label[0].lower()}{FUNNEL_BANDS[band].label[1:]})"
                     for name, band in zip(units["unit"], units["band"]) if name in outside_95]
        notes.append(f"{len(outside_95)} of {plotted} units lie outside the 95% limits: {_names(described)}.")
    else:
        notes.append(f"All {plotted} units lie within the 95% limits.")
    if no_data:
        notes.append(f"Not plotted, no cases: {_names(list(no_data))}.")

    curve = funnel_curve(centre, np.nanmax(den[usable]) if usable.any() else 0, method=method)
    return FunnelResult(units=units, centre=centre, curve=curve, outside_95=outside_95, outside_998=outside_998,
                        no_data=no_data, method=method, note=" ".join(notes))
