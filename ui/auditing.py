"""Writing the audit record an action needs before the action happens, the same way on every page."""

from __future__ import annotations

import logging

import streamlit as st

from data_access import audit
from metrics.filters import Filters
from ui.frame import PageContext

__all__ = ["audit_filters", "recorded"]

log = logging.getLogger(__name__)


def audit_filters(filters: Filters, **extra) -> dict:
    """The filters as the audit trail keeps them: period, as-of date and each active selection."""
    return {"period": [f"{filters.first_month:%Y-%m}", f"{filters.last_month:%Y-%m}"],
            "as_of": filters.as_of.isoformat(),
            **{name: list(values) for name, values in filters.active().items()}, **extra}


def recorded(ctx: PageContext, action: str, page_id: str, what: str, **details) -> bool:
    """Record the action (audit.record's keywords in `details`); if the trail cannot take it, say so on the
    page and return False: the caller must then not do it. `what` names the action in the message."""
    try:
        audit.record(ctx.audit_db, user=ctx.user, role=ctx.role, action=action, page=page_id, **details)
    except (audit.AuditError, ValueError) as exc:  # ValueError: a value the trail refuses; nothing was written
        log.error("audit record for %s on %s failed: %s", action, page_id, exc.__class__.__name__)
        st.error(f"The audit trail could not record this {what}, so it was not done: every {what} here is "
                 f"recorded first. Ask whoever runs the server to check that the audit file ({ctx.audit_db.name}) "
                 "can be written, then try again.", icon=":material/error:")
        return False
    return True
