"""Referral uptake: the funnel from a victim considered for a support service to engaging with it, for each
commissioned service; breakdowns; the time to referral; the monthly trend with SPC; and whether uptake changed
after a feedback panel, a panel action or a chosen month.

The board sees only the funnel for each service, for its quarter, force-wide, as the board pack has it (small
numbers hidden over the whole table at once; see ui/outcome_views.py): the rest of the page is not offered to it."""

from datetime import date

import pandas as pd
import streamlit as st

from metrics import contract
from metrics.before_after import before_after
from metrics.disclosure import MARKER
from metrics.filters import DIMENSIONS
from metrics.referrals import (ALL_SERVICES, REFERRAL_MEASURES, REFERRAL_STEPS, REFERRAL_WORKING_DAYS,
                               TIME_TO_REFERRAL_STARTS, referral_measure, referral_measure_rates, service_order,
                               uptake_rates, working_day_distribution)
from ui import charts, data, display
from ui import outcome_views as views
from ui.frame import page_context

ctx = page_context("referral_uptake")
filters = ctx.filters
policy = views.board_policy(ctx)
if policy is not None:  # the board: the quarter's funnel by service from the board pack, and nothing else
    pack = views.board_pack(ctx)
    table = pack.tables["referrals"]
    views.board_note(pack, "Breakdowns by district and victim group, the time to referral, the monthly trend, the "
                           "before/after comparison and the choice of one service and measure")
    st.markdown("#### The funnel for each service")
    if table.frame.empty:
        st.info("No referral records for victims whose crime was reported in the quarter.", icon=":material/info:")
        st.stop()
    names = list(dict.fromkeys(table.frame["Service"]))  # the contract's order, all services last
    for first in range(0, len(names), 2):
        cells = st.columns(2, gap="medium")
        for number, (cell, name) in enumerate(zip(cells, names[first:first + 2]), start=first):
            rows = table.frame[table.frame["Service"] == name]
            steps = pd.DataFrame({"label": rows["Step"].to_numpy(),
                                  "share": [views.pack_number(v) / 100 for v in rows["Share %"]],
                                  "count": [views.pack_number(v) for v in rows["Count"]]})
            with cell, st.container(border=True):
                st.markdown(f"**{display.plain(name)}**")
                alt = charts.describe_steps(name, steps)
                st.plotly_chart(charts.steps_figure(steps), key=f"board_funnel_{number}", alt=alt,
                                config={"displaylogo": False})
                considered = rows["Count"].iloc[0]
                st.caption(f"Records of victims considered for {name}, step by step; n = "
                           f"{views.count_words(considered, considered == MARKER)} considered.")
                with st.expander("The chart in words"):
                    st.text(alt)
    views.pack_table(table, key="board_referrals")
    views.suppression_caption(policy, int((table.frame["Count"] == MARKER).sum()))
    st.stop()

context = filters.describe("Reported")
BREAKDOWNS = ("total", "district", "command_area", "offence_group", "victim_type", "age_band", "sex", "ethnicity",
              "disability")
GROUPS = ("age_band", "sex", "ethnicity", "disability")

st.caption(f"{context}. Each row of the referrals export is one victim considered for one commissioned service; it "
           "belongs to the month the victim's crime was reported, so every step follows the same victims, and each "
           "step counts only those who passed the one before it.")

counts = data.referral_uptake(ctx, BREAKDOWNS)
totals = counts[counts["breakdown"] == "total"].reset_index(drop=True)
everyone = totals[totals["service"] == ALL_SERVICES]
if everyone.empty or int(everyone["in_scope"].iloc[0]) == 0:
    st.info("No referral records for victims whose crime was reported in this selection.", icon=":material/info:")
    st.stop()


def service_label(code: str) -> str:
    return "All services" if code == ALL_SERVICES else contract.label(code)


# Every service of the contract, whether or not this selection has records for it, so a choice survives a filter.
services = service_order([*contract.REFERRAL_SERVICES, *totals["service"]])
choose = st.columns([1, 2, 1])
service = choose[0].selectbox("Service", services, index=services.index(ALL_SERVICES), format_func=service_label,
                              key="referral_service", help="For the breakdowns, time to referral, trend and "
                                                           "before/after; the funnels show every service.")
measure = referral_measure(choose[1].selectbox(
    "Measure", [m.code for m in REFERRAL_MEASURES], format_func=lambda c: referral_measure(c).label,
    key="referral_measure", help="For the breakdowns, the trend and the before/after comparison."))
start = choose[2].segmented_control(
    "Time to referral from the", list(TIME_TO_REFERRAL_STARTS), default="offer", required=True, key="referral_clock",
    format_func=lambda s: {"offer": "Offer", "report": "Report"}[s],
    help="The offer of a referral, or the crime report (Right 4's clock).")
measure_words = measure.label[0].lower() + measure.label[1:]
who = service_label(service)

