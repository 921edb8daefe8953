"""The audit trail's sign-in events (issue 4, item 7): a `sign_in` record once per session when a signed-in user is
let in, and an `access_refused` record when a signed-in user has no role, opens a page their role may not use, or
has a session that is too old. A refusal stands when its record cannot be written; a sign-in does not.

AppTests, signed in with tests/helpers.py `sign_in` (the browser test of a real sign-in is tests/test_signin_e2e.py).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data_access import audit
from data_access.store import build_store
from helpers import case, ent, sign_in, tables, victim
from ui import access

APP_DIR = Path(__file__).resolve().parent.parent
APP = str(APP_DIR / "app.py")
FIXTURE = tables(cases=[case("C1")], victims=[victim("V1")],
                 entitlements=[ent("E1", "r4_referral_to_support_service", "2025-03-03", "2025-03-04")])
EMAIL = "analyst@force.example"
FIELDS = ("user", "role", "action", "category", "page", "filters", "ids", "row_count", "detail")
REAL_RECORD = audit.record


@pytest.fixture
def real_store(tmp_path) -> Path:
    """A store of (pretend) real data with an empty audit trail beside it, for each test."""
    return build_store(tmp_path / "real.duckdb", FIXTURE, data_as_of=date(2025, 3, 31), is_demo=False, source="test")


def run(monkeypatch, store: Path, page: str | None = None, *, direct: bool = False) -> AppTest:
    monkeypatch.setenv("VCD_STORE", str(store))
    at = AppTest.from_file(str(APP_DIR / page) if direct else APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def trail(store: Path) -> list[dict]:
    """Every event in the store's audit trail, oldest first, without its id and time; the chain checked."""
    path = audit.default_audit_path(store)
    if not path.exists():
        return []
    assert audit.verify_trail(path) == []
    events = audit.read_events(path, role="admin")
    return [{name: row[name] for name in FIELDS} | {"row_count": None if pd.isna(row["row_count"])
                                                    else int(row["row_count"])}
            for _, row in events.iloc[::-1].iterrows()]


