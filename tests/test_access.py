"""Who sees what: sign-in, roles from the token and the mapping file, session age, demo mode, the page guards
and the start-up settings check (security-and-reliability.md section 6, checks 8, 9, 23 and 24)."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import streamlit as st
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from data_access import queries
from data_access.store import build_store
from helpers import case, ent, sign_in, tables, victim
from metrics.catalogue import default_catalogue
from metrics.filters import Filters
from ui import access, identity
from ui.hardening import config_problems

APP_DIR = Path(__file__).resolve().parent.parent
APP = str(APP_DIR / "app.py")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
FIXTURE = tables(cases=[case("C1")], victims=[victim("V1")],
                 entitlements=[ent("E1", "r4_referral_to_support_service", "2025-03-03", "2025-03-04")])


@pytest.fixture(scope="module")
def real_store(tmp_path_factory) -> Path:
    """A store of (pretend) real data: is_demo false."""
    return build_store(tmp_path_factory.mktemp("real") / "real.duckdb", FIXTURE, data_as_of=date(2025, 3, 31),
                       is_demo=False, source="test")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("demo") / "demo.duckdb", FIXTURE, data_as_of=date(2025, 3, 31),
                       is_demo=True, source="test")


def run(monkeypatch, store: Path, page: str | None = None, *, direct: bool = False) -> AppTest:
    monkeypatch.setenv("VCD_STORE", str(store))
    at = AppTest.from_file(str(APP_DIR / page) if direct else APP, default_timeout=120)
    at.run()
    if page is not None and not direct:
        at.switch_page(page).run()
    assert not at.exception
    return at


def all_text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "title") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


# --- the rules, without a browser -----------------------------------------------------------------------

def test_roles_come_from_the_token_and_unknown_ones_grant_nothing():
    assert identity.roles_from_claims({"roles": ["victim_services", "Admin", "superuser"]}) == ("victim_services",)
    assert identity.roles_from_claims({"roles": "board"}) == ("board",)
    assert identity.roles_from_claims({}) == ()
    assert identity.roles_from_claims({"roles": [1, None]}) == ()


def test_roles_from_the_mapping_file_by_email_any_case_and_by_group_add_to_the_token(tmp_path):
    path = tmp_path / "access.yaml"
    path.write_text("version: 1\nusers:\n  VSM@Force.Example: [victim_services]\n"
                    "groups:\n  board-members: [board]\n  analysts: [action_group, victim_services]\n")
    mapping = identity.load_role_mapping(path)
    assert identity.roles_from_claims({"email": "vsm@force.example"}, mapping) == ("victim_services",)
    assert identity.roles_from_claims({"email": "x@force.example", "groups": ["board-members"],
                                       "roles": ["admin"]}, mapping) == ("board", "admin")
    assert identity.roles_from_claims({"preferred_username": "someone@else.example"}, mapping) == ()
    # least privileged first, whatever order they were granted in
    assert identity.roles_from_claims({"groups": ["analysts", "board-members"]}, mapping) == \
        ("board", "action_group", "victim_services")


@pytest.mark.parametrize("text, problem", [
    ("users:\n  a@b.example: [superuser]\n", "unknown role(s) superuser"),
    ("users:\n  not-an-email: [board]\n", "'not-an-email': not an email address"),
    ("users:\n  a@b.example: []\n", "expected a list of roles"),
    ("people:\n  a@b.example: [board]\n", "unknown section 'people'"),
    ("users: [a, b\n", "not valid YAML at line"),
])
def test_a_bad_mapping_file_is_refused_naming_the_problem(tmp_path, text, problem):
    path = tmp_path / "access.yaml"
    path.write_text(text)
    with pytest.raises(identity.RoleMappingError) as caught:
        identity.load_role_mapping(path)
    assert problem in str(caught.value)


def test_sessions_end_after_the_maximum_age_or_when_the_token_expires():
    issued = NOW.timestamp() - 3600
    assert identity.session_problem({"iat": issued, "exp": NOW.timestamp() + 60}, NOW, 8) is None
    assert identity.session_problem({"iat": NOW.timestamp() - 8 * 3600 - 1}, NOW, 8) == \
        "the sign-in is more than 8 hours old"
    assert identity.session_problem({"iat": NOW.timestamp() - 8 * 3600}, NOW, 8) is None  # exactly 8 hours: still fine
    assert identity.session_problem({"iat": issued, "exp": NOW.timestamp()}, NOW, 8) == "the sign-in token has expired"
    assert identity.session_problem({}, NOW, 8) == "the sign-in has no issue time"


def test_auth_settings_name_what_is_missing():
    assert not identity.auth_settings({}, APP_DIR).configured
    settings = identity.auth_settings({"auth": {"redirect_uri": "https://x/oauth2callback",
                                                "microsoft": {"client_id": "a"}}}, APP_DIR)
    assert settings.configured and settings.provider == "microsoft"
    assert settings.problems == ("[auth] has no cookie_secret", "[auth.microsoft] has no client_secret",
                                 "[auth.microsoft] has no server_metadata_url")
    bad_hours = identity.auth_settings({"access": {"max_session_hours": "forever"}}, APP_DIR)
    assert bad_hours.problems == ("[access] max_session_hours must be a number of hours from 0 to 24",)
    relative = identity.auth_settings({"access": {"role_mapping": "config/access.yaml"}}, APP_DIR)
    assert relative.role_mapping == APP_DIR / "config" / "access.yaml"


def _defaults_with(overrides: dict):
    def get(name):
        return overrides[name] if name in overrides else st_config.get_config_options()[name].default_val
    return get


def test_the_shipped_config_passes_the_settings_check():
    shipped = tomllib.loads((APP_DIR / ".streamlit" / "config.toml").read_text())
    overrides = {f"{section}.{key}": value for section, values in shipped.items() for key, value in values.items()}
    assert config_problems(_defaults_with(overrides), production=False) == []
    # in production the force's host names must be added (config.toml cannot know them)
    assert [p.split(" ")[0] for p in config_problems(_defaults_with(overrides), production=True)] == \
        ["server.corsAllowedOrigins", "server.allowedHosts"]


def test_streamlit_defaults_fail_the_settings_check_by_name():
    problems = config_problems(_defaults_with({}), production=False)
    named = [p.split(" ")[0] for p in problems]
    assert named == ["browser.gatherUsageStats", "client.showErrorDetails", "client.disableDataExport"]


# --- the app ---------------------------------------------------------------------------------------------

def test_anonymous_users_get_only_the_sign_in_page_and_no_store_is_opened(monkeypatch, real_store, nav_spy):
    sign_in(monkeypatch, "victim_services")
    monkeypatch.setattr("ui.identity.current_claims", lambda: None)  # provider configured, nobody signed in
    at = run(monkeypatch, real_store)
    assert nav_spy["pages"] == [["Sign in"]]
    assert [b.label for b in at.button] == ["Sign in"]
    assert nav_spy["store_opened"] == 0
    # a direct link to a data page, as the very first request, shows the same
    nav_spy["pages"].clear()
    at = run(monkeypatch, real_store, "pages/keeping_informed.py", direct=True)
    assert nav_spy["pages"] == [["Sign in"]] and nav_spy["store_opened"] == 0
    assert not at.dataframe and not at.metric


def test_a_signed_in_user_without_a_role_sees_only_a_no_access_page(monkeypatch, real_store, nav_spy):
    sign_in(monkeypatch)  # no roles in the token, no mapping file
    at = run(monkeypatch, real_store)
    assert nav_spy["pages"] == [["No access"]]
    assert "no role in this dashboard has been given to you" in all_text(at)
    assert nav_spy["store_opened"] == 0


def test_a_role_from_the_mapping_file_lets_the_user_in(monkeypatch, real_store, tmp_path, nav_spy):
    mapping = tmp_path / "access.yaml"
    mapping.write_text("users:\n  chair@force.example: [board]\n")
    sign_in(monkeypatch, email="Chair@Force.example", secrets={"access": {"role_mapping": str(mapping)}})
    run(monkeypatch, real_store)
    assert nav_spy["pages"][-1] == [p.title for p in access.pages_for("board")]


def test_a_broken_mapping_file_stops_everyone_with_the_reason(monkeypatch, real_store, tmp_path, nav_spy):
    mapping = tmp_path / "access.yaml"
    mapping.write_text("users:\n  chair@force.example: [chair]\n")
    sign_in(monkeypatch, "board", secrets={"access": {"role_mapping": str(mapping)}})
    at = run(monkeypatch, real_store)
    assert "unknown role(s) chair" in all_text(at)
    assert nav_spy["store_opened"] == 0


@pytest.mark.parametrize("role", access.ROLES)
def test_navigation_lists_only_the_pages_each_role_may_use(monkeypatch, real_store, nav_spy, role):
    sign_in(monkeypatch, role)
    at = run(monkeypatch, real_store)
    assert nav_spy["pages"][-1] == [p.title for p in access.pages_for(role)]
    assert not at.sidebar.selectbox or "Acting as" not in [s.label for s in at.sidebar.selectbox]


@pytest.mark.parametrize("role, page", [(role, spec) for role in access.ROLES for spec in access.PAGES
                                        if role not in spec.roles])
def test_a_page_opened_directly_by_a_role_that_may_not_use_it_shows_nothing(monkeypatch, real_store, role, page):
    sign_in(monkeypatch, role)
    at = run(monkeypatch, real_store, page.path, direct=True)
    assert [e.value for e in at.error] == ["You do not have access to this page."]
    assert not at.dataframe and not at.metric and not at.get("plotly_chart")


@pytest.mark.parametrize("role", sorted(set(access.ROLES) - queries.CASE_LEVEL_ROLES))
def test_case_level_rows_are_refused_to_roles_that_may_not_see_them(real_store, role):
    from data_access.store import open_store

    store = open_store(real_store)
    try:
        filters = Filters(first_month=date(2025, 3, 1), last_month=date(2025, 3, 1), as_of=date(2025, 3, 31),
                          selections={})
        with pytest.raises(PermissionError):
            queries.overdue_updates(store, default_catalogue(), filters, role=role)
    finally:
        store.close()


def test_a_user_with_several_roles_starts_with_the_least_privileged_and_can_switch(monkeypatch, real_store):
    sign_in(monkeypatch, "admin", "board")
    at = run(monkeypatch, real_store)
    chooser = next(s for s in at.sidebar.selectbox if s.label == "Acting as")
    assert chooser.value == "Board" and chooser.options == ["Board", "Administrator"]
    chooser.select("Administrator").run()
    assert at.session_state["vcd_demo_role"] == "admin"


def test_an_old_session_is_told_it_has_expired_and_signed_out_when_the_user_asks(monkeypatch, real_store, nav_spy):
    signed_out = []
    sign_in(monkeypatch, "board", issued_seconds_ago=9 * 3600)
    monkeypatch.setattr(st, "logout", lambda: signed_out.append(True))
    at = run(monkeypatch, real_store)
    assert nav_spy["pages"] == [["Session expired"]] and nav_spy["store_opened"] == 0
    assert [i.value for i in at.info] == ["Your session has expired after 8 hours; please sign in again."]
    assert not at.metric and not at.dataframe and signed_out == []
    at.button[0].click().run()
    assert at.button[0].label == "Sign in again" and signed_out == [True]


def test_an_expired_token_is_told_so(monkeypatch, real_store):
    sign_in(monkeypatch, "board", claims={"exp": 1})
    at = run(monkeypatch, real_store)
    assert [i.value for i in at.info] == ["Your sign-in has expired; please sign in again."]


def test_a_signed_in_user_sees_who_is_signed_in_and_can_sign_out(monkeypatch, real_store):
    signed_out = []
    sign_in(monkeypatch, "action_group", email="analyst@force.example")
    monkeypatch.setattr(st, "logout", lambda: signed_out.append(True))
    at = run(monkeypatch, real_store)
    assert "Signed in as analyst@force\\.example" in [c.value for c in at.sidebar.caption]
    at.sidebar.button(key="vcd_sign_out").click().run()
    assert signed_out == [True]


def test_production_refuses_to_start_with_an_unsafe_setting_and_names_it(monkeypatch, real_store, nav_spy):
    sign_in(monkeypatch, "board")
    patched = st.get_option
    monkeypatch.setattr(st, "get_option",
                        lambda name: True if name == "browser.gatherUsageStats" else patched(name))
    at = run(monkeypatch, real_store)
    assert "browser.gatherUsageStats is True; it must be False" in all_text(at)
    assert nav_spy["store_opened"] == 0


def test_demo_mode_refuses_a_store_of_real_data(monkeypatch, real_store):
    at = run(monkeypatch, real_store)
    assert "This store holds real data, and sign-in is not configured" in all_text(at)
    assert not at.metric


def test_demo_mode_has_a_role_switcher_and_a_banner_naming_the_role(monkeypatch, demo_store, nav_spy):
    at = run(monkeypatch, demo_store)
    switcher = next(s for s in at.sidebar.selectbox if s.label == "Demo role")
    assert switcher.value == "Victim services"
    assert "You are seeing the dashboard as the **Victim services** role" in all_text(at)
    switcher.select("Board").run()
    assert "as the **Board** role" in all_text(at)
    assert nav_spy["pages"][-1] == [p.title for p in access.pages_for("board")]


def test_the_audit_trail_path_and_user_reach_the_pages(monkeypatch, real_store):
    seen = {}
    import ui.frame as frame

    real_start = frame.start

    def spy():
        context = real_start()
        seen["context"] = context
        return context

    monkeypatch.setattr(frame, "start", spy)
    sign_in(monkeypatch, "victim_services", email="vsm@force.example")
    run(monkeypatch, real_store)
    context = seen["context"]
    assert (context.user, context.role) == ("vsm@force.example", "victim_services")
    assert context.audit_db == real_store.with_name(real_store.name + ".audit.sqlite")


def test_pages_registry_is_default_deny():
    assert not access.may_view(None, "board_overview")
    assert not access.may_view("board", "no_such_page")


def test_the_example_mapping_file_in_the_repository_is_valid():
    mapping = identity.load_role_mapping(APP_DIR / "config" / "access.example.yaml")
    assert mapping.users["dashboard.admin@force.police.uk"] == ("admin",)