# --- every figure first ------------------------------------------------------------------------------------------
source = referral_measure_rates(counts, measure, service)
has_records = bool((source["breakdown"] == "total").any())  # a service with no records in this selection has no rows
service_total = source[source["breakdown"] == "total"].iloc[0] if has_records else None
times = data.referral_times(ctx, start)
chosen_times = times[times["service"] == service]
distribution = working_day_distribution(chosen_times["working_days"], chosen_times["referrals"],
                                        limit=REFERRAL_WORKING_DAYS, undated_label="No offer date")
months = data.history_months(ctx)
history = referral_measure_rates(data.referral_history(ctx), measure, service)
history = history[history["breakdown"] == "month"]
panels, actions = data.annotations(ctx)

# --- the funnels --------------------------------------------------------------------------------------------------
st.markdown("#### The funnel for each service")
funnel = uptake_rates(totals)
st.caption("Each bar counts the records that reached a step by the data date; in brackets, its share of the step "
           "before (the first step is everyone considered). Services are in the order of the data contract.")
cards = service_order(totals["service"])
cards = [s for s in cards if s != ALL_SERVICES] + [ALL_SERVICES]
for first in range(0, len(cards), 2):
    cells = st.columns(2, gap="medium")
    for cell, code in zip(cells, cards[first:first + 2]):
        rows = funnel[funnel["service"] == code]
        steps = pd.DataFrame({"label": rows["label"], "share": rows["share"], "count": list(rows["count"])})
        with cell, st.container(border=True):
            st.markdown(f"**{service_label(code)}**")
            alt = charts.describe_steps(service_label(code), steps)
            st.plotly_chart(charts.steps_figure(steps), key=f"funnel_{code}", alt=alt,
                            config={"displaylogo": False})
            considered = views.count_words(rows["count"].iloc[0])
            st.caption(f"Records of victims considered for {service_label(code)}, step by step. {context}; "
                       f"n = {considered} considered.")
            with st.expander("The chart in words"):
                st.text(alt)
funnel_table = pd.DataFrame({
    "Service": [service_label(s) for s in funnel["service"]],
    "Step": funnel["label"],
    "Count": [views.count_words(c) for c in funnel["count"]],
    "Share of the step before": ["–" if pd.isna(v) else f"{v:.1%}" for v in funnel["share"]],
    "n of N": ["" if s == REFERRAL_STEPS[0].column else views.count_text(c, o)
               for c, o, s in zip(funnel["count"], funnel["of_count"], funnel["step"])],
    "95% CI": [display.interval_text(lo, hi) for lo, hi in zip(funnel["share_lower"], funnel["share_upper"])],
})
st.dataframe(funnel_table, hide_index=True, alt="Table of the referral funnel for each service: each step's count, its share of the step before, n of N "
        "and the 95% interval")
if not has_records:
    st.info(f"No records for {who} in this selection: choose another service, or widen the filters.",
            icon=":material/info:")
    st.stop()

# --- breakdowns ---------------------------------------------------------------------------------------------------
st.markdown(f"#### {measure.label}: by district, offence group, victim type and group")
shown = source.astype({column: float for column in ("numerator", "denominator", "rate", "rate_lower", "rate_upper")})
reference = service_total["rate"]
definition = f"{measure.label} ({who}): {measure.definition.rstrip('.')}"


def rate_table(rows: pd.DataFrame, title: str) -> None:
    st.dataframe(pd.DataFrame({
        title: rows["level_label"],
        "Rate %": rows["rate"] * 100,
        "n of N": [display.count_text(n, d) for n, d in zip(rows["numerator"], rows["denominator"])],
        "95% CI": [display.interval_text(lo, hi) for lo, hi in zip(rows["rate_lower"], rows["rate_upper"])],
    }), hide_index=True, column_config={"Rate %": st.column_config.NumberColumn(format="%.1f%%")},
        alt=f"Table of {measure_words} by {title.lower()}, alphabetical")


display.breakdown_tabs(shown, rate="rate", numerator="numerator", denominator="denominator", what=measure_words,
                       definition=definition, context=context, count_word="records", key="referral_breakdown",
                       reference=reference, table=rate_table)
st.markdown("**By group**")
st.caption("Age band, sex, ethnicity and disability, each as rates with 95% intervals, listed alphabetically. "
           "Where an interval overlaps the dashed line, the difference from the whole selection may be chance.")
for tab, name in zip(st.tabs([DIMENSIONS[g].label for g in GROUPS]), GROUPS):
    with tab:
        rows = shown[(shown["breakdown"] == name) & (shown["denominator"] > 0)].copy()
        rows["level_label"] = rows["level"].map(contract.label)
        rows = rows.sort_values("level_label")
        if rows.empty:
            st.caption(f"No records with a {DIMENSIONS[name].label.lower()} in this selection.")
            continue
        alt = charts.describe_intervals(rows, "level_label", "rate", "rate_lower", "rate_upper",
                                        f"{measure_words} by {DIMENSIONS[name].label.lower()}")
        st.plotly_chart(charts.interval_figure(rows, "level_label", "rate", "rate_lower", "rate_upper", "numerator",
                                               "denominator", reference=reference,
                                               reference_label="All in selection"),
                        alt=alt, config={"displaylogo": False}, key=f"referral_group_{name}")
        st.caption(f"{definition}. {context}; n = {int(rows['denominator'].sum()):,} records.")
        with st.expander("The chart in words, and as a table"):
            st.text(alt)
            rate_table(rows, DIMENSIONS[name].label)

