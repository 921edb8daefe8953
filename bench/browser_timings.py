"""Browser timings (issue 7, item 5): `python -m bench --only browser [--scale 3] [--browser-repeats 5]`.

Starts the dashboard on loopback against a demo store of the given force-years, opens a real Chromium page and
measures, in the page's own clock (so the harness's latency does not count):
- navigation to the Board overview fully drawn: cold (the first visitor after the server starts and reports
  ready, its warm-up done: serve.py's /ready; the server is restarted for each repeat), at start (a visitor
  arriving the moment the server answers, while its warm-up still runs) and warm (a new session on a server that
  has already drawn the page for a visitor);
- choosing a district in the sidebar to the page redrawn, on the Board overview and on Rights compliance, as the
  victim services manager (the demo's default role; the board role has no district filter).

"Fully drawn" means what the browser tests wait for (tests/browser.py): connected, the script not running, the
status widget gone, no stale element, and staying so for 400 ms; the time reported is when that idle began.
The server runs under `timeout` and dies with this process, so it cannot outlive the benchmark.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.browser import (ERROR_BOXES, NAV_LINKS, VIEWPORT, AppServer, ServerNotStarted, browser_problem,
                           chromium_path, launch_app)

ROOT = Path(__file__).resolve().parent.parent
CASES_PER_FORCE_YEAR = 160_000
STORE_START, STORE_SEED = "2023-11", 7  # fixed, so every run measures the same store
TARGETS_S = {"navigation": 2.0, "filter_change": 1.0}
RUN_TIMEOUT_MS = 60_000
SETTLE_MS = 400  # idle must last this long: the browser looks idle for an instant between two runs
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Installed before an action: notes when the action began (the first pointer-down, or now) and watches the DOM so
# that the end of the run it starts is timed when the run ends, not when the harness next looks.
ARM_PROBE = """fromPointer => {
    const app = () => document.querySelector('[data-testid="stApp"]');
    const busy = () => { const a = app(); return !a || a.dataset.testScriptState === 'running'
        || !!document.querySelector('[data-testid="stStatusWidget"]')
        || !!document.querySelector('[data-stale="true"]'); };
    const idle = () => { const a = app(); return !!a && a.dataset.testConnectionState === 'CONNECTED' && !busy(); };
    const probe = window.__bench = {t0: performance.now(), seenRun: false, idleSince: null, idle, busy};
    if (fromPointer) {
        probe.t0 = null;
        document.addEventListener('pointerdown', () => { probe.t0 = probe.t0 ?? performance.now(); },
                                  {capture: true, once: true});
    }
    const note = () => {
        if (busy()) { probe.seenRun = true; probe.idleSince = null; }
        else if (probe.seenRun && idle() && probe.idleSince === null) { probe.idleSince = performance.now(); }
    };
    if (window.__benchObserver) window.__benchObserver.disconnect();
    window.__benchObserver = new MutationObserver(note);
    window.__benchObserver.observe(document.documentElement, {subtree: true, childList: true, attributes: true,
        attributeFilter: ['data-stale', 'data-test-script-state', 'data-test-connection-state']});
}"""

# Polled until the run the action started has finished and the page has stayed idle for `settle` ms.
RUN_FINISHED = """settle => {
    const probe = window.__bench;
    if (!probe) return false;
    if (probe.busy()) { probe.seenRun = true; probe.idleSince = null; return false; }
    if (!probe.seenRun || !probe.idle()) { probe.idleSince = null; return false; }
    probe.idleSince = probe.idleSince ?? performance.now();
    return performance.now() - probe.idleSince >= settle;
}"""

# After a navigation the page's clock starts at the navigation; the first run has begun once it drew the sidebar.
NAV_ARM = """() => { window.__bench.t0 = 0; if (document.querySelector('%s')) window.__bench.seenRun = true; }""" % NAV_LINKS
ELAPSED_MS = "() => window.__bench.idleSince - (window.__bench.t0 ?? window.__bench.idleSince)"


class BenchError(RuntimeError):
    """A benchmark step that could not be done, in words (no traceback needed)."""


# ---------------------------------------------------------------------------------------------- store and server


def store_for_scale(force_years: int, folder: Path, log=print) -> Path:
    """The demo store of `force_years` (160,000 cases and 12 months each), built once and kept in `folder`."""
    store = folder / f"demo_{force_years}fy.duckdb"
    if store.exists():
        return store
    folder.mkdir(parents=True, exist_ok=True)
    log(f"building the {force_years} force-year demo store in {store} (once)…")
    result = subprocess.run([sys.executable, "-m", "data_access", "demo", "--db", str(store),
                             "--cases", str(CASES_PER_FORCE_YEAR * force_years), "--months", str(12 * force_years),
                             "--start", STORE_START, "--seed", str(STORE_SEED)],
                            cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if result.returncode:
        raise BenchError(f"could not build the demo store {store}:\n{result.stderr[-2000:]}")
    return store


def start_server(store: Path, folder: Path, lifetime_s: int, wait_for: str = "/ready") -> AppServer:
    """The dashboard on a free loopback port (tests/browser.py launch_app), returned once `wait_for` answers;
    stopped by the caller in a `finally`, and by `timeout` after `lifetime_s` or when this process dies, whichever
    comes first."""
    try:
        return launch_app(store, folder, lifetime_s=lifetime_s, wait_for=wait_for)
    except ServerNotStarted as error:
        raise BenchError(str(error)) from None


def _server_total(server: AppServer, measure) -> float:
    """`measure(process)` added up over the server's processes (the `timeout` wrapper and Streamlit under it)."""
    import psutil

    try:
        root = psutil.Process(server.process.pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += measure(process)
    return total


def server_cpu_s(server: AppServer) -> float:
    """CPU seconds (user and system) the server's processes have used so far."""
    return _server_total(server, lambda p: sum(p.cpu_times()[:2]))


def server_rss_mb(server: AppServer) -> float:
    """Resident memory of the server, in MB."""
    return _server_total(server, lambda p: p.memory_info().rss) / 2**20


# ---------------------------------------------------------------------------------------------- page actions


def open_timed(page, url: str, timeout_ms: int = RUN_TIMEOUT_MS) -> float:
    """Navigate to `url` in this page; seconds from the navigation to the page fully drawn."""
    page.goto(url, wait_until="commit", timeout=timeout_ms)
    page.wait_for_function("() => document.readyState !== 'loading'", timeout=timeout_ms)
    page.evaluate(ARM_PROBE, False)
    page.evaluate(NAV_ARM)
    page.wait_for_function(RUN_FINISHED, arg=SETTLE_MS, polling=50, timeout=timeout_ms)
    return page.evaluate(ELAPSED_MS) / 1000


def choose_district_timed(page, index: int, timeout_ms: int = RUN_TIMEOUT_MS) -> tuple[str, float]:
    """Choose the `index`-th district (cycling) in the sidebar; its name and the seconds from the click on it to
    the page redrawn."""
    page.get_by_role("combobox", name="District").click(timeout=timeout_ms)
    options = page.get_by_role("option").filter(has_not_text="Select all")
    count = options.count()
    if count == 0:
        raise BenchError("the District filter lists no districts")
    option = options.nth(index % count)
    name = option.inner_text(timeout=timeout_ms).strip()
    page.evaluate(ARM_PROBE, True)
    option.click(timeout=timeout_ms)
    page.keyboard.press("Escape")
    page.wait_for_function(RUN_FINISHED, arg=SETTLE_MS, polling=50, timeout=timeout_ms)
    return name, page.evaluate(ELAPSED_MS) / 1000


def clear_filters(page, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    page.evaluate(ARM_PROBE, False)
    page.get_by_role("button", name="Clear filters").click(timeout=timeout_ms)
    page.wait_for_function(RUN_FINISHED, arg=SETTLE_MS, polling=50, timeout=timeout_ms)


def error_count(page) -> int:
    return page.locator(ERROR_BOXES).count()


# ---------------------------------------------------------------------------------------------- the benchmark


def _summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_s": statistics.median(ordered), "min_s": ordered[0], "max_s": ordered[-1], "n": len(ordered)}


def measure(store: Path, repeats: int = 5, log=print) -> dict:
    """Every browser timing on `store`, as {name: {median_s, min_s, max_s, n}} plus the errors seen."""
    from playwright.sync_api import sync_playwright

    problem = browser_problem()
    if problem:
        raise BenchError(problem)
    cold, at_start, warm, board_filter, rights_filter = [], [], [], [], []
    errors: list[str] = []
    lifetime_s = 600 + 120 * repeats  # the watchdog: far beyond a normal run
    with tempfile.TemporaryDirectory(prefix="vcd-bench-browser-") as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            def new_page():
                context = browser.new_context(viewport=VIEWPORT)
                context.set_default_timeout(RUN_TIMEOUT_MS)
                return context.new_page()

            # cold: a fresh server each time, its first visitor once it is ready; at start: before it is
            for samples, wait_for, name in ((cold, "/ready", "cold"), (at_start, "/_stcore/health", "at start")):
                for repeat in range(repeats):
                    server = start_server(store, Path(tmp), lifetime_s, wait_for)
                    try:
                        page = new_page()
                        samples.append(open_timed(page, server.url))
                        page.context.close()
                    finally:
                        server.stop()
                    log(f"navigation {name} {repeat + 1}/{repeats}: {samples[-1]:.2f} s")
            server = start_server(store, Path(tmp), lifetime_s)
            try:
                new_page().context.close()
                first = new_page()
                open_timed(first, server.url)  # the server's first run: warms its caches
                first.context.close()
                for repeat in range(repeats):
                    page = new_page()
                    warm.append(open_timed(page, server.url))
                    page.context.close()
                log(f"warm navigation: {[round(s, 2) for s in warm]}")
                page = new_page()
                open_timed(page, server.url)
                for target, samples in (("", board_filter), ("/rights_compliance", rights_filter)):
                    if target:
                        open_timed(page, server.url + target)
                    for repeat in range(repeats):
                        district, seconds = choose_district_timed(page, repeat)
                        samples.append(seconds)
                        if error_count(page):
                            errors.append(f"an error box on {target or '/'} after choosing {district}")
                        clear_filters(page)
                    log(f"filter change on {target or 'the Board overview'}: {[round(s, 2) for s in samples]}")
                page.context.close()
            finally:
                server.stop()
        finally:
            browser.close()
    return {"navigation_cold": _summary(cold), "navigation_at_start": _summary(at_start),
            "navigation_warm": _summary(warm),
            "filter_board_overview": _summary(board_filter), "filter_rights_compliance": _summary(rights_filter),
            "errors": errors, "repeats": repeats}


LABELS = {
    "navigation_cold": ("Navigation to the Board overview fully drawn, cold (the first visitor after a server "
                        "start, once it reports ready)", "navigation"),
    "navigation_at_start": ("Navigation to the Board overview fully drawn, at start (the moment the server answers, "
                            "its warm-up still running)", None),  # reported: the target is for a server in service
    "navigation_warm": ("Navigation to the Board overview fully drawn, warm (a new session)", "navigation"),
    "filter_board_overview": ("Choosing a district to the Board overview redrawn", "filter_change"),
    "filter_rights_compliance": ("Choosing a district to Rights compliance (Right 4) redrawn", "filter_change"),
}


def browser_markdown(result: dict, host: str, force_years: int) -> str:
    from datetime import datetime, timezone

    lines = [f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {host}, at {force_years} force-year"
             f"{'s' if force_years > 1 else ''}, as the victim services manager, headless Chromium on loopback.", "",
             "| | median | min | max | target | met |", "|---|---|---|---|---|---|"]
    for key, (label, target_name) in LABELS.items():
        r = result[key]
        if target_name is None:
            target_text, met = "–", "–"
        else:
            target = TARGETS_S[target_name]
            target_text, met = f"{target:.0f} s", "yes" if r["median_s"] <= target else "NO"
        lines.append(f"| {label} | {r['median_s']:.2f} s | {r['min_s']:.2f} s | {r['max_s']:.2f} s | {target_text} "
                     f"| {met} |")
    lines += ["", f"Medians over {result['repeats']} repeats each (cold: {result['repeats']} server starts). "
              f"Error boxes seen: {len(result['errors'])}."]
    return "\n".join(lines)
