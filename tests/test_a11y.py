"""Accessibility in a real browser (WCAG 2.2 AA, the standard for UK public-sector services): axe-core on every
page as every role, the navigation and filters by keyboard alone, and a text alternative for every chart.

axe-core is injected by Playwright from the pinned PyPI package axe-playwright-python, which ships axe-core's
own build (axe.min.js, from the npm registry, MPL-2.0). The server, browser and role tabs are shared with
tests/test_e2e.py through tests/browser.py. What axe checks and what it cannot: docs/accessibility.md.
"""

from __future__ import annotations

import json
import re

import pytest

pytest.register_assert_rewrite("browser")  # before the import below, so its asserts explain themselves too

from browser import ARTIFACTS, active_page_title, nav_link, wait_for_app  # noqa: E402
from ui.access import DEMO_ROLE, pages_for  # noqa: E402

pytest_plugins = ["browser"]

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = {"critical", "serious"}

# Violations inside Streamlit's own markup that no setting of ours can change: (rule id, CSS selector the
# element must match, why). Keep this short; each entry is explained in docs/accessibility.md.
ALLOWED: tuple[tuple[str, str, str], ...] = (
    ("target-size", '[data-testid="stDateInput"] [role="spinbutton"]',
     "st.date_input draws the day and month of a date as separate 18 px segments inside one input box; the "
     "calendar button beside them (which passes) sets the same dates, WCAG 2.2 SC 2.5.8's 'equivalent' exception"),
)


def axe_script() -> str:
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


def run_axe(page) -> list[dict]:
    """axe-core's violations of the WCAG 2.0, 2.1 and 2.2 A and AA rules on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_script())
    results = page.evaluate(
        "options => axe.run(document, options)",
        {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]})
    return results["violations"]


def _allowed(page, rule: str, target: list) -> bool:
    selectors = [selector for allowed_rule, selector, _ in ALLOWED if allowed_rule == rule]
    if not selectors or len(target) != 1:  # a target in a frame or shadow root is never allowed
        return False
    return page.evaluate("([target, selectors]) => { const e = document.querySelector(target);"
                         " return !!e && selectors.some(s => e.matches(s)); }", [target[0], selectors])


def blocking(page, violations: list[dict]) -> list[dict]:
    """Critical and serious violations, less the elements on the allow-list."""
    found = []
    for violation in violations:
        if violation.get("impact") not in BLOCKING_IMPACTS:
            continue
        nodes = [node for node in violation["nodes"] if not _allowed(page, violation["id"], node["target"])]
        if nodes:
            found.append({**violation, "nodes": nodes})
    return found


def describe(violations: list[dict], targets_shown: int = 4) -> str:
    lines = []
    for violation in violations:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:targets_shown]]
        more = len(violation["nodes"]) - len(targets)
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}; "
                     f"{len(violation['nodes'])} element(s): " + "; ".join(targets) + (f" and {more} more" if more > 0 else ""))
    return "\n".join(lines)


def test_no_critical_or_serious_wcag_violations(role_page):
    role, spec, page = role_page.role, role_page.spec, role_page.page
    violations = run_axe(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{role}-{spec.page_id}.json").write_text(json.dumps(
        [{k: v[k] for k in ("id", "impact", "help", "helpUrl")} | {"targets": [n["target"] for n in v["nodes"]]}
         for v in violations], indent=1))
    found = blocking(page, violations)
    assert not found, f"axe-core found on {spec.title} as {role}:\n{describe(found)}"


def test_every_chart_has_a_text_alternative_also_written_on_the_page(role_page):
    spec, page = role_page.spec, role_page.page
    # st.plotly_chart(alt=...) makes the chart's box a figure named by the words; the pages also write them with
    # st.text, usually in the expander under the chart (textContent, because a closed expander hides them).
    charts = page.evaluate("""() => {
        const written = new Set([...document.querySelectorAll('[data-testid="stText"]')]
                                .map(e => e.textContent.trim()));
        return [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].map(chart => {
            const label = (chart.getAttribute('aria-label') || '').trim();
            return {role: chart.getAttribute('role'), label, written: written.has(label)};
        });
    }""")
    assert all(chart["role"] == "figure" for chart in charts), f"a chart on {spec.title} is not a figure: {charts}"
    unnamed = [chart for chart in charts if len(chart["label"]) < 20]
    assert not unnamed, f"charts on {spec.title} without a text alternative: {unnamed}"
    # The README also promises the same words written on the page, for readers who do not use a screen reader.
    unwritten = [chart["label"][:80] for chart in charts if not chart["written"]]
    assert not unwritten, f"{spec.title}: chart(s) whose words are not also written on the page: {unwritten}"


def _focused(page) -> dict:
    return page.evaluate("""() => {
        const e = document.activeElement;
        return {tag: e.tagName, testid: e.closest('[data-testid]')?.dataset.testid || '',
                label: e.getAttribute('aria-label') || '', text: (e.innerText || '').trim().slice(0, 80),
                href: e.getAttribute('href') || '', inSidebar: !!e.closest('[data-testid="stSidebar"]')};
    }""")


def tab_until(page, wanted, limit: int = 60) -> list[dict]:
    """Press Tab until `wanted(focused)` holds; every element focused on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = _focused(page)
        seen.append(focused)
        if wanted(focused):
            return seen
    return seen


def test_tab_reaches_the_navigation_and_the_filters_and_enter_opens_a_page(fresh_tab):
    page = fresh_tab  # the default page, as the default role
    target = next(spec for spec in pages_for(DEMO_ROLE) if not spec.default)
    href = nav_link(page, target).get_attribute("href")
    seen = tab_until(page, lambda f: f["href"] == href)
    assert seen and seen[-1]["href"] == href, f"Tab never reached the link to {target.title}: {seen}"
    seen = tab_until(page, lambda f: f["label"] == "District")
    assert seen[-1]["label"] == "District" and seen[-1]["inSidebar"], f"Tab never reached the District filter: {seen}"

    # A filter chosen by keyboard alone.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # past "Select all"
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_for_app(page)
    page.wait_for_url(re.compile(r"[?&]district="))

    # Back to the link by Shift+Tab, and Enter opens the page.
    for _ in range(60):
        if _focused(page)["href"] == href:
            break
        page.keyboard.press("Shift+Tab")
    assert _focused(page)["href"] == href
    page.keyboard.press("Enter")
    page.wait_for_function(
        "title => [...document.querySelectorAll('[data-testid=\"stSidebarNavLink\"][aria-current=\"page\"]')]"
        ".some(a => a.innerText.trim().endsWith(title))", arg=target.title)
    wait_for_app(page)
    assert active_page_title(page) == target.title
    assert "district=" in page.url, "the filter chosen by keyboard should follow to the next page"
