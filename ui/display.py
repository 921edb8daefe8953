"""Tables and wording shared by pages: rates shown with their numerator, denominator and interval, and
the SPC and funnel sections with their words, captions and table alternatives."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
import pandas as pd
import streamlit as st

from metrics import contract
from metrics.catalogue import Catalogue, Entitlement
from metrics.disclosure import MARKER
from metrics.funnel import FUNNEL_BANDS, FunnelResult, funnel
from metrics.rates import format_rate
from metrics.spc import MIN_POINTS_SPC, POINT_TYPES
from metrics.summaries import SeriesSpc
from ui import charts

__all__ = ["interval_text", "count_text", "rates_table", "MEASUREMENT_NOTES", "definition_rows", "format_rate_short", "LATEST_MONTH_NOTE",
           "side_by_side_table", "latest_month_note",
           "rate_choice", "rights_glance_table", "number", "ratio",
           "channel_shares", "plain", "VARIATION_MARKS", "ASSURANCE_MARKS", "icons_markdown", "SPC_KEY",
           "target_problems", "rebase_choice", "spc_chart", "spc_grid", "spc_table", "funnel_section",
           "exceptions_section", "ASSURANCE_SHORT", "right_assurance"]

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


def count_text(numerator, denominator) -> str:
    """'3 of 4'; a count withheld by disclosure control (missing) shows as [c]."""
    def one(value) -> str:
        return MARKER if value is None or pd.isna(value) else f"{int(value):,}"
    return f"{one(numerator)} of {one(denominator)}"


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


def rights_glance_table(rights: pd.DataFrame, monthly: pd.DataFrame, catalogue: Catalogue,
                        spc: dict[int, SeriesSpc] | None = None, assurance: dict[int, str] | None = None,
                        spc_months: str = "") -> None:
    """All 12 rights in one table: delivered and on-time rates with n of N, intervals, a 0-100% trend, and
    (given `spc`) each right's variation icon in words from its monthly delivered rate over the whole
    history, and the assurance of any targets on its entitlements."""
    rows = []
    for right in catalogue.rights:
        totals = rights.loc[right.number]
        trend = monthly[monthly["right_no"] == right.number].sort_values("month")
        measured = bool(right.measured_entitlements)
        row = {
            "Right": f"{right.number}. {right.short_title}",
            "Delivered %": totals["delivered_rate"] * 100,
            # beside the rate it explains, so it is on screen without scrolling the table sideways
            "Monthly trend": [round(r * 100, 1) for r in trend["delivered_rate"].dropna()],
            "n of N": count_text(totals["delivered"], totals["eligible"]) if measured else "not measured",
            "95% CI": interval_text(totals["delivered_rate_lower"], totals["delivered_rate_upper"]),
        }
        if spc is not None:
            item = spc.get(right.number)
            row["Variation (SPC)"] = "not measured" if item is None else item.spc.variation_text.label
            row["Target assurance"] = (assurance or {}).get(right.number) or ("no target set" if measured else "not measured")
        row["On time %"] = totals["on_time_rate"] * 100
        row["on time, n of N"] = (count_text(totals["delivered_on_time"], totals["eligible_timed"])
                                  if totals["eligible_timed"] > 0 else "no timescale" if measured else "not measured")
        rows.append(row)
    config = {
        "Right": st.column_config.TextColumn(width=200 if spc is not None else 250, pinned=True),
        "n of N": st.column_config.TextColumn(width=122 if spc is not None else None),
        "Delivered %": st.column_config.NumberColumn(format="%.1f%%", help="Delivered (or offered and declined) ÷ eligible"),
        "Monthly trend": st.column_config.LineChartColumn(
            width=120, y_min=0, y_max=100, help="Monthly delivered rate, on a fixed 0 to 100% scale so noise is not magnified"),
        "On time %": st.column_config.NumberColumn(
            format="%.1f%%", help="Delivered within the Code's timescale ÷ eligible instances that have one"),
    }
    if spc is not None:
        config["Variation (SPC)"] = st.column_config.TextColumn(
            width=215, help="Making Data Count variation icon, in words, for the right's monthly delivered rate "
                            f"({spc_months}): is the latest month part of a real change, or normal variation?")
        config["Target assurance"] = st.column_config.TextColumn(
            width=195, help="Where the board has set a target on one of the right's entitlements: can it be relied on "
                            "(consistently passing), will it not be met without change (consistently failing), or is "
                            "it hit and miss? Each right's card names the entitlement and its target.")
    st.dataframe(pd.DataFrame(rows), hide_index=True, row_height=34, height=34 * (len(rows) + 1) + 3,
                 column_config=config,
                 alt="Table of the 12 rights: delivered rate, monthly trend, n of N, 95% interval, SPC variation "
                     "and target assurance in words, and on-time rate")


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


# --- SPC and funnel sections -------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=^&])")


def plain(text) -> str:
    """Text from the data (district names and the like) made safe for st.markdown: every Markdown,
    HTML and Streamlit directive character is backslash-escaped, so it shows exactly as typed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