def issued_text(token: dict) -> str:
    return datetime.fromtimestamp(token["iat"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(action: str, role: str, detail: dict, page: str | None = None, user: str = EMAIL) -> dict:
    return {"user": user, "role": role, "action": action, "category": "access", "page": page, "filters": None,
            "ids": [], "row_count": None, "detail": detail}


def failing_record(monkeypatch, *actions: str) -> None:
    """audit.record raises AuditError (as with a full disk) for these actions, and works for the others."""
    def record(*args, **kwargs):
        if kwargs.get("action") in actions:
            raise audit.AuditError("The audit trail could not be written: the disk is full.")
        return REAL_RECORD(*args, **kwargs)

    monkeypatch.setattr(audit, "record", record)


# --- sign_in ----------------------------------------------------------------------------------------------

def test_a_sign_in_is_recorded_once_per_session_not_at_every_rerun(monkeypatch, real_store):
    token = sign_in(monkeypatch, "victim_services", email=EMAIL)
    at = run(monkeypatch, real_store)
    at.switch_page("pages/rights_compliance.py").run()
    at.switch_page("pages/victim_voice.py").run()
    at.run()
    assert not at.exception
    assert trail(real_store) == [
        event("sign_in", "victim_services", {"roles": ["victim_services"], "issued_at": issued_text(token)})]
    # a new session (another tab, or a reload) is another sign-in
    run(monkeypatch, real_store)
    assert [e["action"] for e in trail(real_store)] == ["sign_in", "sign_in"]


def test_a_sign_in_with_several_roles_records_them_all_and_the_role_it_starts_as(monkeypatch, real_store):
    token = sign_in(monkeypatch, "admin", "board", email=EMAIL)
    run(monkeypatch, real_store)
    assert trail(real_store) == [
        event("sign_in", "board", {"roles": ["board", "admin"], "issued_at": issued_text(token)})]


def test_roles_from_the_mapping_file_are_recorded_at_sign_in(monkeypatch, real_store, tmp_path):
    mapping = tmp_path / "access.yaml"
    mapping.write_text("users:\n  chair@force.example: [board]\n")
    token = sign_in(monkeypatch, email="chair@force.example", secrets={"access": {"role_mapping": str(mapping)}})
    run(monkeypatch, real_store)
    assert trail(real_store) == [event("sign_in", "board", {"roles": ["board"], "issued_at": issued_text(token)},
                                       user="chair@force.example")]


def test_when_the_sign_in_cannot_be_recorded_nobody_is_let_in(monkeypatch, real_store, nav_spy):
    sign_in(monkeypatch, "admin", email=EMAIL)
    failing_record(monkeypatch, "sign_in")
    at = run(monkeypatch, real_store)
    assert nav_spy["pages"] == [["Unavailable"]] and nav_spy["store_opened"] == 0
    assert [e.value for e in at.error] == [
        "Your sign-in could not be recorded in the audit trail, so the dashboard will not open: every sign-in is "
        "recorded first. Ask whoever runs the server to check that the audit file (real.duckdb.audit.sqlite) can "
        "be written, then reload this page."]
    assert trail(real_store) == []
    # once the trail can be written again, the next run lets the user in, and records the sign-in
    monkeypatch.setattr(audit, "record", REAL_RECORD)
    at.run()
    assert not at.exception and nav_spy["pages"][-1] == [p.title for p in access.pages_for("admin")]
    assert [e["action"] for e in trail(real_store)] == ["sign_in"]


def test_demo_mode_records_no_sign_in_events(monkeypatch, tmp_path):
    demo = build_store(tmp_path / "demo.duckdb", FIXTURE, data_as_of=date(2025, 3, 31), is_demo=True, source="test")
    monkeypatch.setenv("VCD_STORE", str(demo))
    at = AppTest.from_file(str(APP_DIR / "pages" / "explore.py"), default_timeout=120)
    at.session_state["vcd_demo_role"] = "board"  # the board may not use Explore
    at.run()
    assert [e.value for e in at.error] == ["You do not have access to this page."]
    assert trail(demo) == []


# --- access_refused ---------------------------------------------------------------------------------------

def test_a_user_with_no_known_role_is_refused_and_recorded_once(monkeypatch, real_store, nav_spy):
    sign_in(monkeypatch, "superuser", email=EMAIL)  # a role name the dashboard does not know grants nothing
    at = run(monkeypatch, real_store)
    at.run()
    assert nav_spy["pages"] == [["No access"], ["No access"]] and nav_spy["store_opened"] == 0
    assert not at.dataframe and not at.metric
    assert trail(real_store) == [event("access_refused", "none", {"reason": "no_role"})]


def test_a_page_refused_to_a_role_is_recorded_with_the_page(monkeypatch, real_store):
    token = sign_in(monkeypatch, "board", email=EMAIL)
    at = run(monkeypatch, real_store, "pages/explore.py", direct=True)
    assert [e.value for e in at.error] == ["You do not have access to this page."]
    assert not at.dataframe and not at.metric
    assert trail(real_store) == [
        event("sign_in", "board", {"roles": ["board"], "issued_at": issued_text(token)}),
        event("access_refused", "board", {"reason": "page_not_allowed"}, page="explore")]


def test_a_session_too_old_is_refused_with_a_message_and_recorded(monkeypatch, real_store, nav_spy):
    token = sign_in(monkeypatch, "victim_services", email=EMAIL, issued_seconds_ago=9 * 3600,
                    secrets={"access": {"max_session_hours": 8}})
    at = run(monkeypatch, real_store)
    at.run()
    assert [i.value for i in at.info] == ["Your session has expired after 8 hours; please sign in again."]
    assert nav_spy["pages"] == [["Session expired"], ["Session expired"]] and nav_spy["store_opened"] == 0
    assert not at.dataframe and not at.metric
    assert trail(real_store) == [
        event("access_refused", "none", {"reason": "session_expired", "why": "the sign-in is more than 8 hours old",
                                         "issued_at": issued_text(token), "max_session_hours": 8.0})]


@pytest.mark.parametrize("who", ["no_role", "page", "expired"])
def test_a_refusal_stands_when_the_audit_trail_cannot_record_it(monkeypatch, real_store, nav_spy, who):
    roles, page, ago = {"no_role": ((), None, 60), "page": (("board",), "pages/explore.py", 60),
                        "expired": (("admin",), None, 9 * 3600)}[who]
    sign_in(monkeypatch, *roles, email=EMAIL, issued_seconds_ago=ago)
    failing_record(monkeypatch, "access_refused")
    at = run(monkeypatch, real_store, page, direct=page is not None)
    assert not at.dataframe and not at.metric and not at.get("plotly_chart")
    if who == "no_role":
        assert nav_spy["pages"] == [["No access"]]
    elif who == "page":
        assert [e.value for e in at.error] == ["You do not have access to this page."]
    else:
        assert nav_spy["pages"] == [["Session expired"]]
    assert [e["action"] for e in trail(real_store)] == (["sign_in"] if who == "page" else [])
    # the record is tried again at the next refusal, and written once the trail can take it
    monkeypatch.setattr(audit, "record", REAL_RECORD)
    at.run()
    assert [e["action"] for e in trail(real_store)] == (["sign_in"] if who == "page" else []) + ["access_refused"]

