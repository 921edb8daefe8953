"""Rates from counts: Wilson score intervals, and roll-ups that add counts before dividing.

A rate is always numerator over denominator at the level shown, never an average of rates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.catalogue import Catalogue
from metrics.compliance import COUNT_COLUMNS

__all__ = ["Z_95", "wilson_interval", "add_rates", "rollup_to_rights", "format_rate"]

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes, trials, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for successes/trials (arrays or scalars); NaN where trials is 0.

    centre = (p + z^2/2n) / (1 + z^2/n);  half = z * sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(x < 0) or np.any(x > n):
        raise ValueError("successes must lie between 0 and trials")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        # At 0 or n successes the bound is exactly 0 or 1 in theory; floating point lands a hair away.
        lower = np.where(n > 0, np.where(x == 0, 0.0, np.clip(centre - half, 0.0, 1.0)), np.nan)
        upper = np.where(n > 0, np.where(x == n, 1.0, np.clip(centre + half, 0.0, 1.0)), np.nan)
    return lower, upper


def add_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Add delivered and on-time rates with Wilson 95% intervals to a frame of compliance counts.

    delivered_rate = delivered / eligible; on_time_rate = delivered_on_time / eligible_timed (only
    instances whose entitlement has a timescale). A rate with a zero denominator is NaN.
    """
    out = counts.copy()
    for rate, num, den in (("delivered_rate", "delivered", "eligible"),
                           ("on_time_rate", "delivered_on_time", "eligible_timed")):
        n = out[den].to_numpy(dtype=float)
        x = out[num].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[rate] = np.where(n > 0, x / n, np.nan)
        out[f"{rate}_lower"], out[f"{rate}_upper"] = wilson_interval(x, n)
    return out


def rollup_to_rights(counts: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """Sum entitlement counts to their right (per breakdown and level), then add rates.

    The result has one row per right and level, including rights with nothing measured (all zero),
    so a page can show all 12 rights.
    """
    keys = [k for k in ("breakdown", "level") if k in counts.columns]
    summed = counts.groupby(["right_no", *keys], as_index=False)[list(COUNT_COLUMNS)].sum()
    if not keys:
        frame = pd.DataFrame({"right_no": [r.number for r in catalogue.rights]})
    else:
        levels = counts[keys].drop_duplicates() if len(counts) else pd.DataFrame({"breakdown": ["total"], "level": ["all"]})
        frame = pd.DataFrame({"right_no": [r.number for r in catalogue.rights]}).merge(levels, how="cross")
    out = frame.merge(summed, on=["right_no", *keys], how="left")
    out[list(COUNT_COLUMNS)] = out[list(COUNT_COLUMNS)].fillna(0).astype("int64")
    return add_rates(out)


def format_rate(rate: float, lower: float | None = None, upper: float | None = None) -> str:
    """'72.4%' or '72.4% (95% CI 70.1% to 74.6%)'; an en dash where there is no rate."""
    if rate is None or pd.isna(rate):
        return "–"
    text = f"{rate:.1%}"
    if lower is not None and upper is not None and not (pd.isna(lower) or pd.isna(upper)):
        text += f" (95% CI {lower:.1%} to {upper:.1%})"
    return text