# Each icon: a Material symbol and a colour as well as its words (the words alone carry the meaning).
VARIATION_MARKS = {  # variation icon -> (material icon, Streamlit colour)
    "common_cause": (":material/horizontal_rule:", "gray"),
    "improvement_high": (":material/trending_up:", "blue"),
    "improvement_low": (":material/trending_down:", "blue"),
    "concern_high": (":material/trending_up:", "orange"),
    "concern_low": (":material/trending_down:", "orange"),
    "neither_high": (":material/trending_up:", "violet"),
    "neither_low": (":material/trending_down:", "violet"),
    "not_enough_data": (":material/hourglass_empty:", "gray"),
}
ASSURANCE_MARKS = {
    "consistently_passing": (":material/check_circle:", "blue"),
    "consistently_failing": (":material/cancel:", "orange"),
    "hit_and_miss": (":material/change_circle:", "gray"),
}

SPC_KEY = ("**How to read the charts.** Grey dots are common-cause months, the normal variation of the process; "
           "a blue ★ marks a special-cause *improvement* and an orange ✕ a special-cause *concern* (a point beyond "
           "the process limits, 7 months in a row on one side of the mean, 7 rising or falling, or 2 of 3 close to a "
           "limit). The solid line is the mean, the dashed lines the process limits (drawn within 0 to 100%), the "
           "dash-dot line the board's target. Along the top, ▽ marks a feedback panel and ◆ a completed panel "
           "action on that measure. Each chart is headed by its variation icon in words, and by its assurance "
           f"icon where there is a target. With fewer than {MIN_POINTS_SPC} months it is a run chart: no limits. "
           "Each chart's scale is zoomed to its own data (at least 10 percentage points): the limits show how much "
           "movement is normal, so compare charts by their words and limits, not by the height of their lines.")


def icons_markdown(item: SeriesSpc) -> str:
    """The variation icon, and the assurance icon where there is a target, as icon + coloured words."""
    icon, colour = VARIATION_MARKS[item.spc.variation_icon]
    text = f"{icon} :{colour}[**{item.spc.variation_text.label}**]"
    since = item.since
    if since is not None:
        text += f" since {since:%b %Y}"
    if item.target is not None:
        if item.spc.assurance_icon is not None:
            icon, colour = ASSURANCE_MARKS[item.spc.assurance_icon]
            text += (f"  \n{icon} :{colour}[**{item.spc.assurance_text.label}**] against the target of "
                     f"{item.target.target:.0%}")
        else:
            text += f"  \n:material/flag: Target {item.target.target:.0%}: no assurance icon without process limits"
    return text


def target_problems(problems: Sequence[str], source: str = "targets.yaml") -> None:
    """Say plainly that the targets file has mistakes (naming each) and that no target is used until fixed."""
    if problems:
        st.warning(f"The board's targets file ({plain(source)}) has mistakes, so no targets are shown until they "
                   "are corrected:\n\n" + "\n".join(f"- {plain(p)}" for p in problems), icon=":material/flag:")


def rebase_choice(months: Sequence[pd.Timestamp], actions: pd.DataFrame, catalogue: Catalogue,
                  codes: Sequence[str], key: str = "rebase") -> date | None:
    """A slider to recalculate the limits from a chosen month (kept in the link as ?rebase=Mon YYYY), with
    the months panel actions on these measures (`codes`) were completed listed as suggestions."""
    options = ["none"] + [f"{m:%Y-%m}" for m in months]
    choice = st.select_slider(
        "Recalculate the limits from", options=options, value="none", key=key, bind="query-params",
        format_func=lambda o: "No recalculation" if o == "none" else pd.Timestamp(o + "-01").strftime("%b %Y"),
        help="Only after a known change to the process (for example, the month a panel action was completed): the "
             "mean and limits are then worked out again from that month on, and the rules run within each part. "
             "With fewer than 12 months after the change the new limits are trial limits.")
    names = {e.code: e.label for e in catalogue.measured_entitlements}
    names.update({m.code: m.label for m in catalogue.contact_measures})
    related = actions[actions["measure"].isin(list(codes))] if actions is not None and len(actions) else None
    if related is not None and len(related):
        done = [f"{d:%b %Y} ({names[m]})" for d, m in zip(related["completed_on"], related["measure"])]
        st.caption("Panel actions completed on these measures: " + "; ".join(done) + ".")
    else:
        st.caption("No panel action on these measures was completed in these months.")
    return None if choice == "none" else date.fromisoformat(choice + "-01")


