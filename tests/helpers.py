"""Tiny hand-written rows for store-backed tests, and a way to read compliance counts back.

Rows are plain dicts with readable defaults, so a test lists only what matters to it:

    tables(cases=[case("C1")], victims=[victim("V1")],
           entitlements=[ent("E1", "r4_referral_to_support_service", "2025-03-03", "2025-03-04")])
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from data_access.store import Store, build_store, open_store

from metrics.catalogue import Catalogue, default_catalogue
from metrics.compliance import COUNT_COLUMNS, compliance_counts_sql
from metrics.filters import Filters

DEFAULT_DISTRICTS = (("Basildon", "South"), ("Chelmsford", "Mid"), ("Colchester", "North"))
ZERO = dict.fromkeys(COUNT_COLUMNS, 0)


def case(case_id: str, district: str = "Basildon", offence_group: str = "theft",
         reported_at: str = "2025-03-03", status: str = "open") -> dict:
    return {"case_id": case_id, "reported_at": reported_at, "offence_group": offence_group,
            "district": district, "status": status}


def victim(victim_id: str, case_id: str = "C1", enhanced_category: str | None = None, *,
           age_band: str | None = None, sex: str | None = None, ethnicity: str | None = None,
           disability: str | None = None) -> dict:
    return {"victim_id": victim_id, "case_id": case_id, "enhanced_category": enhanced_category,
            "age_band": age_band, "sex": sex, "ethnicity": ethnicity, "disability": disability}


def ent(delivery_id: str, entitlement: str, triggered_at: str, delivered_at: str | None = None,
        outcome: str | None = None, *, victim_id: str = "V1", exception_reason: str | None = None) -> dict:
    return {"delivery_id": delivery_id, "victim_id": victim_id, "entitlement": entitlement,
            "triggered_at": triggered_at, "delivered_at": delivered_at, "outcome": outcome,
            "exception_reason": exception_reason}


def _frame(rows: list[dict], columns: list[str], timestamps: tuple[str, ...] = ()) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns).astype(object)
    frame = frame.where(frame.notna(), None)
    for column in timestamps:
        frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    return frame


def tables(*, cases: list[dict], victims: list[dict], entitlements: list[dict],
           districts=DEFAULT_DISTRICTS) -> dict[str, pd.DataFrame]:
    """The contract tables build_store takes, from lists of row dicts."""
    return {
        "districts": pd.DataFrame(list(districts), columns=["district", "command_area"]),
        "cases": _frame(cases, ["case_id", "reported_at", "offence_group", "district", "status"], ("reported_at",)),
        "victims": _frame(victims, ["victim_id", "case_id", "enhanced_category", "age_band", "sex", "ethnicity",
                                    "disability"]),
        "entitlements": _frame(entitlements, ["delivery_id", "victim_id", "entitlement", "triggered_at",
                                              "delivered_at", "outcome", "exception_reason"],
                               ("triggered_at", "delivered_at")),
    }


def build_and_open(folder: Path, tables: dict, as_of: date, name: str = "store.duckdb") -> Store:
    """Build a store from the tables in `folder` and open it read-only and hardened."""
    path = build_store(Path(folder) / name, tables, data_as_of=as_of, is_demo=False,
                       source="hand-written test fixture")
    return open_store(path)


def period(first: date, last: date | None = None, *, as_of: date, **selections) -> Filters:
    """Filters for the trigger months first..last (first days of months) as of a date."""
    return Filters(first_month=first, last_month=last or first, as_of=as_of,
                   selections={k: tuple(v) for k, v in selections.items()})


def run_counts(store, filters: Filters, breakdowns=("total",), codes=None,
               catalogue: Catalogue | None = None) -> pd.DataFrame:
    sql, params = compliance_counts_sql(catalogue or default_catalogue(), filters, breakdowns, codes)
    return store.query(sql, params)


def counts_of(frame: pd.DataFrame, entitlement: str, breakdown: str = "total", level: str = "all") -> dict:
    """The six counts of one (entitlement, breakdown, level) row; all zero when there is no such row."""
    rows = frame[(frame["entitlement"] == entitlement) & (frame["breakdown"] == breakdown)
                 & (frame["level"] == level)]
    assert len(rows) <= 1, f"expected at most one row for {entitlement}/{breakdown}/{level}, got {len(rows)}"
    if rows.empty:
        return dict(ZERO)
    return {c: int(rows.iloc[0][c]) for c in COUNT_COLUMNS}


def expect(eligible=0, delivered=0, delivered_on_time=0, eligible_timed=0, not_yet_due=0, not_applicable=0) -> dict:
    return {"eligible": eligible, "delivered": delivered, "delivered_on_time": delivered_on_time,
            "eligible_timed": eligible_timed, "not_yet_due": not_yet_due, "not_applicable": not_applicable}


TEST_AUTH_SECRETS = {
    "auth": {"redirect_uri": "https://vcd.force.example/oauth2callback", "cookie_secret": "x" * 32,
             "client_id": "test-client", "client_secret": "test-secret",
             "server_metadata_url": "https://login.force.example/tenant/v2.0/.well-known/openid-configuration"},
}
PRODUCTION_HOSTS = {"server.corsAllowedOrigins": ["https://vcd.force.example"],
                    "server.allowedHosts": ["vcd.force.example"]}


def sign_in(monkeypatch, *roles: str, email: str = "analyst@force.example", issued_seconds_ago: int = 60,
            secrets: dict | None = None, claims: dict | None = None) -> dict:
    """Run AppTests as a user signed in through the identity provider, with these roles in the token.

    Streamlit's st.user cannot be signed in without a real provider, so the one function that reads it
    (ui.identity.current_claims) and the secrets are replaced; everything after them runs as in production,
    including the start-up settings check (given the force's host names, which config.toml cannot know)."""
    import time

    import streamlit as st

    now = int(time.time())
    token = {"email": email, "roles": list(roles), "iat": now - issued_seconds_ago, "exp": now + 3600,
             **(claims or {})}
    monkeypatch.setattr("ui.identity.secrets_mapping", lambda: {**TEST_AUTH_SECRETS, **(secrets or {})})
    monkeypatch.setattr("ui.identity.current_claims", lambda: token)
    real_get_option = st.get_option
    monkeypatch.setattr(st, "get_option", lambda name: PRODUCTION_HOSTS.get(name) or real_get_option(name))
    return token


def _stamps(values) -> list:
    return [None if v is None else pd.Timestamp(v) for v in values]


def referrals_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (referral_id, victim_id, service, offered_at, consent, referred_at, contacted_at, engaged)."""
    c = list(zip(*rows))
    return pd.DataFrame({
        "referral_id": c[0], "victim_id": c[1], "service": c[2], "offered_at": _stamps(c[3]), "consent": c[4],
        "referred_at": _stamps(c[5]), "contacted_at": _stamps(c[6]), "engaged": pd.array(c[7], dtype="boolean")})


def surveys_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (response_id, case_id, survey, responded_at, overall, kept_informed, treated_fairly, aware_of_code)."""
    c = list(zip(*rows))
    return pd.DataFrame({
        "response_id": c[0], "case_id": c[1], "survey": c[2], "responded_at": _stamps(c[3]),
        "overall": pd.array(c[4], dtype="Int64"), "kept_informed": pd.array(c[5], dtype="Int64"),
        "treated_fairly": pd.array(c[6], dtype="Int64"), "aware_of_code": pd.array(c[7], dtype="boolean")})


def complaints_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (complaint_id, case_id, received_at, right_no, acknowledged_at, closed_at, outcome)."""
    c = list(zip(*rows))
    return pd.DataFrame({
        "complaint_id": c[0], "case_id": c[1], "received_at": _stamps(c[2]), "right_no": pd.array(c[3], dtype="Int64"),
        "acknowledged_at": _stamps(c[4]), "closed_at": _stamps(c[5]), "outcome": c[6]})


def record_downloads(monkeypatch) -> dict:
    """Capture what each st.download_button offers in AppTests: {label: (data, file_name)}, filled as pages run."""
    import streamlit as st

    served: dict = {}
    real_download_button = st.download_button

    def recording_download_button(label, data, *args, **kwargs):
        served[label] = (data, kwargs.get("file_name"))
        return real_download_button(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording_download_button)
    return served
