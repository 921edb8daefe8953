"""The figures behind each page, from compliance counts (pure). Pages and the benchmark share these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from metrics.catalogue import Catalogue
from metrics.rates import add_rates, rollup_to_rights
from metrics.spc import SpcResult, xmr_chart
from metrics.targets import Target, Targets

__all__ = ["BOARD_BREAKDOWNS", "RIGHT_BREAKDOWNS", "BoardOverview", "RightDetail", "board_overview", "right_detail",
           "SPC_DIRECTION", "month_index", "monthly_rates", "monthly_series", "monthly_series_by", "SeriesSpc",
           "series_spc", "spc_of_series", "board_spc",
           "spc_summary_row", "month_runs", "exceptions"]

BOARD_BREAKDOWNS = ("total", "month")
RIGHT_BREAKDOWNS = ("total", "month", "command_area", "district", "offence_group", "victim_type")


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


# --- SPC over each measure's monthly history ----------------------------------------------------------

SPC_DIRECTION = "up"  # every compliance and contact rate is better higher


def month_index(first: date, last: date) -> pd.DatetimeIndex:
    """First days of every month from first's month to last's month, inclusive."""
    return pd.date_range(pd.Timestamp(first).replace(day=1), pd.Timestamp(last).replace(day=1), freq="MS")


def monthly_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Compliance counts (any breakdowns) -> with rates and a 'month' timestamp on the month rows."""
    return _with_month(add_rates(counts))


def _series_frame(months: pd.DatetimeIndex, numerators: np.ndarray, denominators: np.ndarray) -> pd.DataFrame:
    numerators, denominators = numerators.astype("int64"), denominators.astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(denominators > 0, numerators / denominators, np.nan)
    return pd.DataFrame({"month": months, "numerator": numerators, "denominator": denominators, "rate": rates})


def monthly_series(frame: pd.DataFrame, months: pd.DatetimeIndex, numerator: str, denominator: str) -> pd.DataFrame:
    """One row per month in `months` (month, numerator, denominator, rate) from a frame of one series'
    month rows; a month without rows, or with a zero denominator, has no rate (NaN), never 0%."""
    rows = frame.dropna(subset=["month"]).groupby("month")[[numerator, denominator]].sum()
    rows = rows.reindex(months, fill_value=0)
    return _series_frame(months, rows[numerator].to_numpy(), rows[denominator].to_numpy())


def monthly_series_by(frame: pd.DataFrame, key: str, months: pd.DatetimeIndex, numerator: str,
                      denominator: str) -> dict[object, pd.DataFrame]:
    """monthly_series for each value of `key` with month rows in `frame`, from one grouping rather than one per
    series (the Board overview has 45)."""
    sums = frame.dropna(subset=["month"]).groupby([key, "month"])[[numerator, denominator]].sum()
    if sums.empty:
        return {}
    wide = sums.unstack("month")  # one row per key; columns (count, month)
    numerators, denominators = (wide[column].reindex(columns=months).fillna(0).to_numpy()
                                for column in (numerator, denominator))
    return {value: _series_frame(months, numerators[row], denominators[row]) for row, value in enumerate(wide.index)}


@dataclass(frozen=True)
class SeriesSpc:
    """One measure's monthly series and its XmR (or run) chart."""

    code: str  # entitlement or contact-measure code, or 'right_N'
    label: str
    series: pd.DataFrame  # month, numerator, denominator, rate
    spc: SpcResult
    target: Target | None

    @property
    def latest(self) -> pd.Series | None:
        """The latest point with a value (its row of spc.points), or None."""
        observed = self.spc.points.dropna(subset=["value"])
        return observed.iloc[-1] if len(observed) else None

    @property
    def since(self) -> pd.Timestamp | None:
        """For a special-cause latest point: the first month of the unbroken run of points of the same
        type that ends with it (months without a value are skipped, as SPC skips them)."""
        points = self.spc.points
        observed = points["value"].notna().to_numpy()
        if not observed.any():
            return None
        kinds = points["point_type"].to_numpy(dtype=object)[observed]
        if not points["special_cause"].to_numpy()[observed][-1]:
            return None
        others = np.flatnonzero(kinds != kinds[-1])  # the run starts after the last point of another type
        first = others[-1] + 1 if len(others) else 0
        return pd.Timestamp(points["date"].to_numpy()[observed][first])


def series_spc(frame: pd.DataFrame, months: pd.DatetimeIndex, *, code: str, label: str, numerator: str,
               denominator: str, target: Target | None = None, rebase: date | None = None) -> SeriesSpc:
    """An XmR chart of one measure's monthly rate (higher is better) over `months`, with its target and
    limits recalculated from `rebase` if given (a run chart under 15 months with a value)."""
    return spc_of_series(monthly_series(frame, months, numerator, denominator), code=code, label=label,
                         target=target, rebase=rebase)


def spc_of_series(series: pd.DataFrame, *, code: str, label: str, target: Target | None = None,
                  rebase: date | None = None) -> SeriesSpc:
    """series_spc from a monthly_series already made."""
    result = xmr_chart(series["rate"], series["month"], direction=SPC_DIRECTION,
                       target=None if target is None else target.target,
                       rebase_dates=() if rebase is None else (pd.Timestamp(rebase),))
    return SeriesSpc(code=code, label=label, series=series, spc=result, target=target)