def spc_table(item: SeriesSpc) -> pd.DataFrame:
    """The chart as a table: one row per month, with the mean, limits and each point's type in words."""
    points = item.spc.points.merge(item.series.rename(columns={"month": "date"}), on="date", how="left")
    table = pd.DataFrame({
        "Month": points["date"].dt.strftime("%b %Y"),
        "Rate %": points["value"] * 100,
        "n of N": [count_text(n, d) if pd.isna(d) or d else "no cases"
                   for n, d in zip(points["numerator"], points["denominator"])],
        "Mean %": points["mean"] * 100,
        "Lower limit %": points["lpl"] * 100,
        "Upper limit %": points["upl"] * 100,
        "Point": [POINT_TYPES[t].label for t in points["point_type"]],
        "Why": points["signals"],
    })
    if item.target is not None:
        table["Target %"] = item.target.target * 100
    return table


_PERCENT_COLUMNS = ("Rate %", "Mean %", "Lower limit %", "Upper limit %", "Target %")


def spc_chart(item: SeriesSpc, *, key: str, what: str, definition: str, context: str,
              panels: pd.DataFrame | None, actions: pd.DataFrame | None) -> None:
    """One measure's SPC chart: its name, icons in words, the chart, a caption (definition, months,
    filters, n, mean and limits, and what the chart cannot show), and the same as a table."""
    st.markdown(f"**{item.label}**")
    st.markdown(icons_markdown(item))
    related = actions[actions["measure"] == item.code] if actions is not None and len(actions) else None
    observed = item.spc.points.dropna(subset=["value"])
    target = None if item.target is None else item.target.target
    alt = charts.describe_spc(item.label, item.spc, what, target=target, panels=0 if panels is None else len(panels),
                              actions=0 if related is None else len(related))
    if observed.empty:
        st.info(f"Nothing to chart: {item.spc.note}", icon=":material/info:")
    else:
        st.plotly_chart(charts.spc_figure(item.series, item.spc, target=target, panels=panels, actions=related),
                        key=key, alt=alt, config={"displaylogo": False})
    latest = item.latest
    n = int(item.series["denominator"].sum())
    months = f"{len(observed)} month{'s' if len(observed) != 1 else ''}"
    lines = [f"{definition}. {context}; n = {n:,} over {months} with a value."]
    if latest is not None and item.spc.kind == "xmr" and not np.isnan(latest["upl"]):
        lines.append(f"Mean {latest['mean']:.1%}; process limits {max(latest['lpl'], 0):.1%} to "
                     f"{min(latest['upl'], 1):.1%}" + (" (trial)" if latest["trial"] else "")
                     + f"; latest {latest['date']:%b %Y}: {latest['value']:.1%}.")
    if item.target is not None:
        lines.append(item.target.describe() + (f": {item.target.note.rstrip('.')}" if item.target.note else "") + ".")
    if item.spc.note:
        lines.append(item.spc.note)
    st.caption(" ".join(lines))
    with st.expander("The chart in words, and as a table"):
        st.text(alt)
        st.dataframe(spc_table(item), hide_index=True,
                     column_config={c: st.column_config.NumberColumn(format="%.1f%%") for c in _PERCENT_COLUMNS},
                     alt=f"Table of the monthly {what} for {item.label}, with the mean, process limits and each "
                         "month's SPC point type")


def spc_grid(items: Sequence[SeriesSpc], *, key: str, what: str, definitions: dict[str, str], context: str,
             panels: pd.DataFrame | None, actions: pd.DataFrame | None, columns: int = 2) -> None:
    """SPC charts side by side, `columns` to a row."""
    for start in range(0, len(items), columns):
        cells = st.columns(columns, gap="medium")
        for cell, item in zip(cells, items[start:start + columns]):
            with cell, st.container(border=True):
                spc_chart(item, key=f"{key}_{item.code}", what=what, definition=definitions.get(item.code, ""),
                          context=context, panels=panels, actions=actions)


BREAKDOWN_TABS = (("District", "district"), ("Command area", "command_area"),
                  ("Offence group", "offence_group"), ("Standard or enhanced", "victim_type"))
