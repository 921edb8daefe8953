"""A straightforward pandas implementation of the compliance counts, for comparison with the SQL.

It applies the same written rules (docs/measurement.md) to the same entitlement_facts table, held
in memory, so the benchmark can report both the speed ratio and that the two agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from metrics.catalogue import Catalogue
from metrics.compliance import COUNT_COLUMNS
from metrics.filters import DIMENSIONS, Filters

__all__ = ["compliance_counts_pandas"]


def compliance_counts_pandas(facts: pd.DataFrame, calendar: pd.DataFrame, catalogue: Catalogue, filters: Filters,
                             breakdowns: Sequence[str] = ("total",), codes: Sequence[str] | None = None) -> pd.DataFrame:
    timescales = pd.DataFrame(
        [(e.code, e.right_no, e.standard_days, e.enhanced_days) for e in catalogue.measured_entitlements
         if codes is None or e.code in codes],
        columns=["entitlement", "right_no", "standard_days", "enhanced_days"])
    trigger = facts["trigger_date"]
    mask = (trigger >= pd.Timestamp(filters.period_start)) & (trigger <= pd.Timestamp(filters.period_end)) \
        & (trigger <= pd.Timestamp(filters.as_of))
    for name, values in filters.active().items():
        mask &= facts[DIMENSIONS[name].column].isin(values)
    f = facts[mask].merge(timescales, on="entitlement", how="inner")

    as_of = pd.Timestamp(filters.as_of)
    up_to = calendar.loc[calendar["day"] <= as_of, "wd_seq"]
    as_of_seq = up_to.max() if len(up_to) else 0
    days_allowed = np.where(f["victim_type"] == "enhanced", f["enhanced_days"], f["standard_days"]).astype(float)
    delivered = f["outcome"].isin(["delivered", "declined"]) & (f["delivered_date"] <= as_of)
    timed = ~np.isnan(days_allowed)
    due_seq = f["trigger_wd_seq"].to_numpy(dtype=float) + days_allowed
    status = np.select(
        [f["outcome"].eq("not_applicable"), delivered, timed & (as_of_seq < due_seq)],
        ["not_applicable", "delivered", "not_yet_due"], default="not_delivered")
    on_time = timed & delivered & (f["delivered_wd_seq_next"].to_numpy(dtype=float) <= due_seq)
    eligible = np.isin(status, ["delivered", "not_delivered"])
    flags = pd.DataFrame({
        "entitlement": f["entitlement"], "right_no": f["right_no"],
        "eligible": eligible, "delivered": status == "delivered", "delivered_on_time": on_time,
        "eligible_timed": eligible & timed, "not_yet_due": status == "not_yet_due",
        "not_applicable": status == "not_applicable",
    })
    parts = []
    for name in breakdowns:
        if name == "total":
            level = pd.Series("all", index=f.index)
        elif name == "month":
            level = f["trigger_month"].dt.strftime("%Y-%m")
        else:
            level = f[DIMENSIONS[name].column].astype(str)
        grouped = flags.assign(level=level.to_numpy()).groupby(["entitlement", "right_no", "level"], as_index=False)[
            list(COUNT_COLUMNS)].sum()
        parts.append(grouped.assign(breakdown=name))
    out = pd.concat(parts, ignore_index=True)
    return out[["entitlement", "right_no", "breakdown", "level", *COUNT_COLUMNS]].sort_values(
        ["breakdown", "entitlement", "level"], ignore_index=True)
