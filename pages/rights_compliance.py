"""Rights compliance: one right's entitlements, trends, breakdowns, standard vs enhanced timeliness, definitions."""

import streamlit as st

from metrics import contract
from metrics.summaries import RIGHT_BREAKDOWNS, right_detail
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

    st.markdown("#### Monthly trend")
    measure, numerator, denominator = display.rate_choice("Show", "trend_measure", offer_on_time=bool(timed))
    monthly = rates[(rates["breakdown"] == "month") & (rates[denominator] > 0)]
    what = "on-time rate" if measure == "on_time_rate" else "delivered rate"
    alt = charts.describe_trend(monthly, "label", measure, what)
    st.caption(f"{what.capitalize()} by the month the entitlement was triggered, one chart per entitlement on the "
               "same 0 to 100% scale; the shaded band is the 95% interval, wide where numbers are small. "
               + (display.latest_month_note(filters) if measure == "delivered_rate" else ""))
    st.plotly_chart(charts.small_multiples_figure(monthly, "label", measure, f"{measure}_lower", f"{measure}_upper",
                                                  numerator, denominator), alt=alt, config={"displaylogo": False})
    with st.expander("The chart in words, and as a table"):
        st.write(alt)
        display.rates_table(monthly.assign(label=monthly["label"] + ", " + monthly["month"].dt.strftime("%b %Y")),
                            "label", "Entitlement and month", show_timeliness=bool(timed))

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
        display.side_by_side_table(by_type, catalogue)

    st.markdown("#### Breakdowns")
    options = ["all"] + codes
    chosen = st.selectbox("Entitlement", options, key="breakdown_entitlement",
                          format_func=lambda c: f"All entitlements under Right {number}" if c == "all" else catalogue.entitlement(c).label)
    source = right_rates.assign(label="Right") if chosen == "all" else rates[rates["entitlement"] == chosen]
    show_on_time = (chosen == "all" and bool(timed)) or (chosen != "all" and catalogue.entitlement(chosen).has_timescale)
    measure, numerator, denominator = display.rate_choice("Rate", "breakdown_measure", offer_on_time=show_on_time)
    overall = source[source["breakdown"] == "total"]
    reference = float(overall[measure].iloc[0]) if len(overall) else None
    st.caption("Each point is a rate with its 95% interval; the dashed line is the rate for the whole selection. "
               "Listed alphabetically, not ranked: where intervals overlap the line, the difference may be chance.")
    for tab, breakdown in zip(st.tabs(["District", "Offence group", "Standard or enhanced"]),
                              ("district", "offence_group", "victim_type")):
        with tab:
            rows = source[(source["breakdown"] == breakdown) & (source[denominator] > 0)].copy()
            rows["level_label"] = rows["level"].map(contract.label)
            rows = rows.sort_values("level_label")
            if rows.empty:
                st.caption("No eligible instances in this selection.")
                continue
            what = f"{'on-time' if measure == 'on_time_rate' else 'delivered'} rate by {breakdown.replace('_', ' ')}"
            alt = charts.describe_intervals(rows, "level_label", measure, f"{measure}_lower", f"{measure}_upper", what)
            st.plotly_chart(charts.interval_figure(rows, "level_label", measure, f"{measure}_lower", f"{measure}_upper",
                                                   numerator, denominator, reference=reference,
                                                   reference_label="All in selection"),
                            alt=alt, config={"displaylogo": False}, key=f"breakdown_{breakdown}")
            with st.expander("As a table"):
                display.rates_table(rows, "level_label", breakdown.replace("_", " ").capitalize(),
                                    show_timeliness=show_on_time)

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
