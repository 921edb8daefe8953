"""Board overview: exceptions first (special-cause concerns), then the 12 rights on one screen, each with
its headline rate, n/N, interval, trend and SPC icons in words."""

import streamlit as st

from metrics import quarterly_return
from ui import access, board_view, data, display, downloads
from ui.frame import page_context

ctx = page_context("board_overview")
catalogue, filters = ctx.catalogue, ctx.filters

if ctx.role == access.BOARD_ROLE:  # the quarter, force-wide, small numbers suppressed: the board pack on screen
    quarter = quarterly_return.quarter_of(filters.first_month)
    board_view.render(board_view.board_pack_for(ctx, quarter))
    st.markdown("#### Downloads")
    downloads.quarter_downloads(ctx, quarter)
    st.stop()

st.caption(f"{filters.describe()}. Each right's rate adds up all instances of its measured entitlements; "
           f"trend lines are monthly rates on a 0 to 100% scale. {display.latest_month_note(filters)}")

# SPC over each right's and entitlement's whole monthly history up to the end of the period.
targets, target_problems = data.targets(ctx)
display.target_problems(target_problems, targets.source)
page = data.board_page(ctx, targets)
entitlement_totals, right_totals, monthly = page.overview.entitlements, page.overview.rights, page.overview.rights_monthly
rights_spc, entitlements_spc, concerns, recent_from = page.rights_spc, page.entitlements_spc, page.concerns, page.recent_from
months = data.history_months(ctx)
months_text = (f"{months[0]:%b %Y} to {months[-1]:%b %Y}, {len(months)} month{'s' if len(months) != 1 else ''}"
               if len(months) else "no months")
chart_kind = "xmr" if any(item.spc.kind == "xmr" for item in rights_spc.values()) else "run"


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
        # The monthly trend is a line in the glance table above: a small chart in each card slowed the page in the
        # browser and said nothing that line does not.
        st.metric("Delivered", f"{totals['delivered_rate']:.1%}", border=False,
                  help="Delivered, or offered and declined, as a share of eligible instances. Its monthly trend is "
                       "in the table of the 12 rights above.")
        lines = [f"{display.count_text(totals['delivered'], totals['eligible'])} eligible · "
                 f"95% CI {display.interval_text(totals['delivered_rate_lower'], totals['delivered_rate_upper'])}"]
        if totals["eligible_timed"] > 0:
            lines.append(f"On time: **{totals['on_time_rate']:.1%}** "
                         f"({display.count_text(totals['delivered_on_time'], totals['eligible_timed'])} with a timescale)")
        st.caption("  \n".join(lines))
        if number in rights_spc:  # whether it is changing, by SPC, rather than first month against last
            st.markdown(page.icons[f"right_{number}"])
        rows = entitlement_totals[entitlement_totals["right_no"] == number].copy()
        rows["label"] = [catalogue.entitlement(code).label for code in rows["entitlement"]]
        items = []
        for _, row in rows.iterrows():
            on_time = f"; on time {row['on_time_rate']:.0%}" if row["eligible_timed"] > 0 else ""
            rate = f"{row['delivered_rate']:.0%}" if row["eligible"] > 0 else "–"
            icons = page.icons.get(row["entitlement"])
            icons = "" if icons is None else "  \n" + icons
            counts = display.count_text(row["delivered"], row["eligible"])
            items.append(f"- {row['label']}: **{rate}** ({counts}{on_time})" + icons)
        with st.expander(f"{len(rows)} measured entitlement{'s' if len(rows) != 1 else ''}"):
            st.markdown("\n".join(items))  # one element, not one per entitlement: every element costs each rerun


st.markdown("#### Exceptions: special-cause concerns")
display.exceptions_section(concerns, page.improving, months_text, chart_kind,
                           f"the period's last quarter ({recent_from:%b %Y} to {filters.last_month:%b %Y})")

st.markdown("#### The 12 rights at a glance")
display.rights_glance_table(right_totals, monthly, catalogue, spc=rights_spc, assurance=page.assurance,
                            spc_months=months_text)
st.caption(f"Variation (SPC): the Making Data Count icon for each right's monthly delivered rate over {months_text} "
           "(up to the end of the period chosen, with the same filters): *common cause* is normal month-to-month "
           "variation; *special cause* is a real change, improving or concerning. Assurance: whether a target the "
           f"board has set on one of the right's entitlements can be relied on. {data.unsettled_note(ctx)}")

st.markdown("#### Each right and its entitlements")
for row_start in range(1, 13, 4):
    columns = st.columns(4)
    for offset, column in enumerate(columns):
        with column:
            right_card(row_start + offset)

st.markdown("#### Quarterly compliance return and board pack")
downloads.quarter_downloads(ctx, downloads.chosen_quarter(ctx))

with st.expander("How these figures are counted"):
    st.markdown(display.MEASUREMENT_NOTES)
    st.caption(catalogue.caveat)
