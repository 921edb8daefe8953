"""Rights compliance: one right's entitlements, trends, breakdowns, standard vs enhanced timeliness, definitions."""

import streamlit as st

from metrics.summaries import RIGHT_BREAKDOWNS, monthly_rates, right_detail, series_spc
from metrics.rates import rollup_to_rights
from ui import charts, data, display
from ui.frame import page_context, right_from_url

ctx = page_context("rights_compliance")
catalogue, filters = ctx.catalogue, ctx.filters

number = right_from_url(catalogue)
right = catalogue.right(number)
st.subheader(f"Right {number}: {right.title}", anchor=False)
st.caption(filters.describe())

measured = right.measured_entitlements
unmeasured = [e for e in right.entitlements if not e.measured]

if not measured:
    st.info(f"Nothing under this right is measured from police records. {right.not_measured_note}", icon=":material/info:")
else:
    codes = [e.code for e in measured]
    detail = right_detail(data.compliance_counts(ctx, RIGHT_BREAKDOWNS, codes), catalogue, number)
    rates, right_rates = detail.entitlements, detail.right
    total = right_rates[right_rates["breakdown"] == "total"].iloc[0]
    timed = [e for e in measured if e.has_timescale]

    kpis = st.columns(4)
    kpis[0].metric("Delivered", display.format_rate_short(total["delivered_rate"]), border=True,
                   help="All instances of this right's measured entitlements: delivered (or offered and declined) ÷ eligible.")
    kpis[0].caption(f"{display.count_text(total['delivered'], total['eligible'])} · 95% CI "
                    f"{display.interval_text(total['delivered_rate_lower'], total['delivered_rate_upper'])}")
    if timed:
        kpis[1].metric("On time", display.format_rate_short(total["on_time_rate"]), border=True,
                       help="Delivered within the Code's timescale ÷ eligible instances of entitlements that have one.")
        kpis[1].caption(f"{display.count_text(total['delivered_on_time'], total['eligible_timed'])} · 95% CI "
                        f"{display.interval_text(total['on_time_rate_lower'], total['on_time_rate_upper'])}")
    else:
        kpis[1].metric("On time", "–", border=True, help="No entitlement under this right has a timescale in the Code.")
        kpis[1].caption("No timescale in the Code")
    kpis[2].metric("Not yet due", f"{int(total['not_yet_due']):,}", border=True,
                   help="Not delivered by the as-of date, but the deadline is after it: excluded, not a failure.")
    kpis[3].metric("Not applicable", f"{int(total['not_applicable']):,}", border=True,
                   help="Recorded as not applicable, with a reason: excluded from the denominator.")

    st.markdown("#### Entitlements")
    entitlement_rows = rates[rates["breakdown"] == "total"]
    display.rates_table(entitlement_rows, "label", "Entitlement", show_timeliness=bool(timed))

    st.markdown("#### Monthly trend: improving, deteriorating or just varying?")
    targets, target_problems = data.targets(ctx)
    display.target_problems(target_problems, targets.source)
    months = data.history_months(ctx)
    history_context = data.history_filters(ctx).describe()
    history_counts = data.monthly_history(ctx, codes)
    history = monthly_rates(history_counts)
    right_history = monthly_rates(rollup_to_rights(history_counts, catalogue))
    panels, actions = data.annotations(ctx)
    choice_column, rebase_column = st.columns([1, 2])
    with choice_column:
        measure, numerator, denominator = display.rate_choice("Show", "trend_measure", offer_on_time=bool(timed))
    with rebase_column:
        rebase = display.rebase_choice(months, actions, catalogue, codes)
    on_time = measure == "on_time_rate"
    what = "on-time rate" if on_time else "delivered rate"
    definition = ("On-time rate: delivered within the Code's timescale ÷ eligible instances with a timescale, by the "
                  "month the entitlement was triggered" if on_time else
                  "Delivered rate: delivered (or offered and declined) ÷ eligible, by the month the entitlement was "
                  "triggered")
    st.caption(display.SPC_KEY + " " + data.unsettled_note(ctx))
    right_item = series_spc(right_history[right_history["right_no"] == number], months, code=f"right_{number}",
                            label=f"Right {number}", numerator="delivered", denominator="eligible", rebase=rebase)
    kpis[0].markdown(display.icons_markdown(right_item), help="SPC of the right's monthly delivered rate, "
                     f"{months[0]:%b %Y} to {months[-1]:%b %Y}: is the latest month part of a real change?")
    charted = timed if on_time else measured
    items = [series_spc(history[history["entitlement"] == ent.code], months, code=ent.code, label=ent.label,
                        numerator=numerator, denominator=denominator, rebase=rebase,
                        target=targets.get(ent.code, "on_time" if on_time else "delivered"))
             for ent in charted]
    display.spc_grid(items, key=f"spc_{measure}", what=what, definitions={i.code: definition for i in items},
                     context=history_context, panels=panels, actions=actions)
    if on_time and len(timed) < len(measured):
        st.caption("No on-time chart (the Code sets no timescale): "
                   + ", ".join(e.label for e in measured if not e.has_timescale) + ".")

    if timed:
        st.markdown("#### Standard and enhanced victims, side by side")
        st.caption("On-time rates for entitlements with a timescale, with the working days each group is allowed. "
                   "Enhanced-rights victims are often owed a shorter timescale (1 working day instead of 5 for key "
                   "decisions), so the same speed of service shows as a lower on-time rate.")
        by_type = rates[(rates["breakdown"] == "victim_type") & rates["entitlement"].isin([e.code for e in timed])
                        & (rates["eligible_timed"] > 0)]
        paired = charts.paired_interval_figure(
            by_type, "label", "level", ("standard", "enhanced"), ("Standard victims", "Enhanced-rights victims"),
            "on_time_rate", "on_time_rate_lower", "on_time_rate_upper", "delivered_on_time", "eligible_timed")
        alt = charts.describe_intervals(by_type.assign(who=by_type["label"] + " (" + by_type["level"] + ")"), "who",
                                        "on_time_rate", "on_time_rate_lower", "on_time_rate_upper",
                                        "on-time rates for standard and enhanced-rights victims")
        st.plotly_chart(paired, alt=alt, config={"displaylogo": False}, key="side_by_side")
        st.caption(f"On-time rate: delivered within the Code's timescale ÷ eligible instances with a timescale. "
                   f"{filters.describe()}; n = {int(by_type['eligible_timed'].sum()):,} eligible with a timescale. "
                   "The table below is the same figures.")
        display.side_by_side_table(by_type, catalogue)
        with st.expander("The chart in words"):
            st.text(alt)

    st.markdown("#### Breakdowns")
    options = ["all"] + codes
    chosen = st.selectbox("Entitlement", options, key="breakdown_entitlement",
                          format_func=lambda c: f"All entitlements under Right {number}" if c == "all" else catalogue.entitlement(c).label)
    source = right_rates.assign(label="Right") if chosen == "all" else rates[rates["entitlement"] == chosen]
    show_on_time = (chosen == "all" and bool(timed)) or (chosen != "all" and catalogue.entitlement(chosen).has_timescale)
    measure, numerator, denominator = display.rate_choice("Rate", "breakdown_measure", offer_on_time=show_on_time)
    overall = source[source["breakdown"] == "total"]
    reference = float(overall[measure].iloc[0]) if len(overall) else None
    rate_words = "on-time rate" if measure == "on_time_rate" else "delivered rate"
    rate_definition = ("On-time rate: delivered within the Code's timescale ÷ eligible instances with a timescale"
                       if measure == "on_time_rate" else "Delivered rate: delivered (or offered and declined) ÷ eligible")
    display.breakdown_tabs(
        source, rate=measure, numerator=numerator, denominator=denominator, what=rate_words,
        definition=rate_definition, context=filters.describe(), count_word="instances", key="breakdown",
        reference=reference,
        table=lambda rows, title: display.rates_table(rows, "level_label", title, show_timeliness=show_on_time))

    reasons = data.not_applicable_reasons(ctx, codes)
    if len(reasons):
        st.markdown("#### Not applicable, and why")
        reasons = reasons.assign(Entitlement=[catalogue.entitlement(c).label for c in reasons["entitlement"]])
        st.dataframe(reasons[["Entitlement", "exception_reason", "instances"]].rename(
            columns={"exception_reason": "Reason recorded", "instances": "Instances"}), hide_index=True,
            alt="Table of instances excluded as not applicable, by entitlement and recorded reason")

st.markdown("#### Definitions")
st.caption("From the catalogue (metrics/catalogue.yaml). Source confidence says how firmly each rule is established.")
for row in display.definition_rows(catalogue, measured):
    with st.expander(row["Entitlement"]):
        for key, value in row.items():
            if key != "Entitlement":
                st.markdown(f"**{key}.** {value}")
if unmeasured:
    st.markdown("**Also part of this right, not measured from records**")
    for ent in unmeasured:
        st.markdown(f"- {ent.label}: {ent.not_measured_reason}")
