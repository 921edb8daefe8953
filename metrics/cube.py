"""Monthly summary cubes: the compliance counts added up once, when a store is built, so the Board overview and
the action group's pages read thousands of rows instead of millions, whatever the volume.

Pure: SQL builders and the rule for when a cube may answer a request; data_access builds and reads them.

A cube holds, for each trigger month, entitlement and combination of its dimensions, the six counts of
metrics.compliance (COUNTS_SQL) classified as of the store's data date with the catalogue's timescales at build
time. Counts add up across rows, so any period of whole months, any selection on the cube's dimensions and any
breakdown by them is a sum over its rows, equal to what the entitlement facts give. A cube answers only when
that equality holds:
- the request's as-of date is the one the cube was classified at (the pages always use the store's data date);
- the catalogue's measured entitlements and their timescales are the ones it was built with (a fingerprint of
  both is kept beside it: edit the YAML, and the pages read the facts until the next import rebuilds the cube);
- every active filter and every breakdown is one of its dimensions.
Anything else (an age-band filter, an --as-of in the past) reads the entitlement facts, as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from metrics.catalogue import Catalogue
from metrics.compliance import (COUNT_COLUMNS, COUNTS_SQL, check_breakdowns, classified_ctes,
                                grouped_counts_select)
from metrics.filters import DIMENSIONS, Filters, filter_clauses

__all__ = ["SummaryCube", "SUMMARY_CUBES", "SUMMARY_META_KEYS", "timescale_fingerprint", "build_cube_sql",
           "rollup_cube_sql", "cube_for", "cube_counts_sql"]


@dataclass(frozen=True)
class SummaryCube:
    table: str
    dimensions: tuple[str, ...]  # names in metrics.filters.DIMENSIONS


# Smallest first: a request is answered by the first cube that holds every dimension it needs. The force-wide
# cube serves the board (no filters); the area cube the district, command-area, offence-group and standard or
# enhanced filters and breakdowns of the action group's pages.
SUMMARY_CUBES = (
    SummaryCube("summary_force", ("victim_type",)),
    SummaryCube("summary_area", ("command_area", "district", "offence_group", "victim_type")),
)
# The counts of a cube's rows added up (a sum of BIGINTs is a HUGEINT in DuckDB; the facts' counts are BIGINT).
SUMMED_COUNTS_SQL = ",\n       ".join(f"CAST(sum({name}) AS BIGINT) AS {name}" for name in COUNT_COLUMNS)
# store_meta keys: the as-of date the cubes were classified at, and the catalogue fingerprint ('' = no cubes).
SUMMARY_META_KEYS = ("summary_as_of", "summary_fingerprint")


def timescale_fingerprint(catalogue: Catalogue) -> str:
    """A digest of what the counts depend on in the catalogue: each measured entitlement, its right and timescales."""
    entries = [[e.code, e.right_no, e.standard_days, e.enhanced_days] for e in catalogue.measured_entitlements]
    return hashlib.sha256(json.dumps(sorted(entries, key=lambda x: x[0])).encode()).hexdigest()


def build_cube_sql(cube: SummaryCube, catalogue: Catalogue, first_month: date, last_month: date,
                   as_of: date) -> tuple[str, dict]:
    """CREATE TABLE for one cube over every month of the store, classified as of `as_of`."""
    params: dict = {}
    ctes = classified_ctes(catalogue, Filters(first_month=first_month, last_month=last_month, as_of=as_of),
                           None, params)
    dimensions = ", ".join(DIMENSIONS[name].column for name in cube.dimensions)
    # Table and column names come from SUMMARY_CUBES and DIMENSIONS, never from input.
    sql = f"""CREATE OR REPLACE TABLE {cube.table} AS
{ctes}
SELECT trigger_month, entitlement, right_no, {dimensions},
       {COUNTS_SQL}
FROM classified
GROUP BY ALL
ORDER BY trigger_month, entitlement"""
    return sql, params


def rollup_cube_sql(cube: SummaryCube, finer: SummaryCube) -> str:
    """CREATE TABLE for a cube added up from a finer one (one pass over the facts builds them all)."""
    if not set(cube.dimensions) <= set(finer.dimensions):
        raise ValueError(f"{cube.table} cannot be added up from {finer.table}: it has other dimensions")
    dimensions = ", ".join(DIMENSIONS[name].column for name in cube.dimensions)
    return f"""CREATE OR REPLACE TABLE {cube.table} AS
SELECT trigger_month, entitlement, right_no, {dimensions},
       {SUMMED_COUNTS_SQL}
FROM {finer.table}
GROUP BY ALL
ORDER BY trigger_month, entitlement"""


def cube_for(catalogue: Catalogue, filters: Filters, breakdowns: Sequence[str], *, cube_as_of: date | None,
             cube_fingerprint: str) -> SummaryCube | None:
    """The smallest cube that gives exactly the facts' counts for this request, or None (read the facts)."""
    if cube_as_of is None or cube_as_of != filters.as_of or cube_fingerprint != timescale_fingerprint(catalogue):
        return None
    needed = set(filters.active()) | {b for b in breakdowns if b not in ("total", "month")}
    if not needed <= set(DIMENSIONS):  # a breakdown that is not a filter dimension (none today)
        return None
    return next((cube for cube in SUMMARY_CUBES if needed <= set(cube.dimensions)), None)


def cube_counts_sql(cube: SummaryCube, catalogue: Catalogue, filters: Filters, breakdowns: Sequence[str] = ("total",),
                    codes: Sequence[str] | None = None) -> tuple[str, dict]:
    """The same rows as metrics.compliance.compliance_counts_sql, added up from a cube (see cube_for)."""
    check_breakdowns(breakdowns)
    wanted = [e.code for e in catalogue.measured_entitlements if codes is None or e.code in codes]
    if not wanted:
        raise ValueError("no measured entitlements selected")
    params: dict = {"codes": wanted, "first_month": filters.first_month, "last_month": filters.last_month}
    # Whole months: a trigger date is in the period exactly when its month is.
    where = filter_clauses(filters, params, "c", "trigger_month", period=False)
    sql = f"""WITH in_scope AS (
    SELECT * FROM {cube.table} c
    WHERE c.trigger_month BETWEEN $first_month AND $last_month
      AND list_contains($codes, c.entitlement)
      AND {where}
)
{grouped_counts_select("in_scope", SUMMED_COUNTS_SQL, breakdowns, params)}"""
    return sql, params
