"""The append-only audit trail (DPA 2018 s.62 logging): who did what, when, to which records.

Kept in its own SQLite file beside the store, never inside it: imports replace the store file, and the
dashboard's DuckDB connection (and its SQL box) must not be able to read or alter the trail.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["AuditError", "default_audit_path"]


class AuditError(Exception):
    """The audit record could not be written, so the action it describes must not happen."""


def default_audit_path(store_path: str | Path) -> Path:
    """Where a store's audit trail lives unless configured otherwise: `<store file>.audit.sqlite`."""
    store = Path(store_path)
    return store.with_name(store.name + ".audit.sqlite")
