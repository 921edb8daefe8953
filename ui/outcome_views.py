"""Building blocks shared by the Referral uptake and Victim voice pages: the board's view (the board pack's tables
for its quarter, force-wide, hidden counts shown as [c]), an SPC chart whose hidden months are left out, a
working-days histogram section, and the before/after comparison. The charts and wording are the other pages' own
(ui/display.py, ui/charts.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from metrics.before_after import MIN_DENOMINATOR, MIN_MONTHS, BeforeAfter
from metrics.disclosure import MARKER, DisclosurePolicy
from metrics.quarterly_return import quarter_of
from metrics.referrals import WorkingDayDistribution
from metrics.spc import POINT_TYPES, xmr_chart
from metrics.summaries import SPC_DIRECTION, SeriesSpc, monthly_series
from ui import board_view, charts, display
from ui.boardpack import BoardPack, PackTable
from ui.frame import PageContext

__all__ = ["board_policy", "board_pack", "pack_number", "pack_table", "board_note", "suppression_caption",
           "count_or_marker", "count_words", "count_text", "percent", "masked_series", "spc_section",
           "histogram_section", "before_after_section", "change_points"]

log = logging.getLogger(__name__)


def board_policy(ctx: PageContext) -> DisclosurePolicy | None:
    """The suppression policy for the board (VCD_SUPPRESSION_THRESHOLD, default 10); None for other roles. A
    threshold that is not a whole number stops the page with a message, rather than showing small numbers."""
    if ctx.role != "board":
        return None
    try:
        return DisclosurePolicy.load()
    except ValueError as exc:
        log.warning("suppression threshold invalid: %s", exc)
        st.error(f"Figures cannot be shown to the board: {display.plain(exc)}", icon=":material/error:")
        st.stop()


# --- the board's view ---------------------------------------------------------------------------------------
# The board sees these pages' figures only as the board pack has them: one quarter, force-wide, each group of
# tables protected as a whole (metrics.outcome_disclosure). It is the very pack the Board overview shows (built
# once and shared), so every view the board has of these figures hides the same cells. Per-view choices (a
# service, a measure, a survey, a month) and breakdowns are not offered: protected one view at a time, a total
# hidden in one view is shown in another, and subtracting gives a hidden count back.

def board_pack(ctx: PageContext) -> BoardPack:
    """The board pack for the board's quarter (its filters are that quarter, force-wide), as the Board overview
    shows it."""
    return board_view.board_pack_for(ctx, quarter_of(ctx.filters.first_month))


def pack_number(value) -> float:
    """A pack table's cell as a number: NaN for [c], a missing value or text."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return np.nan
    return float(value)