def board_spc(history: pd.DataFrame, catalogue: Catalogue, months: pd.DatetimeIndex,
              targets: Targets | None = None) -> tuple[dict[int, SeriesSpc], dict[str, SeriesSpc]]:
    """SPC of each measured right's and each measured entitlement's monthly delivered rate.

    history: compliance counts with the 'month' breakdown over the whole history wanted.
    Returns (by right number, by entitlement code); rights with nothing measured are left out.
    """
    month_rows = history[history["breakdown"] == "month"]
    by_entitlement = monthly_series_by(_with_month(month_rows), "entitlement", months, "delivered", "eligible")
    by_right = monthly_series_by(_with_month(rollup_to_rights(month_rows, catalogue)), "right_no", months,
                                 "delivered", "eligible")
    nothing = np.zeros(len(months), dtype="int64")

    def series_of(found: pd.DataFrame | None) -> pd.DataFrame:  # a measure without rows: every month empty
        return found if found is not None else _series_frame(months, nothing, nothing)

    rights: dict[int, SeriesSpc] = {}
    entitlements: dict[str, SeriesSpc] = {}
    for right in catalogue.rights:
        if not right.measured_entitlements:
            continue
        rights[right.number] = spc_of_series(series_of(by_right.get(right.number)), code=f"right_{right.number}",
                                             label=f"Right {right.number}: {right.short_title}")
        for ent in right.measured_entitlements:
            entitlements[ent.code] = spc_of_series(
                series_of(by_entitlement.get(ent.code)), code=ent.code, label=ent.label,
                target=None if targets is None else targets.get(ent.code, "delivered"))
    return rights, entitlements


def spc_summary_row(item: SeriesSpc) -> dict:
    """One row for a board table: the icons in words, the latest month, since when, and why."""
    latest = item.latest
    assurance = item.spc.assurance_text
    return {
        "code": item.code,
        "label": item.label,
        "chart": item.spc.kind,
        "variation_icon": item.spc.variation_icon,
        "variation": item.spc.variation_text.label,
        "assurance_icon": item.spc.assurance_icon,
        "assurance": None if assurance is None else assurance.label,
        "target": None if item.target is None else item.target.target,
        "latest_month": None if latest is None else latest["date"],
        "latest_rate": np.nan if latest is None else latest["value"],
        "latest_numerator": None if latest is None else int(
            item.series.loc[item.series["month"] == latest["date"], "numerator"].iloc[0]),
        "latest_denominator": None if latest is None else int(
            item.series.loc[item.series["month"] == latest["date"], "denominator"].iloc[0]),
        "mean": np.nan if latest is None else latest["mean"],
        "lpl": np.nan if latest is None else latest["lpl"],
        "upl": np.nan if latest is None else latest["upl"],
        "since": item.since,
        "signals": "" if latest is None else latest["signals"],
        "note": item.spc.note,
    }


def month_runs(dates) -> str:
    """'Jan 2024, Mar 2024 to Jun 2024' from month starts: consecutive months joined into ranges."""
    dates = sorted(pd.Timestamp(d) for d in dates)
    if not dates:
        return ""
    runs, start, previous = [], dates[0], dates[0]
    for d in dates[1:]:
        if (d.year - previous.year) * 12 + d.month - previous.month == 1:
            previous = d
            continue
        runs.append((start, previous))
        start = previous = d
    runs.append((start, previous))
    return ", ".join(f"{a:%b %Y}" if a == b else f"{a:%b %Y} to {b:%b %Y}" for a, b in runs)


def exceptions(rights: dict[int, SeriesSpc], entitlements: dict[str, SeriesSpc], catalogue: Catalogue,
               recent_from: date | None = None) -> pd.DataFrame:
    """The special-cause concerns among rights and entitlements, the most recent first.

    'ongoing': the latest month is a special-cause concern (the variation icon says so). 'recent' (only
    with `recent_from`): the latest month is common cause, but there were concern points from `recent_from`
    on, so a concern does not drop off the list the first month a point comes back inside the limits.
    Sorted by the last concern month, then by when the ongoing concern began (latest first), a right
    before its entitlements. Columns: right_no, level ('right'/'entitlement'), status, last_concern,
    concern_months (in words), and spc_summary_row's.
    """
    rows = []
    items = [(number, "right", item) for number, item in rights.items()]
    items += [(catalogue.entitlement(code).right_no, "entitlement", item) for code, item in entitlements.items()]
    for right_no, level, item in items:
        points = item.spc.points
        concern = points[(points["point_type"] == "special_cause_concern") & points["value"].notna()]
        ongoing = item.spc.variation_icon.startswith("concern")
        if not ongoing and item.spc.variation_icon != "common_cause":
            continue  # improving now, or no limits: not an exception
        if recent_from is not None:
            concern = concern[concern["date"] >= pd.Timestamp(recent_from)]
        if not ongoing and (recent_from is None or concern.empty):
            continue
        rows.append({"right_no": right_no, "level": level, "status": "ongoing" if ongoing else "recent",
                     "last_concern": concern["date"].max(), "concern_months": month_runs(concern["date"]),
                     **spc_summary_row(item)})
    if not rows:
        return pd.DataFrame(columns=["right_no", "level", "status", "last_concern", "concern_months", "code", "label",
                                     "variation_icon", "since"])
    frame = pd.DataFrame(rows)
    frame["_level"] = (frame["level"] == "entitlement").astype(int)
    frame = frame.sort_values(["last_concern", "since", "right_no", "_level", "label"],
                              ascending=[False, False, True, True, True], kind="stable", na_position="last")
    return frame.drop(columns="_level").reset_index(drop=True)
