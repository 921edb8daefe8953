"""Shared set-up for the browser tests (tests/test_e2e.py, tests/test_a11y.py), loaded by them as a pytest
plugin: one small demo store, one dashboard server on loopback and one headless Chromium for the whole
session, and helpers that wait for Streamlit, act as a role and open pages through the navigation.

The browser is Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it), driven by Playwright.
A missing browser or Playwright fails the tests with a message saying what to install: it is never a skip.
The server cannot outlive the run: it runs under `timeout`, and dies with the test process if that is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from ui.access import ROLES, PageSpec, pages_for
from ui.identity import ROLE_LABELS

__all__ = ["ARTIFACTS", "ROLE_PAGES", "AppServer", "RolePage", "active_page_title", "app_server", "browser_available",
           "browser_problem", "chromium", "chromium_path", "current_role", "error_texts", "fresh_tab", "go_to_page",
           "nav_link", "nav_titles", "open_app", "reveal_everything", "role_page", "role_page_id", "screenshot",
           "switch_role", "tab_for_role", "wait_for_app"]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_DEFAULT = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS") or ROOT / "tests" / "artifacts" / "e2e")
# A backstop: the server stops with the session, or with the test process if that is killed, or after this.
SERVER_LIFETIME_S = int(os.environ.get("E2E_SERVER_LIFETIME", "3600"))
STARTUP_TIMEOUT_S = 120
RUN_TIMEOUT_MS = 90_000  # one page run on a loaded 2-core machine, with room to spare
DEMO_CASES, DEMO_MONTHS = 4000, 12
VIEWPORT = {"width": 1400, "height": 1000}
NAV_LINKS = '[data-testid="stSidebarNav"] a[data-testid="stSidebarNavLink"]'
ERROR_BOXES = '[data-testid="stException"], [data-testid="stAlertContentError"]'

# Every (role, page) a role may open, from the access registry, so a new page is covered automatically.
ROLE_PAGES: list[tuple[str, PageSpec]] = [(role, spec) for role in ROLES for spec in pages_for(role)]


def role_page_id(pair: tuple[str, PageSpec]) -> str:
    return f"{pair[0]}-{pair[1].page_id}"


def chromium_path() -> str:
    return os.environ.get("CHROMIUM") or CHROMIUM_DEFAULT


def browser_problem() -> str | None:
    """What is missing for the browser tests, in words, or None when Playwright and Chromium are both there."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (pip install -r requirements-dev.txt)")
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        missing.append(f"Chromium at {path} (apt-get install -y chromium, or set CHROMIUM to its path)")
    if not missing:
        return None
    where = "CI (.ci/run should have installed it)" if os.environ.get("CI") else "this machine"
    return f"The browser tests cannot run on {where}: missing " + " and ".join(missing) + "."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send SIGTERM to the server's `timeout` wrapper if the test process dies (even by kill -9);
    `timeout` passes it on to the server."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen
    log_path: Path
    store: Path

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def build_demo_store(folder: Path) -> Path:
    store = folder / "demo.duckdb"
    result = subprocess.run([sys.executable, "-m", "data_access", "demo", "--db", str(store),
                             "--cases", str(DEMO_CASES), "--months", str(DEMO_MONTHS)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.fail(f"could not build the demo store for the browser tests:\n{result.stderr[-2000:]}", pytrace=False)
    return store


class ServerNotStarted(RuntimeError):
    """The dashboard server stopped at start or was not healthy in time; the message quotes its log."""


def launch_app(store: Path, folder: Path, *, lifetime_s: int = SERVER_LIFETIME_S, port: int | None = None,
               extra_args: tuple[str, ...] = (), env: dict | None = None, store_in_env: bool = True,
               wait_for: str = "/ready") -> AppServer:
    """`streamlit run serve.py` (as the README runs it) on a loopback port, headless, and ready (its warm-up done:
    serve.py's /ready), or ServerNotStarted naming why.

    The server runs under `timeout` (killed after `lifetime_s` whatever happens) and dies with this process.
    `store` becomes VCD_STORE, unless store_in_env is false (the secrets name it; VCD_STORE is then neither set
    nor inherited); `env` adds to the environment. `wait_for="/_stcore/health"` returns as soon as the server
    answers, before its warm-up has finished."""
    port = port or free_port()
    log_path = folder / f"server-{port}.log"
    environment = dict(os.environ, VCD_DATA_DIR=str(folder), **(env or {}))
    environment.pop("VCD_TARGETS", None)
    environment.pop("VCD_STORE", None)
    if store_in_env:
        environment["VCD_STORE"] = str(store)
    command = ["timeout", "--kill-after=10", str(int(lifetime_s)),
               sys.executable, "-m", "streamlit", "run", "serve.py", "--server.headless=true",
               f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
               "--server.fileWatcherType=none", *extra_args]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
    server = AppServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, store=store)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerNotStarted(f"the dashboard server stopped at start (exit {process.returncode}):\n"
                                   f"{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + wait_for, timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:  # not listening yet, or 503 while it warms up
            time.sleep(0.2)
    server.stop()
    raise ServerNotStarted(f"the dashboard server was not ready within {STARTUP_TIMEOUT_S} s:\n{server.log_tail()}")


def start_server(store: Path, folder: Path, **options) -> AppServer:
    """launch_app, or a test failure naming why."""
    try:
        return launch_app(store, folder, **options)
    except ServerNotStarted as error:
        pytest.fail(str(error), pytrace=False)


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test leaves a screenshot of what the browser showed, named after the test."""
    report = yield
    if report.failed and call.when == "call":
        shown = item.funcargs.get("fresh_tab") or getattr(item.funcargs.get("role_page"), "page", None)
        if shown is not None:
            with contextlib.suppress(Exception):
                screenshot(shown, f"FAILED-{item.name}")
    return report


@pytest.fixture(scope="session")
def browser_available() -> None:
    problem = browser_problem()
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def app_server(browser_available, tmp_path_factory) -> AppServer:
    for stale in ARTIFACTS.glob("FAILED-*.png"):  # a previous run's failures would mislead
        stale.unlink()
    folder = tmp_path_factory.mktemp("e2e-store")
    server = start_server(build_demo_store(folder), folder)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium(browser_available):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def fresh_tab(chromium, app_server):
    """A new browser context (its own Streamlit session) on the default page, closed after the test."""
    context = chromium.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(RUN_TIMEOUT_MS)
    page = context.new_page()
    open_app(page, app_server.url)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def tab_for_role(chromium, app_server):
    """tab_for_role(role) -> a tab acting as `role`, kept for the session: each role's pages are visited in one
    Streamlit session, as a person clicks through them, without reloading the default page each time."""
    tabs = {}

    def factory(role: str):
        page = tabs.get(role)
        if page is None or page.is_closed():
            context = chromium.new_context(viewport=VIEWPORT, accept_downloads=True)
            context.set_default_timeout(RUN_TIMEOUT_MS)
            page = context.new_page()
            open_app(page, app_server.url)
            switch_role(page, role)
            tabs[role] = page
        return page

    yield factory
    for page in tabs.values():
        with contextlib.suppress(Exception):
            page.context.close()


@dataclass(frozen=True)
class RolePage:
    role: str
    spec: PageSpec
    page: object  # playwright Page, open on `spec` as `role`


@pytest.fixture(scope="session", params=ROLE_PAGES, ids=role_page_id)
def role_page(request, tab_for_role) -> RolePage:
    """A page a role may use, opened through the navigation as that role. Session-scoped and parametrised, so
    pytest runs every test of one (role, page) together (the e2e check, axe, the charts) and opens it once."""
    role, spec = request.param
    page = tab_for_role(role)
    go_to_page(page, spec)
    return RolePage(role, spec, page)


# ---------------------------------------------------------------------------------------------- helpers


def open_app(page, url: str) -> None:
    """Load the app and wait for its first run: between connecting and that run the app looks idle, so wait for
    the navigation, which the run draws, before waiting for the run to finish."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(NAV_LINKS, state="attached")
    wait_for_app(page)


_IDLE_FOR_MS = 400
_IDLE_CHECK = """settle => {
    const app = document.querySelector('[data-testid="stApp"]');
    const idle = !!app && app.dataset.testConnectionState === 'CONNECTED'
        && app.dataset.testScriptState === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"]')
        && !document.querySelector('[data-stale="true"]');
    if (!idle) { window.__e2eIdleSince = null; return false; }
    window.__e2eIdleSince = window.__e2eIdleSince || performance.now();
    return performance.now() - window.__e2eIdleSince >= settle;
}"""


def wait_for_app(page, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    """Wait until Streamlit has been idle for a moment: connected, its script not running, no element stale and
    the status widget ("Running…", "Stop") gone. Idle must last, because the browser can look idle for an instant
    between one run and the next (a rerun a widget or the first load asks for)."""
    page.evaluate("() => { window.__e2eIdleSince = null; }")
    page.wait_for_function(_IDLE_CHECK, arg=_IDLE_FOR_MS, polling=100, timeout=timeout_ms)


def reveal_everything(page, pause_ms: int = 80) -> None:
    """Scroll the main area to the bottom and back to the top: Streamlit mounts some elements (st.metric, for one)
    only once they have been in view, and a check should see the whole page."""
    page.evaluate("""async pause => {
        const main = document.querySelector('[data-testid="stMain"]');
        if (!main) return;
        const rest = () => new Promise(resolve => setTimeout(resolve, pause));
        for (let y = 0; y < main.scrollHeight; y += Math.max(200, main.clientHeight * 0.8)) {
            main.scrollTop = y;
            await rest();
        }
        main.scrollTop = main.scrollHeight;
        await rest();
        main.scrollTop = 0;
    }""", pause_ms)
    wait_for_app(page)


def current_role(page) -> str | None:
    box = page.get_by_role("combobox", name="Demo role")
    if box.count() == 0:
        return None
    label = box.input_value()
    return next((role for role, text in ROLE_LABELS.items() if text == label), None)


def switch_role(page, role: str) -> None:
    """Choose `role` in the demo's role switcher (demo mode only), and wait for the rerun."""
    if current_role(page) == role:
        return
    page.get_by_role("combobox", name="Demo role").click()
    page.get_by_role("option", name=ROLE_LABELS[role], exact=True).click()
    wait_for_app(page)
    assert current_role(page) == role, f"could not switch the demo role to {role}"


def nav_titles(page) -> list[str]:
    return [_link_title(text) for text in page.locator(NAV_LINKS).all_inner_texts()]


def _link_title(text: str) -> str:
    """A navigation link's text is its Material icon's name then its title, on separate lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def nav_link(page, spec: PageSpec):
    """The page's link in the sidebar navigation: its address is the page id ("/" for the default page)."""
    return page.locator(f'{NAV_LINKS}[href$="/{"" if spec.default else spec.page_id}"]')


def active_page_title(page) -> str:
    return _link_title(page.locator(f'{NAV_LINKS}[aria-current="page"]').inner_text())


def go_to_page(page, spec: PageSpec) -> None:
    """Open a page as a person would: through its link in the sidebar navigation."""
    if active_page_title(page) != spec.title:
        nav_link(page, spec).click()
        page.wait_for_function(
            "title => [...document.querySelectorAll('[data-testid=\"stSidebarNavLink\"][aria-current=\"page\"]')]"
            ".some(a => a.innerText.trim().endsWith(title))", arg=spec.title)
    wait_for_app(page)
    reveal_everything(page)


def error_texts(page) -> list[str]:
    return [text.strip() for text in page.locator(ERROR_BOXES).all_inner_texts()]


def screenshot(page, name: str, max_height: int = 8000) -> Path:
    """The whole page as a PNG in the artefacts folder. Streamlit scrolls its main area inside the window, so a
    full-page screenshot would show only the first screen: the window is made as tall as the content instead."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    size = page.viewport_size
    height = page.evaluate("""() => Math.max(...[...document.querySelectorAll(
        '[data-testid="stMain"], [data-testid="stSidebarContent"]')].map(e => e.scrollHeight), innerHeight)""")
    try:
        page.set_viewport_size({"width": size["width"], "height": min(height, max_height)})
        page.wait_for_timeout(300)  # charts redraw for the new size
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path
