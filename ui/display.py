"""Tables and wording shared by pages: rates shown with their numerator, denominator and interval."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics import contract
from metrics.catalogue import Catalogue, Entitlement
from metrics.rates import format_rate

__all__ = ["interval_text", "count_text", "rates_table", "MEASUREMENT_NOTES", "definition_rows", "format_rate_short", "LATEST_MONTH_NOTE",
           "side_by_side_table", "latest_month_note",
           "rate_choice", "rights_glance_table", "number", "ratio",
           "channel_shares"]

MEASUREMENT_NOTES = """
- **Eligible** (the denominator): instances of the entitlement triggered in the period, less those recorded
  as *not applicable* (counted separately, with their reasons) and those *not yet due*.
- **Delivered**: delivered, or offered and declined, on or before the as-of date.
- **On time**: delivered on or before the N-th working day after the trigger, where N is the Code's timescale
  for standard or enhanced-rights victims. Weekends and England & Wales bank holidays are not working days;
  delivery on the trigger day counts as on time. Entitlements with no timescale have no on-time figure.
- **Not yet due**: not delivered by the as-of date, but the deadline falls after it. Excluded, never a failure.
- **95% CI**: the Wilson score interval. With small numbers it is wide: differences inside it may be chance.
- Every rate is its numerator over its denominator at the level shown; rates are never averaged.
- **The latest month can look low.** An entitlement with no timescale is never "not yet due", so one still
  pending on the data date counts as not delivered until it is recorded.
"""

LATEST_MONTH_NOTE = ("The latest month can look low: entitlements with no timescale that were still pending on "
                     "the data date count as not delivered.")


def latest_month_note(filters) -> str:
    """The caveat above, only when the chosen period includes a month that had not settled by the data date."""
    return LATEST_MONTH_NOTE if filters.includes_settling_month() else ""


def rate_choice(label: str, key: str, offer_on_time: bool) -> tuple[str, str, str]:
    """Let the user pick the delivered or the on-time rate; returns (rate, numerator, denominator) columns."""
    choice = "Delivered"
    if offer_on_time:
        choice = st.segmented_control(label, ["Delivered", "On time"], default="Delivered", key=key, required=True)
    if choice == "On time":
        return "on_time_rate", "delivered_on_time", "eligible_timed"
    return "delivered_rate", "delivered", "eligible"


def interval_text(lower: float, upper: float) -> str:
    if pd.isna(lower) or pd.isna(upper):
        return "–"
    return f"{lower:.1%} to {upper:.1%}"


def number(value: float, digits: int = 1) -> str:
    """A figure for prose: '0.6', or an en dash where there is none."""
    return "–" if value is None or pd.isna(value) else f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def ratio(numerator: float, denominator: float) -> str:
    return "–" if not denominator else number(numerator / denominator)


def channel_shares(mix: pd.DataFrame) -> pd.DataFrame:
    """Contacts by level and channel -> one row per level: its contacts and each channel's share in %."""
    wide = mix.pivot_table(index="level", columns="channel", values="contacts", aggfunc="sum", fill_value=0)
    total = wide.sum(axis=1)
    shares = wide.div(total, axis=0) * 100
    shares.columns = [contract.label(c) for c in shares.columns]
    shares.insert(0, "Contacts", total)
    shares.insert(0, "Level", [contract.label(level) for level in shares.index])
    return shares.reset_index(drop=True)


def count_text(numerator: int, denominator: int) -> str:
    return f"{int(numerator):,} of {int(denominator):,}"


def rates_table(frame: pd.DataFrame, label_column: str, label_title: str, show_timeliness: bool = True) -> None:
    """Show rates with 'n of N' and intervals as an accessible table (rates stay numbers, so they sort)."""
    table = pd.DataFrame({
        label_title: frame[label_column],
        "Delivered %": frame["delivered_rate"] * 100,
        "n of N": [count_text(n, d) for n, d in zip(frame["delivered"], frame["eligible"])],
        "95% CI": [interval_text(lo, hi) for lo, hi in zip(frame["delivered_rate_lower"], frame["delivered_rate_upper"])],
    })
    config = {
        "Delivered %": st.column_config.NumberColumn(format="%.1f%%", help="Delivered (or offered and declined) ÷ eligible"),
        "n of N": st.column_config.TextColumn(help="Delivered of eligible"),
    }
    if show_timeliness:
        timed = frame["eligible_timed"] > 0
        table["On time %"] = frame["on_time_rate"] * 100
        table["on time, n of N"] = [count_text(n, d) if t else "no timescale"
                                    for n, d, t in zip(frame["delivered_on_time"], frame["eligible_timed"], timed)]
        table["95% CI (on time)"] = [interval_text(lo, hi) for lo, hi in zip(frame["on_time_rate_lower"], frame["on_time_rate_upper"])]
        config["On time %"] = st.column_config.NumberColumn(
            format="%.1f%%", help="Delivered within the Code's timescale ÷ eligible instances that have one")
    if "not_yet_due" in frame:
        table["Not yet due"] = frame["not_yet_due"]
        table["Not applicable"] = frame["not_applicable"]
        config["Not yet due"] = st.column_config.NumberColumn(format="localized")
        config["Not applicable"] = st.column_config.NumberColumn(format="localized")
    st.dataframe(table, hide_index=True, column_config=config,
                 alt=f"Table of delivered and on-time rates by {label_title.lower()}, with counts and 95% intervals")


