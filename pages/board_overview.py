"""Board overview: the 12 rights on one screen, each with its headline rate, n/N, interval and trend."""

import streamlit as st

from metrics.summaries import BOARD_BREAKDOWNS, board_overview
from ui import charts, data, display
from ui.frame import page_context

ctx = page_context("board_overview")
catalogue, filters = ctx.catalogue, ctx.filters

st.caption(f"{filters.describe()}. Each right's rate adds up all instances of its measured entitlements; "
           f"trend lines are monthly rates on a 0 to 100% scale. {display.latest_month_note(filters)}")

overview = board_overview(data.compliance_counts(ctx, BOARD_BREAKDOWNS), catalogue)
entitlement_totals, right_totals, monthly = overview.entitlements, overview.rights, overview.rights_monthly


def _detail_link(number: int) -> None:
    st.page_link("pages/rights_compliance.py", label=f"Open Right {number}", icon=":material/arrow_forward:",
                 query_params={"right": str(number)})  # the filters follow: their widgets keep state


def right_card(number: int) -> None:
    right = catalogue.right(number)
    totals = right_totals.loc[number]
    with st.container(border=True, height="stretch"):
        st.markdown(f"**Right {number}** · {right.short_title}", help=right.title)
        _detail_link(number)
        if not right.measured_entitlements:
            st.caption(right.not_measured_note)
            return
        if totals["eligible"] == 0:
            st.metric("Delivered", "–", border=False)
            st.caption("No eligible instances for this period and selection.")
            return
        trend = monthly[monthly["right_no"] == number].sort_values("month").dropna(subset=["delivered_rate"])
        st.metric("Delivered", f"{totals['delivered_rate']:.1%}", border=False,
                  help="Delivered, or offered and declined, as a share of eligible instances. The line below is "
                       "the monthly rate on a 0 to 100% scale.")
        if len(trend) > 1:
            st.plotly_chart(charts.sparkline_figure(trend["month"], trend["delivered_rate"]), key=f"spark_{number}",
                            config={"staticPlot": True, "displayModeBar": False},
                            alt=f"Monthly delivered rate for Right {number}, " + ", ".join(
                                f"{m:%b %Y} {r:.0%}" for m, r in zip(trend["month"], trend["delivered_rate"])))
        lines = [f"{display.count_text(totals['delivered'], totals['eligible'])} eligible · "
                 f"95% CI {display.interval_text(totals['delivered_rate_lower'], totals['delivered_rate_upper'])}"]
        if totals["eligible_timed"] > 0:
            lines.append(f"On time: **{totals['on_time_rate']:.1%}** "
                         f"({display.count_text(totals['delivered_on_time'], totals['eligible_timed'])} with a timescale)")
        if len(trend) > 1:
            first, last = trend.iloc[0], trend.iloc[-1]
            lines.append(f"Monthly: {first['delivered_rate']:.0%} in {first['month']:%b %Y}, "
                         f"{last['delivered_rate']:.0%} in {last['month']:%b %Y}")
        st.caption("  \n".join(lines))
        rows = entitlement_totals[entitlement_totals["right_no"] == number].copy()
        rows["label"] = [catalogue.entitlement(code).label for code in rows["entitlement"]]
        with st.expander(f"{len(rows)} measured entitlement{'s' if len(rows) != 1 else ''}"):
            for _, row in rows.iterrows():
                on_time = f"; on time {row['on_time_rate']:.0%}" if row["eligible_timed"] > 0 else ""
                rate = f"{row['delivered_rate']:.0%}" if row["eligible"] > 0 else "–"
                st.markdown(f"- {row['label']}: **{rate}** ({display.count_text(row['delivered'], row['eligible'])}{on_time})")


st.markdown("#### The 12 rights at a glance")
display.rights_glance_table(right_totals, monthly, catalogue)

st.markdown("#### Each right and its entitlements")
for row_start in range(1, 13, 4):
    columns = st.columns(4)
    for offset, column in enumerate(columns):
        with column:
            right_card(row_start + offset)

with st.expander("How these figures are counted"):
    st.markdown(display.MEASUREMENT_NOTES)
    st.caption(catalogue.caveat)
