"""Audit trail (admin only): who viewed, downloaded, imported or purged what, and whether the trail is intact."""

import json
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
import streamlit as st

from data_access.audit import ACTIONS, AuditError, read_events, record, verify_trail
from ui.frame import page_context

ctx = page_context("audit_trail")
IDS_SHOWN = 20  # per event; the rest are counted, as a download can touch thousands

st.caption("Every case-level view, drill-down, download, import, purge and change of role mapping, as the Data "
           "Protection Act 2018 s.62 requires. The trail is personal data: use it only to check that processing "
           "was lawful, for self-monitoring and discipline, for integrity and security, or in criminal "
           "proceedings. Times are UTC. The sidebar's filters do not apply here. Your viewing is recorded too.")

today = datetime.now(timezone.utc).date()
columns = st.columns([2, 2, 2, 1])
chosen = columns[0].date_input("Between (UTC dates)", value=(today - timedelta(days=30), today), max_value=today,
                               key="audit_dates", format="YYYY-MM-DD")
first_day, last_day = (chosen[0], chosen[-1]) if isinstance(chosen, (tuple, list)) and chosen else (today, today)
user = columns[1].text_input("User (exactly as recorded)", key="audit_user", max_chars=320).strip() or None
action = columns[2].selectbox("Action", [None, *sorted(ACTIONS)], key="audit_action",
                              format_func=lambda a: "All" if a is None else f"{a} ({ACTIONS[a]})")
limit = columns[3].selectbox("Show at most", [100, 1000, 10_000], index=1, key="audit_limit")


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def _ids_text(ids: list) -> str:
    shown = ", ".join(ids[:IDS_SHOWN])
    return shown + (f" … and {len(ids) - IDS_SHOWN:,} more" if len(ids) > IDS_SHOWN else "")


def _json_text(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


chosen_filters = {"from": first_day, "to": last_day, "user": user, "action": action, "limit": limit}
try:
    events = read_events(ctx.audit_db, role=ctx.role, since=_utc_midnight(first_day),
                         until=_utc_midnight(last_day + timedelta(days=1)), user=user, action=action, limit=limit)
    # Shown only once this viewing is on record.
    record(ctx.audit_db, user=ctx.user, role=ctx.role, action="view_audit", page="audit_trail",
           filters=chosen_filters, ids=list(events["event_id"]), row_count=len(events))
except (AuditError, ValueError) as exc:
    st.error(f"{exc} So the trail is not shown.", icon=":material/error:")
    st.stop()

problems = verify_trail(ctx.audit_db)
if problems:
    st.error("**Chain check: the trail may have been tampered with.**\n\n" + "\n".join(f"- {p}" for p in problems),
             icon=":material/gpp_bad:")
else:
    st.success("**Chain check: intact.** Every event links to the one before it, none has been changed and none "
               "removed.", icon=":material/verified_user:")

more = " (the limit: narrow the filters to see older ones)" if len(events) == limit else ""
st.caption(f"{len(events):,} events from {first_day:%d %b %Y} to {last_day:%d %b %Y}, newest first{more}.")
st.dataframe(pd.DataFrame({
    "When (UTC)": events["at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
    "User": events["user"],
    "Role": events["role"],
    "Action": events["action"],
    "s.62 category": events["category"],
    "Page": events["page"].fillna(""),
    "Filters": [_json_text(v) for v in events["filters"]],
    "Records": events["row_count"],
    "Ids": [_ids_text(v) for v in events["ids"]],
    "Detail": [_json_text(v) for v in events["detail"]],
    "Event": events["seq"],
    "Event id": events["event_id"],
}), hide_index=True, width="stretch",
    column_config={name: st.column_config.TextColumn(name) for name in
                   ("User", "Role", "Action", "s.62 category", "Page", "Filters", "Ids", "Detail", "Event id")})
