"""The board's own view of the Board overview: the quarter's board pack, on screen.

The board sees aggregates only, with small numbers suppressed (metrics.disclosure). Rather than a second
suppressed copy of the overview, the page draws the same BoardPack the downloadable pack is made from, so
what the board reads on screen and on paper is the same, figure for figure, and passed the same checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from metrics.quarterly_return import Quarter
from ui import boardpack, data
from ui.frame import PageContext

__all__ = ["board_pack_for", "render"]


@st.cache_resource(show_spinner=False, max_entries=8, ttl=3600)
def _pack(_ctx: PageContext, store_key: str, quarter_text: str, _quarter: Quarter, targets_key: str):
    """Shared by every board session: it holds only disclosure-controlled aggregates."""
    targets, problems = data.targets(_ctx)
    return boardpack.build_board_pack(_ctx.store, _ctx.catalogue, _quarter, targets=targets,
                                      target_problems=problems)


def board_pack_for(ctx: PageContext, quarter: Quarter):
    targets, _ = data.targets(ctx)
    with st.spinner(f"Preparing {quarter.describe()} for the board…", show_time=True):
        return _pack(ctx, ctx.store_key, str(quarter), quarter, repr(targets))


def _cell(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _table(table: boardpack.PackTable, key: str, heading: str | None = None) -> None:
    if table.title != heading:
        st.markdown(f"**{table.title}**")
    st.dataframe(table.frame.map(_cell), hide_index=True, key=key, alt=f"Table: {table.title}")
    if table.note:
        st.caption(table.note)


def render(pack) -> None:
    """The pack's sections in the pack's order, with its suppression stated first."""
    st.caption(f"{pack.quarter.describe()}, the whole force, as of {pack.filters.as_of:%d %B %Y}. SPC over "
               f"{pack.spc_months}.")
    st.info(pack.suppression.note, icon=":material/visibility_off:")
    for note in pack.notes:
        st.caption(note)

    st.markdown("#### Exceptions: special-cause concerns")
    if pack.exceptions:
        for line in pack.exceptions:
            st.text(line)  # built from catalogue labels and figures; shown as text all the same
    else:
        st.caption("No right or entitlement is a special-cause concern in the latest month.")
    if pack.improving:
        st.caption("Special cause, improving in the latest month: " + "; ".join(pack.improving) + ".")

    st.markdown("#### The 12 rights")
    _table(pack.tables["rights"], "board_rights", heading="The 12 rights")

    st.markdown("#### Each right, with its SPC chart")
    for section in pack.rights:
        with st.expander(section.title, expanded=False):
            if section.not_measured:
                st.caption(section.not_measured)
                continue
            for line in section.headline:
                st.text(line)
            st.markdown(f"**Variation:** {section.variation}" if section.variation else "")
            if section.assurance:
                st.markdown(f"**Target assurance:** {section.assurance}")
            if section.figure is not None:
                st.plotly_chart(section.figure, key=f"board_spc_{section.number}", alt=section.alt)
            st.text(section.alt)  # the chart in words, as on every page
            st.caption(section.chart_note)
            if section.chart_table is not None and not section.chart_table.empty:
                st.dataframe(pd.DataFrame(section.chart_table).astype(str), hide_index=True,
                             key=f"board_chart_table_{section.number}",
                             alt=f"Table of Right {section.number}'s monthly delivered rate")

    st.markdown("#### Every entitlement")
    _table(pack.tables["entitlements"], "board_entitlements")
    st.markdown("#### Referral uptake")
    _table(pack.tables["referrals"], "board_referrals")
    st.markdown("#### Victim voice")
    for key in ("surveys", "complaints_right", "complaints_outcome"):
        _table(pack.tables[key], f"board_{key}")
    st.markdown("#### Feedback panels and actions")
    for key in ("panels", "actions"):
        _table(pack.tables[key], f"board_{key}")
