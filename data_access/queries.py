"""Named queries the pages use. Each builds its SQL in metrics/ (pure) and runs it on the store."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from data_access.store import Store
from metrics.catalogue import Catalogue
from metrics.compliance import compliance_counts_sql, not_applicable_sql
from metrics.cube import cube_counts_sql, cube_for
from metrics.contact_measures import channel_mix_sql, overdue_updates_sql, victim_contact_sql
from metrics.filters import DIMENSIONS, Filters

__all__ = ["CASE_LEVEL_ROLES", "dimension_values", "compliance_counts", "not_applicable_reasons",
           "contact_measure_counts", "channel_mix", "overdue_updates"]

# Roles that may see rows about individual victims. Every function returning such rows checks this
# itself, so a page that forgot to hide a list still could not show it.
CASE_LEVEL_ROLES = frozenset({"victim_services"})
MAX_PAGE_SIZE = 500


def dimension_values(store: Store) -> dict[str, tuple[str, ...]]:
    """The values each filter may take: the contract's list, or what the store holds for districts and areas."""
    values: dict[str, tuple[str, ...]] = {}
    for name, dim in DIMENSIONS.items():
        if dim.values is not None:
            values[name] = dim.values
    districts = store.query("""
        SELECT DISTINCT k.district, COALESCE(d.command_area, 'Unassigned') AS command_area
        FROM cases k LEFT JOIN districts d USING (district)
        ORDER BY k.district""")
    values["district"] = tuple(districts["district"])
    values["command_area"] = tuple(sorted(set(districts["command_area"])))
    return values


def compliance_counts(store: Store, catalogue: Catalogue, filters: Filters,
                      breakdowns: Sequence[str] = ("total",), codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Compliance counts per entitlement and breakdown level (see metrics.compliance).

    Read from a monthly summary cube when one gives exactly the same counts (metrics.cube.cube_for), otherwise
    from the entitlement facts.
    """
    cube = cube_for(catalogue, filters, breakdowns, cube_as_of=store.meta.summary_as_of,
                    cube_fingerprint=store.meta.summary_fingerprint)
    if cube is not None:
        sql, params = cube_counts_sql(cube, catalogue, filters, breakdowns, codes)
    else:
        sql, params = compliance_counts_sql(catalogue, filters, breakdowns, codes)
    return store.query(sql, params)


def not_applicable_reasons(store: Store, catalogue: Catalogue, filters: Filters,
                           codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Instances excluded as not applicable, per entitlement and reason."""
    sql, params = not_applicable_sql(catalogue, filters, codes)
    return store.query(sql, params)


def contact_measure_counts(store: Store, catalogue: Catalogue, filters: Filters,
                           breakdowns: Sequence[str] = ("total",)) -> pd.DataFrame:
    """Counts and medians of the contact-log measures per breakdown level (see metrics.contact_measures)."""
    sql, params = victim_contact_sql(catalogue, filters, breakdowns)
    return store.query(sql, params)


def channel_mix(store: Store, catalogue: Catalogue, filters: Filters, breakdown: str = "total") -> pd.DataFrame:
    """Contacts by channel for the victims in scope."""
    sql, params = channel_mix_sql(catalogue, filters, breakdown)
    return store.query(sql, params)


def overdue_updates(store: Store, catalogue: Catalogue, filters: Filters, *, role: str,
                    page: int = 0, page_size: int = 50) -> tuple[pd.DataFrame, int]:
    """One page of victims overdue for an update, most overdue first, and how many there are in all.

    Case-level: refused (PermissionError) for any role outside CASE_LEVEL_ROLES.
    """
    if role not in CASE_LEVEL_ROLES:
        raise PermissionError(f"the {role!r} role may not see case-level rows")
    if not 1 <= page_size <= MAX_PAGE_SIZE or page < 0:
        raise ValueError(f"page must be 0 or more and page_size 1 to {MAX_PAGE_SIZE}")
    sql, params = overdue_updates_sql(catalogue, filters, limit=page_size, offset=page * page_size)
    rows = store.query(sql, params)
    total = int(rows["total_rows"].iloc[0]) if len(rows) else 0
    return rows.drop(columns="total_rows"), total
