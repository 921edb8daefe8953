"""Cached access to the figures pages show. Results are role-neutral aggregates, keyed on the store's
identity and the filters, so they are safe to share between sessions."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from data_access import annotations as annotation_queries
from data_access import outcomes, queries
from metrics.catalogue import Catalogue
from metrics.filters import Filters, add_months, month_end
from metrics.quarterly_return import compliance_return, parse_quarter, return_filters
from metrics.cube import timescale_fingerprint
from metrics.summaries import BOARD_BREAKDOWNS, BoardOverview, SeriesSpc, board_overview, exceptions, month_index
from metrics.summaries import board_spc as board_spc_of
from metrics.targets import DEFAULT_TARGETS_PATH, Targets, TargetsError, load_targets
from ui.frame import PageContext

__all__ = ["compliance_counts", "not_applicable_reasons", "contact_measure_counts", "channel_mix",
           "history_filters", "unsettled_note", "history_months", "monthly_history", "board_spc", "BoardPage",
           "board_page", "contact_history", "annotations", "targets",
           "quarterly_return", "referral_uptake", "referral_history", "referral_times", "survey_results",
           "survey_history", "complaints", "complaint_acknowledgement_times"]

log = logging.getLogger(__name__)


@st.cache_data(ttl=3600, max_entries=256, show_spinner=False)
def _compliance_counts(_ctx: PageContext, store_key: str, _filters: Filters, filters_key: str,
                       breakdowns: tuple[str, ...], codes: tuple[str, ...] | None) -> pd.DataFrame:
    return queries.compliance_counts(_ctx.store, _ctx.catalogue, _filters, breakdowns, codes)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _not_applicable(_ctx: PageContext, store_key: str, _filters: Filters, filters_key: str,
                    codes: tuple[str, ...] | None) -> pd.DataFrame:
    return queries.not_applicable_reasons(_ctx.store, _ctx.catalogue, _filters, codes)


def compliance_counts(ctx: PageContext, breakdowns: Sequence[str], codes: Sequence[str] | None = None) -> pd.DataFrame:
    return _compliance_counts(ctx, ctx.store_key, ctx.filters, repr(ctx.filters), tuple(breakdowns),
                              tuple(codes) if codes is not None else None)


def not_applicable_reasons(ctx: PageContext, codes: Sequence[str] | None = None) -> pd.DataFrame:
    return _not_applicable(ctx, ctx.store_key, ctx.filters, repr(ctx.filters), tuple(codes) if codes is not None else None)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _contact_measure_counts(_ctx: PageContext, store_key: str, _filters: Filters, filters_key: str,
                            breakdowns: tuple[str, ...]) -> pd.DataFrame:
    return queries.contact_measure_counts(_ctx.store, _ctx.catalogue, _filters, breakdowns)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _channel_mix(_ctx: PageContext, store_key: str, _filters: Filters, filters_key: str, breakdown: str) -> pd.DataFrame:
    return queries.channel_mix(_ctx.store, _ctx.catalogue, _filters, breakdown)


def contact_measure_counts(ctx: PageContext, breakdowns: Sequence[str]) -> pd.DataFrame:
    return _contact_measure_counts(ctx, ctx.store_key, ctx.filters, repr(ctx.filters), tuple(breakdowns))


def channel_mix(ctx: PageContext, breakdown: str = "total") -> pd.DataFrame:
    return _channel_mix(ctx, ctx.store_key, ctx.filters, repr(ctx.filters), breakdown)


# --- the whole monthly history up to the end of the period, for SPC ----------------------------------

def history_filters(ctx: PageContext) -> Filters:
    """The page's filters with the period stretched back to the store's first month: SPC needs 15 or
    more months, more than the default 12-month window. Every other filter stays, and so does the period's
    end, unless that month had not settled by the data date (see metrics.filters.SETTLING_DAYS): its
    pending entitlements would show as a sudden fall, a false special cause, so SPC stops a month earlier."""
    first = min(ctx.store.meta.first_month, ctx.filters.first_month)
    last = ctx.filters.last_month
    if ctx.filters.includes_settling_month() and last > first:
        last = add_months(last, -1)
    return replace(ctx.filters, first_month=first, last_month=last)


def unsettled_note(ctx: PageContext) -> str:
    """Why the SPC charts stop before the period's end, or ''."""
    last = history_filters(ctx).last_month
    if last == ctx.filters.last_month:
        return ""
    return (f"The SPC charts stop at {last:%b %Y}: {ctx.filters.last_month:%b %Y} was still being delivered on the "
            "data date, and its pending entitlements would look like a sudden fall.")


def history_months(ctx: PageContext) -> pd.DatetimeIndex:
    filters = history_filters(ctx)
    return month_index(filters.first_month, filters.last_month)


