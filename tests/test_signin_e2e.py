"""A real sign-in, end to end: OpenID Connect through a local provider, in a real browser (issue 4, items 1 and 7).

A mock OpenID Connect provider (the PyPI package oidc-provider-mock) runs on a thread of this process, on a free
port of 127.0.0.1, and stops with the module. The dashboard runs as in production (`streamlit run serve.py`, on
loopback): sign-in configured through a secrets file in a temporary folder, the server settings production mode
demands, a role mapping file and a store of data that is not the demo's (built from the demo generator, flagged
as real), so the app refuses to start unless sign-in works. Chromium (Debian's, through Playwright) then, for each
role in its own browser context: opens the dashboard, gets the sign-in page, is sent to the provider, types a
subject into its login form (the provider gives it an email address and a `roles` claim set beforehand through
its API; the administrator's role comes from the mapping file instead), comes back signed in, and must see exactly
the pages `ui.access` allows that role; then signs out (through the provider's end-session page) and is back at
the sign-in page with the identity cookie gone. A user whose token names no known role gets the plain refusal
and no data. The audit trail beside the store must hold one `sign_in` per session, or the `access_refused`.

Like the other browser tests, a missing Chromium, Playwright or oidc-provider-mock fails the tests, naming what to
install; it is never a skip. Set-up shared with them: tests/browser.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import sys
import threading
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.register_assert_rewrite("browser")  # before the import below, so its asserts explain themselves too

from browser import (NAV_LINKS, RUN_TIMEOUT_MS, VIEWPORT, AppServer, error_texts, free_port,  # noqa: E402
                     go_to_page, nav_titles, screenshot, start_server, wait_for_app)
from data_access import audit  # noqa: E402
from ui.access import ROLES, page_spec, pages_for  # noqa: E402

pytest_plugins = ["browser"]
# Authlib warns about its own deprecated APIs, which the mock provider still uses; nothing to act on here.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated.*:DeprecationWarning")

# Who signs in as each role: (subject typed into the provider's form, claims the provider puts in the ID token).
# The administrator has no roles claim: the mapping file gives their email address the admin role.
MAPPED_ADMIN = "dashboard.admin@force.example"
USERS = {
    "board": ("chair", {"email": "chair@force.example", "roles": ["board"]}),
    "action_group": ("analyst", {"email": "analyst@force.example", "roles": ["action_group"]}),
    "victim_services": ("vsm", {"email": "vsm@force.example", "roles": ["victim_services"]}),
    "admin": ("admin", {"email": MAPPED_ADMIN}),
}
# A role name the dashboard does not know (Entra app roles are case-sensitive) grants nothing.
NO_ROLE_USER = ("stranger", {"email": "stranger@force.example", "roles": ["Admin", "superuser"]})
DATA_ELEMENTS = ('[data-testid="stDataFrame"], [data-testid="stTable"], [data-testid="stMetric"], '
                 '[data-testid="stPlotlyChart"], [data-testid="stVegaLiteChart"]')
IDENTITY_COOKIE = "_streamlit_user"


def provider_problem() -> str | None:
    """What is missing for the mock provider, in words, or None."""
    try:
        with warnings.catch_warnings():  # Authlib's warnings about its APIs the mock still uses, at import
            import authlib.deprecate  # noqa: F401 - it adds an "always" filter for them, which ours must follow
            warnings.simplefilter("ignore", DeprecationWarning)
            import oidc_provider_mock  # noqa: F401
    except ImportError:
        where = "CI (.ci/run should have installed it)" if os.environ.get("CI") else "this machine"
        return (f"The sign-in test cannot run on {where}: missing the Python package oidc-provider-mock "
                "(pip install -r requirements-dev.txt).")
    return None


def test_a_missing_provider_package_is_named_with_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "oidc_provider_mock", None)  # makes the import fail
    monkeypatch.delenv("CI", raising=False)
    assert "this machine: missing the Python package oidc-provider-mock" in provider_problem()
    monkeypatch.setenv("CI", "true")
    assert "cannot run on CI" in provider_problem()


# ---------------------------------------------------------------------------------------------- fixtures


@dataclass
class Provider:
    url: str

    def set_user(self, sub: str, claims: dict) -> None:
        """The provider's own API: the claims its ID tokens for this subject carry."""
        request = urllib.request.Request(f"{self.url}/users/{sub}", data=json.dumps(claims).encode(), method="PUT",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204


@pytest.fixture(scope="module")
def provider(browser_available):
    problem = provider_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    import werkzeug.serving
    from oidc_provider_mock import app as provider_app

    # Nonces required, as Entra does; any client id and secret are accepted.
    server = werkzeug.serving.make_server("127.0.0.1", 0, provider_app(require_nonce=True), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                              name="oidc-provider-mock")
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def real_store(tmp_path_factory) -> Path:
    """A small store the app treats as real data (is_demo false), from the demo generator's tables."""
    from data_access.__main__ import default_demo_start
    from data_access.demo import generate_demo
    from data_access.store import build_store

    tables, as_of = generate_demo(cases=1500, start=default_demo_start(6), months=6, seed=11)
    return build_store(tmp_path_factory.mktemp("signin-store") / "force.duckdb", tables, data_as_of=as_of,
                       is_demo=False, source="sign-in end-to-end test (synthetic rows)")


def _toml(value) -> str:
    return json.dumps(value)  # a JSON string or number is a TOML one too


@pytest.fixture(scope="module")
def signin_server(browser_available, provider, real_store, tmp_path_factory):
    """The dashboard as in production, signing in through `provider`; stopped with the module."""
    folder = tmp_path_factory.mktemp("signin-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mapping = folder / "access.yaml"
    mapping.write_text(f"version: 1\nusers:\n  {MAPPED_ADMIN}: [admin]\n")
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text("\n".join([
        "[auth]",
        f"redirect_uri = {_toml(url + '/oauth2callback')}",
        f"cookie_secret = {_toml(secrets.token_urlsafe(48))}",
        'client_id = "victims-dashboard-e2e"',
        f"client_secret = {_toml(secrets.token_urlsafe(24))}",
        f"server_metadata_url = {_toml(provider.url + '/.well-known/openid-configuration')}",
        "[access]",
        "max_session_hours = 8",
        f"role_mapping = {_toml(str(mapping))}",
        "[store]",
        f"path = {_toml(str(real_store))}", ""]))
    secrets_file.chmod(0o600)
    # The repository's .streamlit/config.toml (cwd) gives the hardened settings; production mode also needs the
    # force's own address as the allowed origin and host, here loopback. Only our secrets file is read.
    server = start_server(real_store, folder, port=port, store_in_env=False, extra_args=(
        f"--server.corsAllowedOrigins={url}", "--server.allowedHosts=127.0.0.1", f"--secrets.files={secrets_file}"))
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def browser_tab(chromium, name: str):
    """A fresh browser context (no cookies: nobody signed in); a screenshot if the test fails inside it."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(RUN_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    except BaseException:
        with contextlib.suppress(Exception):
            screenshot(page, f"FAILED-signin-{name}")
        raise
    finally:
        context.close()


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def at_sign_in_page(page, server: AppServer, path: str = "/") -> None:
    """Open the dashboard at `path` signed out: only the sign-in page, whatever the address."""
    page.goto(server.url + path, wait_until="domcontentloaded")
    page.get_by_role("button", name="Sign in").wait_for()
    wait_for_app(page)
    assert page.locator(NAV_LINKS).count() == 0  # one page only, so no navigation
    assert page.locator('[data-testid="stMain"] h1').all_inner_texts() == ["Victims' Code compliance"]
    assert page.locator(DATA_ELEMENTS).count() == 0


def sign_in(page, server: AppServer, provider: Provider, sub: str, claims: dict) -> None:
    """From the sign-in page, through the provider's login form, back to the dashboard signed in."""
    provider.set_user(sub, claims)
    at_sign_in_page(page, server)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(provider.url) + r"/oauth2/authorize\?"))
    page.locator('input[name="sub"]').fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()
    # the provider sends the browser to /oauth2callback, which sets the identity cookie and returns to "/"
    page.wait_for_url(re.compile(re.escape(server.url) + r"/?(\?.*)?$"))
    page.locator('[data-testid="stMain"] h1').first.wait_for()
    wait_for_app(page)
    assert any(c["name"].startswith(IDENTITY_COOKIE) for c in page.context.cookies())


