"""The Explore page's queries: the pivot's counts, the teams in the store, and the case-level list of missed
or late entitlements (victim services only). The SQL is built in metrics.pivot (pure) and run here."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from data_access.queries import CASE_LEVEL_ROLES, MAX_PAGE_SIZE
from data_access.store import Store
from metrics.catalogue import Catalogue
from metrics.filters import Filters
from metrics.pivot import NO_TEAM, PivotSpec, missed_or_late_sql, missed_or_late_teams_sql, pivot_sql

__all__ = ["team_values", "pivot_counts", "missed_or_late", "missed_or_late_teams", "store_columns"]


def team_values(store: Store) -> tuple[str, ...]:
    """Every team an entitlement instance is attributed to, alphabetically, and NO_TEAM if some have none."""
    rows = store.query("SELECT DISTINCT COALESCE(team, $no_team) AS team FROM entitlement_facts ORDER BY team",
                       {"no_team": NO_TEAM})
    return tuple(rows["team"])


def pivot_counts(store: Store, catalogue: Catalogue, filters: Filters, spec: PivotSpec, *,
                 rights: Sequence[int] | None = None, teams: Sequence[str] | None = None) -> pd.DataFrame:
    """Compliance counts per pivot cell (see metrics.pivot.pivot_sql). Aggregates: any role that may open
    the Explore page may see them."""
    sql, params = pivot_sql(catalogue, filters, spec, rights=rights, teams=teams)
    return store.query(sql, params)


def _check_case_level(role: str) -> None:
    if role not in CASE_LEVEL_ROLES:
        raise PermissionError(f"the {role!r} role may not see case-level rows")


def missed_or_late(store: Store, catalogue: Catalogue, filters: Filters, *, role: str, team: str | None = None,
                   page: int = 0, page_size: int = 50) -> tuple[pd.DataFrame, int]:
    """One page of entitlement instances in the filters that were not delivered or were delivered late, by
    team, and how many there are in all. Only that page is read from the store.

    Case-level: refused (PermissionError) for any role outside CASE_LEVEL_ROLES.
    """
    _check_case_level(role)
    if not 1 <= page_size <= MAX_PAGE_SIZE or page < 0:
        raise ValueError(f"page must be 0 or more and page_size 1 to {MAX_PAGE_SIZE}")
    sql, params = missed_or_late_sql(catalogue, filters, team=team, limit=page_size, offset=page * page_size)
    rows = store.query(sql, params)
    total = int(rows["total_rows"].iloc[0]) if len(rows) else 0
    return rows.drop(columns="total_rows"), total


def missed_or_late_teams(store: Store, catalogue: Catalogue, filters: Filters, *, role: str) -> pd.DataFrame:
    """Per team: instances not delivered and delivered late, alphabetically. Shown only beside the
    case-level list, so it is checked like it."""
    _check_case_level(role)
    sql, params = missed_or_late_teams_sql(catalogue, filters)
    return store.query(sql, params)


def store_columns(store: Store) -> pd.DataFrame:
    """The store's tables and their columns (names and types only, no data), for the SQL box's help."""
    return store.query("""
        SELECT table_name AS "Table", column_name AS "Column", data_type AS "Type"
        FROM duckdb_columns() WHERE database_name = 'store'
        ORDER BY table_name, column_index""")