_UNITS = {"district": ("District", "districts"), "command_area": ("Command area", "command areas")}


def breakdown_tabs(source: pd.DataFrame, *, rate: str, numerator: str, denominator: str, what: str,
                   definition: str, context: str, count_word: str, key: str, reference: float | None,
                   table: Callable[[pd.DataFrame, str], None]) -> None:
    """One tab per breakdown: districts and command areas as funnel plots, the rest as alphabetical rates with
    95% intervals against the selection's rate. Never ranked. `table(rows, title)` draws each tab's table."""
    st.caption("Districts and command areas are compared with a funnel plot; offence groups and victim types as "
               "rates with 95% intervals, listed alphabetically. Nothing is ranked.")
    for tab, (title, breakdown) in zip(st.tabs([t for t, _ in BREAKDOWN_TABS]), BREAKDOWN_TABS):
        with tab:
            rows = source[(source["breakdown"] == breakdown) & (source[denominator] > 0)].copy()
            rows["level_label"] = rows["level"].map(contract.label)
            rows = rows.sort_values("level_label")
            if rows.empty:
                st.caption(f"No eligible {count_word} in this selection.")
                continue
            if breakdown in _UNITS:
                unit_word, units_word = _UNITS[breakdown]
                result = funnel(rows.rename(columns={"level_label": "unit"}), unit="unit", numerator=numerator,
                                denominator=denominator, order="alphabetical")
                funnel_section(result, key=f"{key}_{breakdown}", what=what, unit_word=unit_word,
                               units_word=units_word, definition=definition, context=context)
                continue
            st.caption("Each point is a rate with its 95% interval; the dashed line is the rate for the whole "
                       "selection. Where intervals overlap the line, the difference may be chance.")
            alt = charts.describe_intervals(rows, "level_label", rate, f"{rate}_lower", f"{rate}_upper",
                                            f"{what} by {breakdown.replace('_', ' ')}")
            st.plotly_chart(charts.interval_figure(rows, "level_label", rate, f"{rate}_lower", f"{rate}_upper",
                                                   numerator, denominator, reference=reference,
                                                   reference_label="All in selection"),
                            alt=alt, config={"displaylogo": False}, key=f"{key}_{breakdown}")
            st.caption(f"{definition}. {context}; n = {int(rows[denominator].sum()):,} {count_word}.")
            with st.expander("The chart in words, and as a table"):
                st.text(alt)
                table(rows, title)


def funnel_section(result: FunnelResult, *, key: str, what: str, unit_word: str, units_word: str,
                   definition: str, context: str) -> None:
    """A funnel plot with the units outside its limits named in words beside it, a caption (definition,
    period, filters, n) and the comparison as an alphabetical table. Never a ranking."""
    plotted = result.units[result.units["band"] != "no_data"]
    if plotted.empty:
        st.caption(f"No {units_word} with eligible cases in this selection.")
        return
    left, right = st.columns([3, 1])
    alt = charts.describe_funnel(result, what, units_word)
    with left:
        st.plotly_chart(charts.funnel_figure(result, unit_word=unit_word), key=key, alt=alt,
                        config={"displaylogo": False})
    with right:
        outside = result.units[result.units["unit"].isin(result.outside_95)]
        if outside.empty:
            st.markdown(f"**Outside the limits**\n\n:material/check: All {len(plotted)} {units_word} are within the "
                        "95% limits: their differences from the whole selection are no more than chance explains.")
        else:
            lines = []
            for _, row in outside.iterrows():
                arrow = ":material/arrow_upward:" if row["band"].startswith("above") else ":material/arrow_downward:"
                lines.append(f"- {arrow} **{plain(row['unit'])}**: {row['rate']:.1%} "
                             f"({count_text(row['numerator'], row['denominator'])}), {row['band_label'].lower()}")
            st.markdown("**Outside the limits**\n\n" + "\n".join(lines))
        if result.no_data:
            st.caption("Not plotted, no cases: " + plain(", ".join(result.no_data)) + ".")
        if len(result.outside_998) >= 2 and len(result.outside_998) > 0.1 * len(plotted):
            st.caption(f"{len(result.outside_998)} of {len(plotted)} {units_word} are outside the 99.8% limits, "
                       "where chance alone would put about 1 in 500: the differences between them are real and wider "
                       "than these limits allow for (over-dispersion), so start with the furthest out.")
    n = int(plotted["denominator"].sum())
    st.caption(f"{definition}. {context}; n = {n:,} eligible in {len(plotted)} {units_word}. Each point is "
               f"one {unit_word.lower()}: its rate against its number of eligible cases. The dashed lines are "
               f"the 95% limits and the dotted lines the 99.8% limits around the rate for the whole selection "
               f"({result.centre:.1%}); they narrow as numbers grow. A point outside them differs by more than "
               "chance explains for its size (by chance alone, about 1 in 20 would fall outside the 95% limits). "
               "Not a ranking: the order of the points inside the funnel means nothing.")
    table = pd.DataFrame({
        unit_word: result.units["unit"],
        "Rate %": result.units["rate"] * 100,
        "n of N": [count_text(n, d)
                   for n, d in zip(result.units["numerator"].fillna(0), result.units["denominator"].fillna(0))],
        "95% limits": [interval_text(lo, hi) for lo, hi in zip(result.units["lower_95"], result.units["upper_95"])],
        "99.8% limits": [interval_text(lo, hi) for lo, hi in zip(result.units["lower_998"], result.units["upper_998"])],
        "Compared with the whole selection": [FUNNEL_BANDS[b].label for b in result.units["band"]],
    })
    with st.expander("The chart in words, and as a table (alphabetical)"):
        st.text(alt)
        st.dataframe(table, hide_index=True, column_config={"Rate %": st.column_config.NumberColumn(format="%.1f%%")},
                     alt=f"Table of {what} by {unit_word.lower()} in alphabetical order, with each one's funnel limits")