def side_by_side_table(by_type: pd.DataFrame, catalogue: Catalogue) -> None:
    """On-time rates for standard and enhanced victims in one row per entitlement."""
    rows = []
    for code, group in by_type.groupby("entitlement", sort=False):
        ent = catalogue.entitlement(code)
        row = {"Entitlement": ent.label}
        for victim_type, days in (("standard", ent.standard_days), ("enhanced", ent.enhanced_days)):
            match = group[group["level"] == victim_type]
            prefix = "Standard" if victim_type == "standard" else "Enhanced"
            row[f"{prefix}: working days"] = days
            row[f"{prefix}: on time %"] = match["on_time_rate"].iloc[0] * 100 if len(match) else float("nan")
            row[f"{prefix}: n of N"] = (count_text(match["delivered_on_time"].iloc[0], match["eligible_timed"].iloc[0])
                                        if len(match) else "–")
        rows.append(row)
    config = {f"{p}: on time %": st.column_config.NumberColumn(format="%.1f%%") for p in ("Standard", "Enhanced")}
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config=config,
                 alt="Table of on-time rates for standard and enhanced-rights victims, per entitlement")


def rights_glance_table(rights: pd.DataFrame, monthly: pd.DataFrame, catalogue: Catalogue) -> None:
    """All 12 rights in one table: delivered and on-time rates with n of N, intervals and a 0-100% trend."""
    rows = []
    for right in catalogue.rights:
        totals = rights.loc[right.number]
        trend = monthly[monthly["right_no"] == right.number].sort_values("month")
        measured = bool(right.measured_entitlements)
        rows.append({
            "Right": f"{right.number}. {right.short_title}",
            "Delivered %": totals["delivered_rate"] * 100,
            "n of N": count_text(totals["delivered"], totals["eligible"]) if measured else "not measured",
            "95% CI": interval_text(totals["delivered_rate_lower"], totals["delivered_rate_upper"]),
            "Monthly trend": [round(r * 100, 1) for r in trend["delivered_rate"].dropna()],
            "On time %": totals["on_time_rate"] * 100,
            "on time, n of N": (count_text(totals["delivered_on_time"], totals["eligible_timed"])
                                if totals["eligible_timed"] > 0 else "no timescale" if measured else "not measured"),
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True, row_height=34, height=34 * (len(rows) + 1) + 3, column_config={
        "Right": st.column_config.TextColumn(width=250, pinned=True),
        "Delivered %": st.column_config.NumberColumn(format="%.1f%%", help="Delivered (or offered and declined) ÷ eligible"),
        "Monthly trend": st.column_config.LineChartColumn(
            width=120, y_min=0, y_max=100, help="Monthly delivered rate, on a fixed 0 to 100% scale so noise is not magnified"),
        "On time %": st.column_config.NumberColumn(
            format="%.1f%%", help="Delivered within the Code's timescale ÷ eligible instances that have one"),
    }, alt="Table of the 12 rights: delivered rate, n of N, 95% interval, monthly trend, and on-time rate")


def definition_rows(catalogue: Catalogue, entitlements: tuple[Entitlement, ...]) -> list[dict[str, str]]:
    """Each entitlement's definition in words, straight from the catalogue."""
    rows = []
    for ent in entitlements:
        who = catalogue.applies_to[ent.applies_to] + (f" ({ent.applies_to_note})" if ent.applies_to_note else "")
        rows.append({
            "Entitlement": ent.label,
            "What the victim is entitled to": ent.description,
            "Timescale": catalogue.timescale_sentence(ent) + (f" {ent.timescale_note}" if ent.timescale_note else ""),
            "Applies to": who,
            "Numerator": ent.numerator,
            "Denominator": ent.denominator,
            "Delivered by": catalogue.deliverers[ent.deliverer],
            "Source confidence": f"{ent.confidence.replace('_', ' ')}: {catalogue.confidence_levels[ent.confidence]}",
            "Sources": ", ".join(ent.sources),
            "Code": ent.code,
        })
    return rows


def format_rate_short(rate: float) -> str:
    """'72.4%', or an en dash where there is no rate."""
    return format_rate(rate)