def sign_out(page, server: AppServer, provider: Provider, button) -> None:
    """Sign out with `button`, through the provider's end-session page, back to the sign-in page."""
    button.click()
    page.wait_for_url(re.compile(re.escape(provider.url) + r"/oauth2/end_session\?"))
    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name="Sign in").wait_for()
    wait_for_app(page)
    assert not [c["name"] for c in page.context.cookies() if c["name"].startswith(IDENTITY_COOKIE)]
    assert page.locator(NAV_LINKS).count() == 0 and page.locator(DATA_ELEMENTS).count() == 0


def trail_for(server: AppServer, email: str) -> list[tuple]:
    """This user's audit events, oldest first: (action, role, page, detail)."""
    path = audit.default_audit_path(server.store)
    assert audit.verify_trail(path) == []
    events = audit.read_events(path, role="admin", user=email)
    return [(e["action"], e["role"], e["page"], e["detail"]) for _, e in events.iloc[::-1].iterrows()]


# ---------------------------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("role", ROLES)
def test_each_role_signs_in_through_the_provider_sees_exactly_its_pages_and_signs_out(
        chromium, signin_server, provider, role):
    sub, claims = USERS[role]
    email = claims["email"]
    with browser_tab(chromium, role) as page:
        sign_in(page, signin_server, provider, sub, claims)
        allowed = [spec.title for spec in pages_for(role)]
        assert nav_titles(page) == allowed, f"{role} should see exactly {allowed} in the navigation"
        assert page.locator('[data-testid="stMain"] h1').all_inner_texts() == [allowed[0]]
        assert error_texts(page) == [], f"{role} sees an error: {error_texts(page)}"
        assert "Synthetic demonstration data" not in main_text(page)  # the real-data store, not the demo's
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert f"Signed in as {email}" in sidebar.inner_text()
        # another page through the navigation: a rerun in the same session, which records no second sign-in
        go_to_page(page, page_spec("victim_voice"))
        assert page.locator('[data-testid="stMain"] h1').all_inner_texts() == ["Victim voice"]
        assert error_texts(page) == []
        screenshot(page, f"signin-{role}")
        assert trail_for(signin_server, email) == [("sign_in", role, None, {"roles": [role], "issued_at": ANY_TIME})]
        sign_out(page, signin_server, provider, sidebar.get_by_role("button", name="Sign out"))
        # signed out, a data page's address shows the sign-in page and nothing else
        at_sign_in_page(page, signin_server, "/" + pages_for(role)[-1].page_id)
    assert [action for action, *_ in trail_for(signin_server, email)] == ["sign_in"]


def test_a_user_with_no_known_role_gets_the_plain_refusal_and_no_data(chromium, signin_server, provider):
    sub, claims = NO_ROLE_USER
    with browser_tab(chromium, "no-role") as page:
        sign_in(page, signin_server, provider, sub, claims)
        assert page.locator('[data-testid="stMain"] h1').all_inner_texts() == ["No access yet"]
        assert (f"You are signed in as {claims['email']}, but no role in this dashboard has been given to you."
                in main_text(page))
        assert page.locator(NAV_LINKS).count() == 0 and page.locator(DATA_ELEMENTS).count() == 0
        screenshot(page, "signin-no-role")
        assert trail_for(signin_server, claims["email"]) == [("access_refused", "none", None, {"reason": "no_role"})]
        sign_out(page, signin_server, provider, page.locator('[data-testid="stMain"]').get_by_role("button",
                                                                                                  name="Sign out"))


class _AnyTime:
    """Equal to any UTC time written as the audit trail's sign-in detail writes it."""

    def __eq__(self, other) -> bool:
        return isinstance(other, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", other) is not None

    def __repr__(self) -> str:
        return "<any YYYY-MM-DDTHH:MM:SSZ>"


ANY_TIME = _AnyTime()