def exceptions_section(concerns: pd.DataFrame, improving: Sequence[str], months_text: str, kind: str,
                       recent_text: str) -> None:
    """Special-cause concerns, most recent first, each with a link to its right's detail: ongoing ones (the
    latest month is a concern), then those seen in `recent_text` that the latest month has come back from."""
    if kind != "xmr":
        st.info(f"Not enough history for SPC: {months_text}, and SPC needs at least {MIN_POINTS_SPC} months, so no "
                "exceptions can be found yet.", icon=":material/hourglass_empty:")
        return
    if concerns.empty:
        st.success(f"No right or entitlement shows a special-cause concern in {recent_text} ({months_text} of "
                   "history).", icon=":material/check_circle:")
    for _, row in concerns.iterrows():
        text, link = st.columns([5, 1], vertical_alignment="center")
        what = row["label"] if row["level"] == "right" else f"{row['label']} (Right {row['right_no']})"
        figures = (f"Latest {row['latest_month']:%b %Y}: {row['latest_rate']:.1%} delivered "
                   f"({count_text(row['latest_numerator'], row['latest_denominator'])}), against a mean of "
                   f"{row['mean']:.1%} (process limits {max(row['lpl'], 0):.1%} to {min(row['upl'], 1):.1%}).")
        if row["status"] == "ongoing":
            since = f" since {row['since']:%b %Y}" if pd.notna(row["since"]) else ""
            text.markdown(f":material/trending_down: **{what}**: :orange[**{row['variation']}**]{since}. {figures} "
                          f"Why: {row['signals']}.")
        else:
            text.markdown(f":material/history: **{what}**: :orange[**Special-cause concern in "
                          f"{row['concern_months']}**]; the latest month is {row['variation'].lower()}. {figures}")
        with link:
            st.page_link("pages/rights_compliance.py", label=f"Right {row['right_no']} detail",
                         icon=":material/arrow_forward:", query_params={"right": str(row["right_no"])})
    if improving:
        st.caption(":material/trending_up: Special cause, improving in the latest month: " + "; ".join(improving) + ".")
    st.caption(f"From each right's and entitlement's monthly delivered rate over {months_text}, by the Making Data "
               f"Count rules. Listed: a concern in the latest month, and any concern in {recent_text} that the "
               "latest month has come back from; the most recent first.")


ASSURANCE_SHORT = {"consistently_passing": "Consistently passing", "consistently_failing": "Consistently failing",
                   "hit_and_miss": "Hit and miss"}


def right_assurance(items: Sequence[SeriesSpc]) -> str | None:
    """A right's assurance in a few words, from the targets on its entitlements (None: no target)."""
    targeted = [item for item in items if item.target is not None]
    if not targeted:
        return None
    words = [ASSURANCE_SHORT.get(item.spc.assurance_icon, "No limits yet") for item in targeted]
    if len(set(words)) == 1:
        return f"{words[0]} ({len(words)} target{'s' if len(words) > 1 else ''})"
    return ", ".join(f"{words.count(w)} {w.lower()}" for w in dict.fromkeys(words))