def _pack_cell(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def pack_table(table: PackTable, *, key: str) -> None:
    """One of the pack's tables as the Board overview shows it, with the pack's note under it."""
    st.dataframe(table.frame.map(_pack_cell), hide_index=True, key=key, alt=f"Table: {table.title}")
    if table.note:
        st.caption(table.note)


def board_note(pack: BoardPack, withheld: str) -> None:
    """What the board sees here, what it does not, and why."""
    st.caption(f"{pack.quarter.describe()}, the whole force, as of {pack.filters.as_of:%d %B %Y}: the board pack's "
               "figures, as on the Board overview (choose the quarter in the sidebar).")
    st.info(f"**For the board, this page shows the quarter's headline tables only.** {withheld} are not shown to "
            "the board: each is another table over the same people, and with small numbers hidden one view at a "
            "time, a total hidden in one view and shown in another lets a hidden count be worked out by "
            "subtraction. The action group sees them in full.", icon=":material/visibility_off:")


def suppression_caption(policy: DisclosurePolicy | None, hidden: int) -> None:
    """Under a board table: what is hidden and why (nothing for other roles)."""
    if policy is None:
        return
    if not policy.hidden_range:
        st.caption("Disclosure control for the board: the suppression threshold is 1, so no counts are hidden.")
        return
    text = (f"Disclosure control for the board: counts from {policy.hidden_range} are shown as {MARKER}, as is any "
            "count from which one could be worked out (from a total, the other rows, or the people a count leaves "
            "out), and any rate, interval or median resting on one.")
    st.caption(text + (f" {hidden:,} value{'s are' if hidden != 1 else ' is'} hidden here." if hidden else
                       " Nothing here needed hiding."))


def count_or_marker(value, hidden: bool):
    """A table cell: the count, or [c] where it is hidden."""
    return MARKER if hidden else int(value)


def count_words(value, hidden: bool = False) -> str:
    """A count for prose: '1,234', or [c] where it is hidden."""
    return MARKER if hidden else f"{int(value):,}"


def count_text(numerator, denominator, hidden_numerator: bool = False, hidden_denominator: bool = False) -> str:
    """'n of N', with [c] for a hidden count."""
    left = MARKER if hidden_numerator else f"{int(numerator):,}"
    right = MARKER if hidden_denominator else f"{int(denominator):,}"
    return f"{left} of {right}"


def percent(rate: float) -> float:
    """A rate as a percentage for a NumberColumn (NaN stays NaN: hidden, or no denominator)."""
    return rate * 100 if rate is not None and not pd.isna(rate) else np.nan


# --- SPC with hidden months ------------------------------------------------------------------------------------

def masked_series(frame: pd.DataFrame, months: pd.DatetimeIndex, hidden_months: set[str] | None = None,
                  *, code: str, label: str) -> tuple[SeriesSpc, np.ndarray]:
    """One measure's monthly rates (frame: month, numerator, denominator) as an XmR chart, with the months in
    `hidden_months` ('YYYY-MM') left out: not plotted, and not in the mean or limits, so the chart cannot give a
    hidden count back. Returns the chart and a mask of the hidden months."""
    series = monthly_series(frame, months, "numerator", "denominator")
    hidden = series["month"].dt.strftime("%Y-%m").isin(hidden_months or set()).to_numpy()
    series.loc[hidden, "rate"] = np.nan
    series.loc[hidden, ["numerator", "denominator"]] = 0  # never drawn: their points are not plotted
    result = xmr_chart(series["rate"], series["month"], direction=SPC_DIRECTION)
    return SeriesSpc(code=code, label=label, series=series, spc=result, target=None), hidden


def spc_section(item: SeriesSpc, hidden: np.ndarray, *, key: str, what: str, definition: str, context: str,
                panels: pd.DataFrame | None, actions: pd.DataFrame | None) -> None:
    """display.spc_chart, or, with months hidden for the board, the same chart and table with those months
    marked [c] (their counts are not shown and they are not points)."""
    if not hidden.any():
        display.spc_chart(item, key=key, what=what, definition=definition, context=context, panels=panels,
                          actions=actions)
        return
    st.markdown(f"**{item.label}**")
    st.markdown(display.icons_markdown(item))
    observed = item.spc.points.dropna(subset=["value"])
    alt = charts.describe_spc(item.label, item.spc, what, panels=0 if panels is None else len(panels),
                              actions=0 if actions is None else len(actions))
    alt = alt[:-1] + f"; {int(hidden.sum())} months with hidden counts are left out."
    if observed.empty:
        st.info("Nothing to chart: every month has hidden counts or no cases.", icon=":material/info:")
    else:
        st.plotly_chart(charts.spc_figure(item.series, item.spc, panels=panels, actions=actions), key=key, alt=alt,
                        config={"displaylogo": False})
    months_hidden = charts.month_runs(item.series.loc[hidden, "month"])
    st.caption(f"{definition}. {context}. {len(observed)} months with a value. Months with hidden counts "
               f"({months_hidden}) are left out of the chart and of its mean and limits. {item.spc.note}")
    table = display.spc_table(item)
    table.loc[hidden, "n of N"] = MARKER
    table.loc[hidden, "Point"] = f"Hidden {MARKER}"
    with st.expander("The chart in words, and as a table"):
        st.text(alt)
        st.dataframe(table, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.1f%%") for c in ("Rate %", "Mean %", "Lower limit %",
                                                                        "Upper limit %")},
            alt=f"Table of the monthly {what} for {item.label}, with the mean, process limits and each month's SPC "
                "point type")


# --- a histogram of working days -------------------------------------------------------------------------------

