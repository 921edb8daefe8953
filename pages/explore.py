"""Explore: a pivot of compliance over allow-listed dimensions and measures (action group and above); the
entitlements missed or delivered late, by team, for follow-up (victim services); and a read-only SQL box
over the store (victim services and admin). Every case-level look, SQL query and download is audited first."""

import logging
import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from data_access import audit
from data_access.explore import missed_or_late, missed_or_late_teams, pivot_counts, store_columns, team_values
from data_access.queries import CASE_LEVEL_ROLES
from data_access.sandbox import EXAMPLE_QUERY, MAX_SQL_CHARS, SQL_ROLES, SandboxError, run_readonly_sql
from data_access.store import StoreError
from metrics.filters import Filters
from metrics.funnel import funnel
from metrics.pivot import (PIVOT_DIMENSIONS, PIVOT_MEASURES, PivotSpec, PivotTable, csv_bytes, describe_pivot,
                           follow_up_table, pivot_table, xlsx_bytes)
from ui import charts, display
from ui.frame import PageContext, page_context

ctx = page_context("explore")
PAGE_ID = "explore"
catalogue, filters = ctx.catalogue, ctx.filters
log = logging.getLogger("pages.explore")

SECTIONS = {"pivot": "Pivot", "follow_up": "Missed or late, by team", "sql": "SQL"}
FOLLOW_UP_PAGE_SIZES = (50, 100, 250, 500)
SQL_ROW_CAP, SQL_TIMEOUT_S = 1000, 10
NO_COLUMNS = "none"
_FORMATS = {"CSV": ("csv", "text/csv"),
            "Excel (XLSX)": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
_ACTION_WORDS = {"download": ("download", "offered"), "view_case_level": ("list", "shown"),
                 "sql_query": ("query's result", "shown")}


def audit_filters(f: Filters, **extra) -> dict:
    """The filters as the audit trail keeps them: period, as-of date and each active selection."""
    return {"period": [f"{f.first_month:%Y-%m}", f"{f.last_month:%Y-%m}"], "as_of": f.as_of.isoformat(),
            **{name: list(values) for name, values in f.active().items()}, **extra}


def recorded(action: str, **details) -> bool:
    """Write the audit record an action needs before it happens; False (with the reason shown) if it cannot be."""
    try:
        audit.record(ctx.audit_db, user=ctx.user, role=ctx.role, action=action, page=PAGE_ID, **details)
    except (audit.AuditError, ValueError) as exc:  # ValueError: a value the trail refuses; nothing was written
        log.error("audit record for %s failed: %s", action, exc.__class__.__name__)
        what, done = _ACTION_WORDS[action]
        st.error(f"The audit trail could not record this {what}, so it is not {done}: every case-level list, "
                 f"query and download on this page is recorded first. Ask whoever runs the server to check that "
                 f"the audit file ({display.plain(ctx.audit_db.name)}) can be written, then try again.",
                 icon=":material/error:")
        return False
    return True


def download_offer(key: str, label: str, file_stem: str, make_file, *, filters: dict, detail: dict,
                   ids: tuple[str, ...] | list[str] = (), row_count: int | None = None) -> None:
    """A format choice and a 'Prepare' button: the download is audited when it is prepared, and only then is
    the file offered. `make_file(extension)` returns the file's bytes."""
    left, middle, right = st.columns([2, 1, 2], vertical_alignment="bottom")
    choice = left.segmented_control(f"{label}: format", list(_FORMATS), default="CSV", required=True,
                                    key=f"{key}_format")
    extension, mime = _FORMATS[choice]
    prepared_key = f"{key}_prepared"
    view = (ctx.store_key, repr((filters, detail, list(ids))), extension)  # a new file needs a new record
    if middle.button("Prepare file", key=f"{key}_prepare", icon=":material/download:"):
        if recorded("download", detail={"file": f"{file_stem}.{extension}", **detail}, filters=filters, ids=ids,
                    row_count=row_count):
            st.session_state[prepared_key] = view
    if st.session_state.get(prepared_key) == view:
        right.download_button(f"Download {extension.upper()}", make_file(extension),
                              file_name=f"{file_stem}.{extension}", mime=mime, key=f"{key}_download",
                              on_click="ignore", icon=":material/file_download:")
    else:
        right.caption("Each download is recorded in the audit trail when it is prepared.")


# --- pivot -------------------------------------------------------------------------------------------

@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _pivot_counts(_ctx: PageContext, store_key: str, _filters: Filters, filters_key: str, spec: PivotSpec,
                  rights: tuple[int, ...] | None, teams: tuple[str, ...] | None) -> pd.DataFrame:
    # Aggregates only, keyed on the store and every choice: the same for every role that may see the page.
    return pivot_counts(_ctx.store, _ctx.catalogue, _filters, spec, rights=rights, teams=teams)


@st.cache_data(ttl=3600, max_entries=8, show_spinner=False)
def _teams(_ctx: PageContext, store_key: str) -> tuple[str, ...]:
    return team_values(_ctx.store)


def _cell_text(value: float, is_rate: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.0%}" if is_rate else f"{int(value):,}"


def pivot_figure(table: PivotTable) -> go.Figure:
    """A heatmap with every cell's value written in it (colour is never the only signal), or, with no
    columns, bars with their values (and for a rate its 95% interval)."""
    measure = PIVOT_MEASURES[table.spec.measure]
    is_rate = measure.denominator is not None
    wide, cells = table.wide, table.cells
    rows = [charts.safe_text(r, 60) for r in wide.index]
    if table.spec.columns:
        z = wide.to_numpy(float)
        lookup = {(r, c): (n, d) for r, c, n, d in zip(cells["row_label"], cells["column_label"],
                                                       cells["numerator"], cells["denominator"])}
        hover = [[(f"{lookup[(r, c)][0]:,} of {int(lookup[(r, c)][1]):,}" if is_rate and (r, c) in lookup
                   else "") for c in wide.columns] for r in wide.index]
        figure = go.Figure(go.Heatmap(
            z=z, x=[charts.safe_text(c, 40) for c in wide.columns], y=rows,
            text=[[_cell_text(v, is_rate) for v in row] for row in z], texttemplate="%{text}", customdata=hover,
            hovertemplate="%{y}<br>%{x}<br>" + measure.label + ": %{text} %{customdata}<extra></extra>",
            colorscale=[[0, "#FFFFFF"], [1, charts.PALETTE[0]]], zmin=0,
            zmax=1 if is_rate else max(float(pd.Series(z.ravel()).max(skipna=True) or 1), 1),
            xgap=1, ygap=1, colorbar=dict(title=measure.label, tickformat=".0%" if is_rate else ",d")))
        figure.update_xaxes(type="category", side="top")
        figure.update_yaxes(type="category", autorange="reversed")
        height = 120 + 28 * len(rows)
    else:
        values = wide.iloc[:, 0].to_numpy(float)
        bar = dict(x=values, y=rows, orientation="h", marker_color=charts.PALETTE[0],
                   hovertemplate="%{y}: %{x" + (":.1%" if is_rate else ":,") + "}<extra></extra>")
        if is_rate:
            order = cells.set_index("row_label").reindex(wide.index)
            bar["error_x"] = dict(type="data", symmetric=False, color=charts.GREY,
                                  array=(order["upper"] - order["value"]).to_numpy(float),
                                  arrayminus=(order["value"] - order["lower"]).to_numpy(float))
        top = 1.0 if is_rate else max(float(pd.Series(values).max(skipna=True) or 1), 1)
        figure = go.Figure(go.Bar(**bar))
        # Each value written in a column of its own beyond the longest bar, clear of the interval whiskers.
        figure.add_trace(go.Scatter(x=[top * 1.03] * len(rows), y=rows, mode="text", hoverinfo="skip",
                                    text=[_cell_text(v, is_rate) for v in values], textposition="middle right"))
        figure.update_yaxes(type="category", autorange="reversed")
        figure.update_xaxes(range=[0, top * 1.16], tickformat=".0%" if is_rate else ",d",
                            tickvals=[top * i / 4 for i in range(5)] if is_rate else None)
        height = 100 + 26 * len(rows)
    figure.update_layout(template=charts.TEMPLATE, height=min(max(height, 240), 1400), showlegend=False)
    return figure


# Rows that are units of the force: a rate across them is drawn as a funnel plot (issue 5).
FUNNEL_ROWS = {"district": ("District", "districts"), "command_area": ("Command area", "command areas"),
               "team": ("Team", "teams")}


def pivot_section() -> None:
    dimension_names = list(PIVOT_DIMENSIONS)
    left, middle, right = st.columns(3)
    rows = left.selectbox("Rows", dimension_names, index=dimension_names.index("entitlement"), key="pivot_rows",
                          format_func=lambda n: PIVOT_DIMENSIONS[n].label, bind="query-params")
    column_choices = [NO_COLUMNS] + [n for n in dimension_names if n != rows]
    columns = middle.selectbox("Columns", column_choices, key="pivot_columns", bind="query-params",
                               format_func=lambda n: "(none)" if n == NO_COLUMNS else PIVOT_DIMENSIONS[n].label)
    columns = None if columns == NO_COLUMNS else columns
    measure_name = right.selectbox("Measure", list(PIVOT_MEASURES), index=2, key="pivot_measure",
                                   format_func=lambda n: PIVOT_MEASURES[n].label, bind="query-params")
    measured_rights = [r.number for r in catalogue.rights if r.measured_entitlements]
    with st.expander("Narrow the pivot further (the sidebar filters apply too)"):
        rights = st.multiselect("Rights", measured_rights, key="pivot_rights", placeholder="All",
                                format_func=lambda n: f"Right {n}: {catalogue.right(n).short_title}")
        teams = st.multiselect("Teams", list(_teams(ctx, ctx.store_key)), key="pivot_teams", placeholder="All")
    spec = PivotSpec(rows=rows, measure=measure_name, columns=columns)
    measure = PIVOT_MEASURES[measure_name]
    counts = _pivot_counts(ctx, ctx.store_key, filters, repr(filters), spec, tuple(rights) or None,
                           tuple(teams) or None)
    table = pivot_table(counts, spec, catalogue)
    narrowed = [f"Rights {', '.join(map(str, rights))}" if rights else "",
                f"teams: {', '.join(teams)}" if teams else ""]
    context = "; ".join([filters.describe(), *[n for n in narrowed if n]])
    if table.cells.empty:
        st.info("No entitlement instances match these choices.", icon=":material/info:")
        return
    alt = describe_pivot(table, context)
    if measure.denominator is not None and columns is None and rows in FUNNEL_ROWS:
        # Units compared on one rate: a funnel plot, never bars that read as a league table.
        unit_word, units_word = FUNNEL_ROWS[rows]
        result = funnel(table.cells.rename(columns={"row_label": "unit"}), unit="unit", numerator="numerator",
                        denominator="denominator", order="alphabetical")
        display.funnel_section(result, key="pivot_funnel", what=measure.label.lower(), unit_word=unit_word,
                               units_word=units_word, definition=f"{measure.label}: {measure.description}",
                               context=context)
    else:
        st.plotly_chart(pivot_figure(table), alt=alt, config={"displaylogo": False}, key="pivot_chart")
    if measure.denominator == "eligible_timed":
        n_text = f"{int(table.cells['eligible_timed'].sum()):,} eligible instances with a timescale"
    else:
        n_text = f"{int(table.cells['eligible'].sum()):,} eligible instances"
    st.caption(f"{measure.label}: {measure.description}. {context}; n = {n_text}. "
               f"{display.latest_month_note(filters)} Rows and columns are listed in their own order (months, "
               "quarters, rights) or alphabetically; nothing is ranked.")
    is_rate = measure.denominator is not None
    shown = table.wide * 100 if is_rate else table.wide
    number_format = "%.1f%%" if is_rate else "localized"
    st.dataframe(shown, column_config={str(c): st.column_config.NumberColumn(format=number_format)
                                       for c in shown.columns},
                 alt=f"Table of {measure.label.lower()}: {alt}")
    cells = cells_table(table)
    with st.expander("The chart in words, and every cell with its counts"):
        st.text(alt)
        st.dataframe(cells, hide_index=True, alt="Table of every pivot cell with its counts and, for a rate, "
                                                  "its numerator, denominator and 95% interval")
    st.markdown("##### Download the pivot")
    download_offer(
        "pivot", "Pivot", f"pivot-{measure_name}-by-{rows}" + (f"-and-{columns}" if columns else ""),
        lambda extension: pivot_file(table, cells, context, extension),
        filters=audit_filters(filters, rights=list(rights), teams=list(teams)), row_count=len(table.wide),
        detail={"what": "pivot", "rows": rows, "columns": columns, "measure": measure_name})


def cells_table(table: PivotTable) -> pd.DataFrame:
    """Every cell with its counts, and for a rate its n of N and 95% interval: the pivot's figures in full."""
    spec, measure = table.spec, PIVOT_MEASURES[table.spec.measure]
    cells = table.cells
    out = pd.DataFrame({PIVOT_DIMENSIONS[spec.rows].label: cells["row_label"]})
    if spec.columns:
        out[PIVOT_DIMENSIONS[spec.columns].label] = cells["column_label"]
    if measure.denominator is not None:
        out[f"{measure.label} %"] = (cells["value"] * 100).round(1)
        out["n of N"] = [display.count_text(n, d) for n, d in zip(cells["numerator"], cells["denominator"])]
        out["95% CI"] = [display.interval_text(lo, hi) for lo, hi in zip(cells["lower"], cells["upper"])]
    for column, label in (("eligible", "Eligible"), ("delivered", "Delivered"),
                          ("delivered_on_time", "Delivered on time"),
                          ("eligible_timed", "Eligible with a timescale"), ("not_yet_due", "Not yet due"),
                          ("not_applicable", "Not applicable")):
        out[label] = cells[column]
    return out


def pivot_file(table: PivotTable, cells: pd.DataFrame, context: str, extension: str) -> bytes:
    """CSV: every cell with its counts. XLSX: the pivot as shown, every cell with its counts, and notes."""
    if extension == "csv":
        return csv_bytes(cells)
    measure = PIVOT_MEASURES[table.spec.measure]
    notes = pd.DataFrame({"About": [
        f"{measure.label}: {measure.description}.", f"Selection: {context}.",
        f"Data as of {ctx.store.meta.data_as_of:%d %B %Y}; synthetic demo data: "
        f"{'yes' if ctx.store.meta.is_demo else 'no'}.",
        "Rates are numerator over denominator per cell, with Wilson 95% intervals on the Cells sheet.",
        "Cells beginning =, +, - or @ start with an apostrophe so that spreadsheets show them as text."]})
    return xlsx_bytes({"Pivot": table.wide, "Cells": cells, "Notes": notes}, index_sheets=("Pivot",))


# --- missed or late, by team (victim services) ---------------------------------------------------------

def _back_to_first_page() -> None:
    st.session_state.pop("follow_up_page", None)


def follow_up_section() -> None:
    teams = missed_or_late_teams(ctx.store, catalogue, filters, role=ctx.role)
    st.caption(f"Entitlement instances triggered in the period (and within the sidebar filters) that had not "
               f"been delivered by {filters.as_of:%d %b %Y} although due, or had no timescale and were still not "
               "delivered, or that were delivered after their due date. Each team's list is for follow-up; every "
               "page of it shown is recorded in the audit trail.")
    if teams.empty:
        st.success("Nothing was missed or delivered late in this selection.", icon=":material/check_circle:")
        return
    totals = {row.team: int(row.not_delivered + row.delivered_late) for row in teams.itertuples()}
    words = {row.team: f"{row.team}: {row.not_delivered:,} not delivered, {row.delivered_late:,} late"
             for row in teams.itertuples()}
    left, right = st.columns([3, 1])
    team = left.selectbox("Team", [None, *totals], key="follow_up_team", on_change=_back_to_first_page,
                          format_func=lambda t: f"All teams ({sum(totals.values()):,})" if t is None else words[t])
    page_size = right.selectbox("Rows per page", FOLLOW_UP_PAGE_SIZES, key="follow_up_page_size",
                                on_change=_back_to_first_page)
    total = sum(totals.values()) if team is None else totals[team]
    pages = max(1, math.ceil(total / page_size))
    if st.session_state.get("follow_up_page", 1) > pages:
        st.session_state["follow_up_page"] = 1
    page = st.session_state.get("follow_up_page", 1)
    rows, _ = missed_or_late(ctx.store, catalogue, filters, role=ctx.role, team=team, page=page - 1,
                             page_size=page_size)
    ids = list(dict.fromkeys([*rows["delivery_id"], *rows["victim_id"]]))
    view = (ctx.store_key, repr(filters), team, page, page_size)
    if st.session_state.get("follow_up_recorded") != view:
        # One record per distinct page shown in this session; re-drawing the same page is not a new look.
        if not recorded("view_case_level", filters=audit_filters(filters, team=team, page=page), ids=ids,
                        row_count=len(rows), detail={"what": "missed or late entitlements"}):
            return
        st.session_state["follow_up_recorded"] = view
    table = follow_up_table(rows, catalogue)
    st.dataframe(table, hide_index=True, column_config={
        "Triggered": st.column_config.DateColumn(format="D MMM YYYY"),
        "Due": st.column_config.DateColumn(format="D MMM YYYY", help="The N-th working day after the trigger; "
                                                                      "blank where the Code sets no timescale"),
        "Delivered": st.column_config.DateColumn(format="D MMM YYYY"),
        "Days late": st.column_config.NumberColumn(help="Calendar days from the due date to the delivery, or to the "
                                                        "data date when not delivered")},
        alt="Table of entitlement instances missed or delivered late, by team, then trigger date")
    st.caption(f"Showing {(page - 1) * page_size + 1:,} to {(page - 1) * page_size + len(rows):,} of {total:,}, by "
               "team, then trigger date.")
    if pages > 1:
        st.pagination(pages, key="follow_up_page")
    download_offer(
        "follow_up", "This page of the list", f"missed-or-late-page-{page}",
        lambda extension: csv_bytes(table) if extension == "csv" else xlsx_bytes({"Missed or late": table}),
        filters=audit_filters(filters, team=team, page=page), ids=ids, row_count=len(rows),
        detail={"what": "missed or late entitlements"})


# --- SQL box (victim services and admin) ----------------------------------------------------------------

@st.cache_data(ttl=3600, max_entries=8, show_spinner=False)
def _store_columns(_ctx: PageContext, store_key: str) -> pd.DataFrame:
    return store_columns(_ctx.store)


def sql_section() -> None:
    st.caption(f"One read-only query (a single select statement) over the store, in a connection of its own: no files, network, extensions or "
               f"settings; stopped after {SQL_TIMEOUT_S} seconds; at most {SQL_ROW_CAP:,} rows shown. The sidebar "
               "filters do not apply. Every query is recorded in the audit trail with its text.")
    with st.expander("Tables and columns in the store"):
        st.dataframe(_store_columns(ctx, ctx.store_key), hide_index=True, alt="Table of the store's tables, "
                     "their columns and types")
    text = st.text_area("SQL", key="sql_text", height=160, max_chars=MAX_SQL_CHARS,
                        placeholder=EXAMPLE_QUERY)
    if st.button("Run", key="sql_run", type="primary", icon=":material/play_arrow:"):
        st.session_state.pop("sql_result", None)
        try:
            frame, truncated = run_readonly_sql(ctx.store.path, text or "", role=ctx.role, row_cap=SQL_ROW_CAP,
                                                timeout_s=SQL_TIMEOUT_S)
        except SandboxError as exc:
            recorded("sql_query", detail={"sql": text or "", "outcome": "refused or failed"})
            st.error(str(exc), icon=":material/error:")
            return
        if recorded("sql_query", row_count=len(frame), detail={"sql": text, "outcome": "ran",
                                                               "truncated": truncated}):
            st.session_state["sql_result"] = ((ctx.store_key, ctx.role), text, frame, truncated)
    result = st.session_state.get("sql_result")
    if result is None or result[0] != (ctx.store_key, ctx.role):
        return
    _, ran, frame, truncated = result
    if ran != text:
        st.caption("The result below is from the SQL as it was when last run.")
    more = f" The query returned more; only the first {SQL_ROW_CAP:,} are shown." if truncated else ""
    st.caption(f"{len(frame):,} row(s).{more}")
    st.dataframe(frame, hide_index=True, alt="Table of the SQL query's result")


# --- the page ---------------------------------------------------------------------------------------------

available = ["pivot"]
if ctx.role in CASE_LEVEL_ROLES:
    available.append("follow_up")
if ctx.role in SQL_ROLES:
    available.append("sql")
section = "pivot"
if len(available) > 1:
    section = st.segmented_control("Show", available, default="pivot", required=True, key="explore_section",
                                   format_func=SECTIONS.get)
try:
    {"pivot": pivot_section, "follow_up": follow_up_section, "sql": sql_section}[section]()
except StoreError as exc:  # a query stopped for taking too long: the message names no data
    st.error(f"{exc}. Narrow the filters and try again.", icon=":material/error:")
