"""Named queries the pages use. Each builds its SQL in metrics/ (pure) and runs it on the store."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from data_access.store import Store
from metrics.catalogue import Catalogue
from metrics.compliance import compliance_counts_sql, not_applicable_sql
from metrics.filters import DIMENSIONS, Filters

__all__ = ["dimension_values", "compliance_counts", "not_applicable_reasons"]


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
    """Compliance counts per entitlement and breakdown level (see metrics.compliance)."""
    sql, params = compliance_counts_sql(catalogue, filters, breakdowns, codes)
    return store.query(sql, params)


def not_applicable_reasons(store: Store, catalogue: Catalogue, filters: Filters,
                           codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Instances excluded as not applicable, per entitlement and reason."""
    sql, params = not_applicable_sql(catalogue, filters, codes)
    return store.query(sql, params)