def histogram_section(distribution: WorkingDayDistribution, *, key: str, what: str, limit_words: str,
                      definition: str, context: str, undated_words: str, hidden: np.ndarray | None = None,
                      total_hidden: bool = False, within_hidden: bool = False) -> None:
    """A working-days histogram with the share within the limit (and its interval), a caption, the chart in words
    and a table. `hidden` marks bars hidden for the board; the share and median are then hidden where they could
    give a hidden count back."""
    bars = distribution.bars.copy()
    hidden = np.zeros(len(bars), dtype=bool) if hidden is None else hidden
    bars["count"] = bars["count"].astype(float)
    bars.loc[hidden, "count"] = np.nan
    shares = bars["share"].where(~(np.asarray(hidden, dtype=bool) | bool(total_hidden)))
    names = {True: f"Within {limit_words}", False: f"Longer than {limit_words}", None: undated_words}
    alt = charts.describe_working_days(what, bars)
    st.plotly_chart(charts.working_days_figure(bars, names=names), key=key, alt=alt, config={"displaylogo": False})
    n = MARKER if total_hidden else f"{distribution.total:,}"
    if within_hidden or total_hidden:
        within = f"Within {limit_words}: {MARKER} (hidden, as it would reveal a hidden count)."
        median = ""
    else:
        within = (f"Within {limit_words}: {distribution.within_count:,} of {distribution.total:,} "
                  f"({display.format_rate_short(distribution.rate)}, 95% CI "
                  f"{display.interval_text(distribution.rate_lower, distribution.rate_upper)}).")
        median = "" if hidden.any() else f" Median {display.number(distribution.median)} working days."
    st.caption(f"{definition} {context}; n = {n}. {within}{median} Weekends and England and Wales bank holidays are "
               "not working days; the same day is 0. Solid bars are within the limit, hatched bars longer, dotted "
               "bars could not be timed.")
    table = pd.DataFrame({
        "Working days": bars["label"],
        "Count": [count_or_marker(c, h) for c, h in zip(distribution.bars["count"], hidden)],
        "Share %": shares * 100,
        "Within the limit": ["yes" if w is True else "no" if w is False else "cannot be timed" for w in bars["within"]],
    })
    with st.expander("The chart in words, and as a table"):
        st.text(alt)
        st.dataframe(table.astype({"Count": str}), hide_index=True,
                     column_config={"Share %": st.column_config.NumberColumn(format="%.1f%%")},
                     alt=f"Table of {what}, one row per bar")


# --- before and after a change --------------------------------------------------------------------------------

def change_points(panels: pd.DataFrame, actions: pd.DataFrame, measures: Sequence[str] = ()) -> list[tuple]:
    """The changes a user can pick: each completed panel action (those on `measures` first), then each panel
    held, as (key, date, words). Titles are untrusted free text: shortened and kept as plain text."""
    def title(text) -> str:
        words = " ".join(str(text or "").split())
        return words if len(words) <= 70 else words[:69] + "…"

    rows = []
    if actions is not None and len(actions):
        ordered = sorted(actions.itertuples(index=False), key=lambda a: (a.measure not in measures, a.completed_on))
        for action in ordered:
            rows.append((f"action:{action.action_id}", action.completed_on.date(),
                         f"Panel action completed {action.completed_on:%d %b %Y}: {title(action.title)}"))
    if panels is not None and len(panels):
        for panel in panels.itertuples(index=False):
            rows.append((f"panel:{panel.panel_id}", panel.held_on.date(),
                         f"Feedback panel held {panel.held_on:%d %b %Y}" + (f": {title(panel.title)}"
                                                                              if title(panel.title) else "")))
    return rows


_VERDICT_MARKS = {"higher": (":material/trending_up:", "blue"), "lower": (":material/trending_down:", "orange"),
                  "both": (":material/swap_vert:", "violet"), "no_clear_change": (":material/horizontal_rule:", "gray"),
                  "too_early": (":material/hourglass_empty:", "gray")}


