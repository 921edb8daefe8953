"""Cached access to the figures pages show. Results are role-neutral aggregates, keyed on the store's
identity and the filters, so they are safe to share between sessions."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from data_access import queries
from metrics.filters import Filters
from ui.frame import PageContext

__all__ = ["compliance_counts", "not_applicable_reasons", "contact_measure_counts", "channel_mix"]


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