# --- time to referral ---------------------------------------------------------------------------------------------
st.markdown(f"#### Time to referral: {who}")
clock = TIME_TO_REFERRAL_STARTS[start]
if distribution.total == 0:
    st.caption(f"No referrals sent for {who} in this selection.")
else:
    views.histogram_section(
        distribution, key=f"referral_times_{start}", what=f"referrals sent, by working days {clock.label.lower()}",
        limit_words=f"{REFERRAL_WORKING_DAYS} working days", definition=clock.definition,
        context=f"{who}; {context}", undated_words="No offer date (cannot be timed)")

# --- the monthly trend ----------------------------------------------------------------------------------------------
st.markdown(f"#### Monthly trend: {measure.label.lower()}, {who}")
st.caption(display.SPC_KEY + " " + data.unsettled_note(ctx))
# Coded as Right 4's referral entitlement, so the panel actions aimed at referrals are marked on the chart.
REFERRAL_ENTITLEMENT = "r4_referral_to_support_service"
item, month_hidden = views.masked_series(history, months, code=REFERRAL_ENTITLEMENT, label=f"{measure.label}: {who}")
history_context = data.history_filters(ctx).describe("Reported")
views.spc_section(item, month_hidden, key="referral_spc", what=measure_words, definition=definition,
                  context=history_context, panels=panels, actions=actions)

# --- before and after -----------------------------------------------------------------------------------------------
st.markdown("#### Did it change after a panel or an action?")
st.caption("Pick the change: a completed panel action (those on referral to support first), a feedback panel, or a "
           "month. The comparison allows for noise twice over: the difference between the two periods' rates with "
           "its 95% interval, and an SPC chart whose limits come from the months before the change.")
options = views.change_points(panels, actions, (REFERRAL_ENTITLEMENT,))
labels = {key: words for key, _, words in options}
dates = {key: day for key, day, _ in options}
month_options = [f"{m:%Y-%m}" for m in months[1:]]
choices = [key for key, _, _ in options] + (["month"] if month_options else [])
if not choices:
    st.info("There is no month to compare before and after in this history.", icon=":material/info:")
else:
    change_key = st.selectbox("The change", choices, key="referral_change",
                              format_func=lambda k: "A month I choose" if k == "month" else labels[k])
    if change_key == "month":
        chosen = st.select_slider("First month after the change", month_options,
                                  value=month_options[len(month_options) // 2], key="referral_change_month",
                                  format_func=lambda m: pd.Timestamp(m + "-01").strftime("%b %Y"))
        change, change_text = date.fromisoformat(chosen + "-01"), f"from {pd.Timestamp(chosen + '-01'):%b %Y}"
    else:
        change, change_text = dates[change_key], labels[change_key]
    series = item.series[["month", "numerator", "denominator"]].astype({"numerator": float, "denominator": float})
    views.before_after_section(before_after(series, change), key="referral_before_after",
                               what=f"{measure_words}, {who}", definition=definition, context=history_context,
                               change_text=change_text, panels=panels,
                               actions=actions[actions["measure"] == REFERRAL_ENTITLEMENT] if len(actions) else actions)

# --- definitions ------------------------------------------------------------------------------------------------------
st.markdown("#### Definitions")
with st.expander("The steps of the funnel"):
    st.dataframe(pd.DataFrame({"Step": [s.label for s in REFERRAL_STEPS],
                               "Share of": ["–" if s.of is None else next(t.label for t in REFERRAL_STEPS
                                                                          if t.column == s.of) for s in REFERRAL_STEPS],
                               "Counted when": [s.definition for s in REFERRAL_STEPS]}),
                 hide_index=True, alt="Table of the funnel's steps and what each counts")
with st.expander("Time to referral"):
    for option in TIME_TO_REFERRAL_STARTS.values():
        st.markdown(f"**{option.label}.** {option.definition}")
with st.expander("Before and after"):
    st.markdown(
        "**Which months.** A change on the first of a month takes effect that month; later in a month, the month "
        "is partly before and partly after, so it is left out of both, and the after period starts the next month. "
        "Records count in the month the victim's crime was reported.\n\n"
        "**Difference in proportions.** Each period's rate is its months' numerators summed over their denominators "
        "summed. The difference (after − before) has Newcombe's hybrid score 95% interval, built from the two "
        "Wilson intervals. *Higher after* or *lower after* when the interval excludes no change; *no clear change* "
        "when it includes it; *too early to tell* with fewer than 3 months with a value, or fewer than 30 records, "
        "on either side.\n\n"
        "**SPC.** The mean and process limits are worked out from the before months only and held over the after "
        "months; a special cause among the after months (a month beyond a limit, 7 in a row on one side of the "
        "before mean, 7 rising or falling, or 2 of 3 close to a limit) is a change the before process does not "
        "explain. Fewer than 15 months in all, or 3 before: too early to tell.")