def before_after_section(result: BeforeAfter, *, key: str, what: str, definition: str, context: str,
                         change_text: str, hidden_months: set[str] | None = None, panels: pd.DataFrame | None = None,
                         actions: pd.DataFrame | None = None) -> None:
    """Both views of a before/after comparison, in words first, then the chart (limits from the before months)
    with its caption and table. A difference is only ever shown with its interval and verdict."""
    p, spc = result.proportions, result.spc
    transition = result.split.transition
    st.markdown(f"**Change:** {display.plain(change_text)}. **Before:** {result.before_range}; **after:** "
                f"{result.after_range}" + (f" ({transition:%b %Y}, the month of the change, is left out of both)."
                                           if transition is not None else "."))
    left, middle, right = st.columns(3)
    left.metric("Before", display.format_rate_short(p.before_rate), border=True,
                help="Pooled over the before months: the numerator summed over the months ÷ the denominator summed.")
    left.caption(f"{display.count_text(p.before_numerator, p.before_denominator)} over {p.before_months} months · "
                 f"95% CI {display.interval_text(p.before_lower, p.before_upper)}")
    middle.metric("After", display.format_rate_short(p.after_rate), border=True,
                  help="Pooled over the after months, in the same way.")
    middle.caption(f"{display.count_text(p.after_numerator, p.after_denominator)} over {p.after_months} months · "
                   f"95% CI {display.interval_text(p.after_lower, p.after_upper)}")
    difference = "–" if pd.isna(p.difference) or p.verdict == "too_early" else f"{p.difference * 100:+.1f} pts"
    right.metric("Difference (after − before)", difference, border=True,
                 help="In percentage points, with Newcombe's 95% interval; not shown when it is too early to tell.")
    right.caption("95% CI " + ("–" if p.verdict == "too_early" or pd.isna(p.lower) else
                               f"{p.lower * 100:+.1f} to {p.upper * 100:+.1f} pts"))
    for label, verdict, words in (("Difference in proportions", p.verdict, p.words), ("SPC", spc.verdict, spc.words)):
        icon, colour = _VERDICT_MARKS[verdict]
        verdict_label = p.label if label.startswith("Difference") else spc.label
        st.markdown(f"{icon} **{label}:** :{colour}[**{verdict_label}**]. {display.plain(words)}")
    hidden = result.months["month"].dt.strftime("%Y-%m").isin(hidden_months or set()).to_numpy()
    if hidden.any():
        count = int(hidden.sum())
        st.caption(f"{count} month{'s' if count != 1 else ''} with hidden counts ({MARKER}) "
                   f"{'are' if count != 1 else 'is'} left out of both periods and of the chart's limits.")
    if spc.result is None:
        return
    series = result.months
    alt = charts.describe_spc(what, spc.result, "monthly rate") + (
        f" The mean and limits are worked out from the before months ({result.before_range}) only and held "
        f"across the after months ({result.after_range}).")
    st.plotly_chart(charts.before_after_figure(series, spc.result, first_after=result.split.first_after,
                                               transition=transition, change_text=change_text, panels=panels,
                                               actions=actions),
                    key=key, alt=alt, config={"displaylogo": False})
    st.caption(f"{definition}. {context}. The mean and process limits come from the before months only, so the "
               "after months (shaded) are judged against how the process behaved before the change. A verdict needs "
               f"at least {MIN_MONTHS} months with a value on each side, and for the difference in proportions at "
               f"least {MIN_DENOMINATOR} cases on each side; SPC needs 15 months in all. A change is not proof of "
               "cause: other things may have changed at the same time.")
    points = spc.result.points
    table = pd.DataFrame({
        "Month": points["date"].dt.strftime("%b %Y"),
        "Period": [result.split.period_of(d) for d in points["date"]],
        "Rate %": points["value"] * 100,
        "n of N": [MARKER if h else display.count_text(n, d) if d else "no cases"
                   for n, d, h in zip(result.months["numerator"].fillna(0), result.months["denominator"].fillna(0),
                                      hidden)],
        "Mean %": points["mean"] * 100,
        "Lower limit %": points["lpl"] * 100,
        "Upper limit %": points["upl"] * 100,
        "Point": [POINT_TYPES[t].label for t in points["point_type"]],
        "Why": points["signals"],
    })
    with st.expander("The comparison in words, and as a table"):
        st.text(alt)
        st.dataframe(table, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.1f%%") for c in ("Rate %", "Mean %", "Lower limit %",
                                                                        "Upper limit %")},
            alt=f"Table of the monthly {what} before and after the change, with the before period's mean and limits")
