"""Tables and wording shared by pages: rates shown with their numerator, denominator and interval."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.catalogue import Catalogue, Entitlement
from metrics.rates import format_rate

__all__ = ["interval_text", "count_text", "rates_table", "MEASUREMENT_NOTES", "definition_rows", "format_rate_short"]

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
"""


def interval_text(lower: float, upper: float) -> str:
    if pd.isna(lower) or pd.isna(upper):
        return "–"
    return f"{lower:.1%} to {upper:.1%}"


def count_text(numerator: int, denominator: int) -> str:
    return f"{int(numerator):,} of {int(denominator):,}"


def rates_table(frame: pd.DataFrame, label_column: str, label_title: str, show_timeliness: bool = True) -> None:
    """Show rates with n, N and intervals as an accessible table (numbers stay numbers)."""
    table = pd.DataFrame({
        label_title: frame[label_column],
        "Delivered": frame["delivered_rate"],
        "Delivered (n)": frame["delivered"],
        "Eligible (N)": frame["eligible"],
        "95% CI (delivered)": [interval_text(lo, hi) for lo, hi in zip(frame["delivered_rate_lower"], frame["delivered_rate_upper"])],
    })
    config = {
        "Delivered": st.column_config.NumberColumn(format="percent", help="Delivered (or offered and declined) ÷ eligible"),
        "Delivered (n)": st.column_config.NumberColumn(format="localized"),
        "Eligible (N)": st.column_config.NumberColumn(format="localized"),
    }
    if show_timeliness:
        table["On time"] = frame["on_time_rate"]
        table["On time (n)"] = frame["delivered_on_time"]
        table["With a timescale (N)"] = frame["eligible_timed"]
        table["95% CI (on time)"] = [interval_text(lo, hi) for lo, hi in zip(frame["on_time_rate_lower"], frame["on_time_rate_upper"])]
        config["On time"] = st.column_config.NumberColumn(format="percent", help="Delivered within the Code's timescale ÷ eligible instances that have one")
        config["On time (n)"] = st.column_config.NumberColumn(format="localized")
        config["With a timescale (N)"] = st.column_config.NumberColumn(format="localized")
    if "not_yet_due" in frame:
        table["Not yet due"] = frame["not_yet_due"]
        table["Not applicable"] = frame["not_applicable"]
    st.dataframe(table, hide_index=True, column_config=config,
                 alt=f"Table of delivered and on-time rates by {label_title.lower()}, with counts and 95% intervals")


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