def monthly_history(ctx: PageContext, codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Compliance counts per entitlement and month, from the store's first month to the period's end."""
    filters = history_filters(ctx)
    return _compliance_counts(ctx, ctx.store_key, filters, repr(filters), ("month",),
                              tuple(codes) if codes is not None else None)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _board_spc(_ctx: PageContext, store_key: str, filters_key: str, catalogue_key: str, _targets: Targets,
               targets_key: str) -> tuple[dict[int, SeriesSpc], dict[str, SeriesSpc]]:
    return board_spc_of(monthly_history(_ctx), _ctx.catalogue, history_months(_ctx), _targets)


def board_spc(ctx: PageContext, targets: Targets) -> tuple[dict[int, SeriesSpc], dict[str, SeriesSpc]]:
    """SPC of every right's and entitlement's monthly delivered rate over the SPC history (metrics.summaries
    .board_spc), worked out once per store, filters, catalogue and targets: most of a Board overview rerun's time."""
    return _board_spc(ctx, ctx.store_key, repr(history_filters(ctx)), timescale_fingerprint(ctx.catalogue), targets,
                      repr(targets))


@dataclass(frozen=True)
class BoardPage:
    """What the Board overview shows, worked out from the figures (read-only: shared by every session)."""

    overview: BoardOverview
    rights_spc: dict[int, SeriesSpc]
    entitlements_spc: dict[str, SeriesSpc]
    recent_from: date  # the first month of the period's last quarter, for the exceptions
    concerns: pd.DataFrame  # metrics.summaries.exceptions
    improving: list[str]  # labels of the measures whose latest month is a special-cause improvement
    assurance: dict[int, str | None]  # per right, its targets' assurance in words (None: no target)
    icons: dict[str, str]  # per 'right_N' or entitlement code, its SPC icons in Markdown


# A resource, not data: returned as it is rather than copied for each session, since a rerun that only unpickled
# these figures spent most of its time doing so. Nothing that reads it changes it.
@st.cache_resource(ttl=3600, max_entries=64, show_spinner=False)
def _board_page(_ctx: PageContext, store_key: str, filters_key: str, catalogue_key: str, _targets: Targets,
                targets_key: str) -> BoardPage:
    from ui import display

    catalogue, filters = _ctx.catalogue, _ctx.filters
    log.info("working out the Board overview's figures: %s", filters.describe())
    rights_spc, entitlements_spc = board_spc(_ctx, _targets)
    recent_from = max(add_months(filters.last_month, -2), filters.first_month)
    items = [*rights_spc.values(), *entitlements_spc.values()]
    return BoardPage(
        overview=board_overview(compliance_counts(_ctx, BOARD_BREAKDOWNS), catalogue),
        rights_spc=rights_spc, entitlements_spc=entitlements_spc, recent_from=recent_from,
        concerns=exceptions(rights_spc, entitlements_spc, catalogue, recent_from=recent_from),
        improving=[item.label for item in items if item.spc.variation_icon.startswith("improvement")],
        assurance={number: display.right_assurance([entitlements_spc[e.code]
                                                    for e in catalogue.right(number).measured_entitlements])
                   for number in rights_spc},
        icons={item.code: display.icons_markdown(item) for item in items},
    )


def board_page(ctx: PageContext, targets: Targets) -> BoardPage:
    """The Board overview's figures, SPC, exceptions and icons for this store, filters, catalogue and targets."""
    return _board_page(ctx, ctx.store_key, repr(ctx.filters) + repr(history_filters(ctx)),
                       timescale_fingerprint(ctx.catalogue), targets, repr(targets))


def contact_history(ctx: PageContext) -> pd.DataFrame:
    """Contact-measure counts per report month, from the store's first month to the period's end."""
    filters = history_filters(ctx)
    return _contact_measure_counts(ctx, ctx.store_key, filters, repr(filters), ("month",))


@st.cache_data(ttl=3600, max_entries=32, show_spinner=False)
def _annotations(_ctx: PageContext, store_key: str, first, last) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (annotation_queries.panel_dates(_ctx.store, first, last),
            annotation_queries.completed_actions(_ctx.store, first, last))


def annotations(ctx: PageContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(panels held, actions completed) over the history the trend charts show, up to the as-of date."""
    filters = history_filters(ctx)
    last = min(month_end(filters.last_month), filters.as_of)
    return _annotations(ctx, ctx.store_key, filters.first_month, last)


# --- the board's targets -----------------------------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=4)
def _load_targets(path_text: str, modified_ns: int, required: bool, _catalogue: Catalogue,
                  catalogue_codes: tuple[str, ...]) -> tuple[Targets, tuple[str, ...]]:
    try:
        return load_targets(path_text, _catalogue, required=required), ()
    except TargetsError as exc:
        log.warning("targets file invalid: %s", exc)
        return Targets(source=exc.source), tuple(exc.problems)


def targets(ctx: PageContext) -> tuple[Targets, tuple[str, ...]]:
    """The board's targets (VCD_TARGETS, or metrics/targets.yaml), reloaded when the file changes, and the
    problems found in it; with any problem no target is used, and the pages say why."""
    configured = os.environ.get("VCD_TARGETS")
    path = Path(configured).expanduser() if configured else DEFAULT_TARGETS_PATH
    modified = path.stat().st_mtime_ns if path.exists() else 0
    codes = tuple(e.code for e in ctx.catalogue.entitlements) + tuple(m.code for m in ctx.catalogue.contact_measures)
    return _load_targets(str(path), modified, bool(configured), ctx.catalogue, codes)


# --- the quarterly compliance return -------------------------------------------------------------------

@st.cache_data(ttl=3600, max_entries=16, show_spinner=False)
def _quarterly_counts(_ctx: PageContext, store_key: str, quarter: str, as_of) -> pd.DataFrame:
    return queries.compliance_counts(_ctx.store, _ctx.catalogue, return_filters(parse_quarter(quarter), as_of))


def quarterly_counts(ctx: PageContext, quarter: str) -> pd.DataFrame:
    """The compliance counts behind a quarter's return ('2025Q3'): the whole force, as of the store's data date,
    whatever the sidebar filters (the same as `python -m metrics return` without --as-of)."""
    return _quarterly_counts(ctx, ctx.store_key, quarter, ctx.store.meta.data_as_of)


def quarterly_return(ctx: PageContext, quarter: str) -> pd.DataFrame:
    """The return's rows for a quarter, unsuppressed (see metrics.quarterly_return.suppressed_return)."""
    return compliance_return(quarterly_counts(ctx, quarter), ctx.catalogue)


# --- referral uptake and the victim's voice ----------------------------------------------------------------------

@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _referral_uptake(_ctx: PageContext, store_key: str, _filters: Filters, filters_key: str,
                     breakdowns: tuple[str, ...]) -> pd.DataFrame:
    return outcomes.referral_uptake(_ctx.store, _filters, breakdowns)


def referral_uptake(ctx: PageContext, breakdowns: Sequence[str] = ("total",)) -> pd.DataFrame:
    """Referral funnel counts per service and breakdown level, for victims reported in the period."""
    return _referral_uptake(ctx, ctx.store_key, ctx.filters, repr(ctx.filters), tuple(breakdowns))


def referral_history(ctx: PageContext) -> pd.DataFrame:
    """Referral funnel counts per service and report month, from the store's first month to the period's end."""
    filters = history_filters(ctx)
    return _referral_uptake(ctx, ctx.store_key, filters, repr(filters), ("month",))


@st.cache_data(ttl=3600, max_entries=32, show_spinner=False)
def _referral_times(_ctx: PageContext, store_key: str, _filters: Filters, filters_key: str, start: str) -> pd.DataFrame:
    return outcomes.referral_times(_ctx.store, _filters, start)


def referral_times(ctx: PageContext, start: str = "offer") -> pd.DataFrame:
    """Referrals sent per service by working days from the offer or the report."""
    return _referral_times(ctx, ctx.store_key, ctx.filters, repr(ctx.filters), start)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _survey_results(_ctx: PageContext, store_key: str, _filters: Filters, filters_key: str,
                    breakdowns: tuple[str, ...]) -> pd.DataFrame:
    return outcomes.survey_results(_ctx.store, _filters, breakdowns)


def survey_results(ctx: PageContext, breakdowns: Sequence[str] = ("total",)) -> pd.DataFrame:
    """Survey counts per survey and breakdown level, for responses in the period (case filters only)."""
    return _survey_results(ctx, ctx.store_key, ctx.filters, repr(ctx.filters), tuple(breakdowns))


def survey_history(ctx: PageContext) -> pd.DataFrame:
    """Survey counts per survey and response month, from the store's first month to the period's end."""
    filters = history_filters(ctx)
    return _survey_results(ctx, ctx.store_key, filters, repr(filters), ("month",))


@st.cache_data(ttl=3600, max_entries=32, show_spinner=False)
def _complaints(_ctx: PageContext, store_key: str, _filters: Filters, filters_key: str) -> pd.DataFrame:
    return outcomes.complaints_by_right(_ctx.store, _filters)


def complaints(ctx: PageContext) -> pd.DataFrame:
    """Complaints received in the period per right and outcome, with margins (case filters only)."""
    return _complaints(ctx, ctx.store_key, ctx.filters, repr(ctx.filters))


@st.cache_data(ttl=3600, max_entries=32, show_spinner=False)
def _complaint_times(_ctx: PageContext, store_key: str, _filters: Filters, filters_key: str) -> pd.DataFrame:
    return outcomes.complaint_acknowledgement_times(_ctx.store, _filters)


def complaint_acknowledgement_times(ctx: PageContext) -> pd.DataFrame:
    """Complaints received in the period by working days to acknowledgement."""
    return _complaint_times(ctx, ctx.store_key, ctx.filters, repr(ctx.filters))
