"""End to end in a real browser: the dashboard served on loopback against a small demo store, driven by Playwright
in Debian's Chromium. Every role opens every page it may use through the navigation and sees no other; the
district filter changes the figures and the link; the quarterly return and the board pack download.
Screenshots go to tests/artifacts/e2e/ (or $E2E_ARTIFACTS). Set-up and helpers: tests/browser.py.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from openpyxl import load_workbook

pytest.register_assert_rewrite("browser")  # before the import below, so its asserts explain themselves too

from browser import (ARTIFACTS, active_page_title, browser_problem, error_texts,  # noqa: E402
                     nav_titles, open_app, reveal_everything, screenshot, switch_role, wait_for_app)
from metrics.catalogue import default_catalogue  # noqa: E402
from metrics.quarterly_return import RETURN_COLUMNS  # noqa: E402
from ui.access import ROLES, pages_for  # noqa: E402
from ui.identity import ROLE_LABELS  # noqa: E402

pytest_plugins = ["browser"]


def test_a_missing_chromium_is_named_with_how_to_install_it(monkeypatch, tmp_path):
    not_executable = tmp_path / "chromium"
    not_executable.write_text("")
    monkeypatch.setenv("CHROMIUM", str(not_executable))
    monkeypatch.delenv("CI", raising=False)
    problem = browser_problem()
    assert problem is not None and str(not_executable) in problem and "apt-get install -y chromium" in problem
    assert "this machine" in problem
    monkeypatch.setenv("CI", "true")
    assert "cannot run on CI" in browser_problem()


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_its_own_pages_in_the_navigation(tab_for_role, role):
    page = tab_for_role(role)
    allowed = [spec.title for spec in pages_for(role)]
    assert nav_titles(page) == allowed, f"{role} should see exactly {allowed} in the navigation"


def test_every_page_opens_for_every_role_that_may_use_it(role_page):
    role, spec, page = role_page.role, role_page.spec, role_page.page
    screenshot(page, f"{role}-{spec.page_id}")
    assert active_page_title(page) == spec.title
    # its own browser title and one top-level heading naming it (WCAG 2.4.2, 1.3.1)
    assert page.title() == f"{spec.title} · Victims' Code compliance"
    assert page.locator('[data-testid="stMain"] h1').all_inner_texts() == [spec.title]
    assert page.locator('[data-testid="stException"]').count() == 0, f"{spec.title} shows an exception to {role}"
    assert error_texts(page) == [], f"{spec.title} shows an error to {role}: {error_texts(page)}"
    # The demo banner names the role the page was drawn for, so the role switch really took effect.
    banner = page.locator('[data-testid="stMain"] [data-testid="stAlert"]').first.inner_text()
    assert f"as the {ROLE_LABELS[role]} role" in banner
    assert "You do not have access" not in page.locator('[data-testid="stMain"]').inner_text()


def _headline_rates(page) -> list[str]:
    reveal_everything(page)
    return page.locator('[data-testid="stMain"] [data-testid="stMetricValue"]').all_inner_texts()


def _choose_first_option(page, label: str) -> str:
    box = page.get_by_role("combobox", name=label)
    box.click()
    # Streamlit lists "Select all" first; a person wanting one district picks the district.
    option = page.get_by_role("option").filter(has_not_text=re.compile(r"^Select all$")).first
    chosen = option.inner_text().strip()
    option.click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    return chosen


def test_a_district_filter_changes_the_figures_and_is_kept_in_the_link(fresh_tab, chromium):
    page = fresh_tab
    before = _headline_rates(page)
    assert len(before) >= 11, "the Board overview should show a delivered rate for each measured right"
    district = _choose_first_option(page, "District")
    page.wait_for_url(re.compile(r"[?&]district="))
    assert parse_qs(urlparse(page.url).query)["district"] == [district]
    caption = page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').first.inner_text()
    assert f"District: {district}" in caption
    after = _headline_rates(page)
    assert after != before, "choosing one district should change the rights' delivered rates"
    screenshot(page, "filter-district")

    # The link carries the filter: opened afresh (a new session), it shows the same district and figures.
    shared = chromium.new_context(viewport=page.viewport_size)
    try:
        other = shared.new_page()
        open_app(other, page.url)
        assert f"District: {district}" in other.locator(
            '[data-testid="stMain"] [data-testid="stCaptionContainer"]').first.inner_text()
        assert _headline_rates(other) == after
    finally:
        shared.close()


# The Board overview's download controls: a button prepares a file (and records it in the audit trail), then a
# download button saves it.
RETURN_PREPARE = re.compile(r"^Prepare the \d{4}Q[1-4] return$")
RETURN_SAVE = re.compile(r"^Save the \d{4}Q[1-4] return \(CSV\)$")
PACK_PREPARE = re.compile(r"^Prepare the board pack for \d{4}Q[1-4]$")
PACK_SAVE_HTML = re.compile(r"^Save the board pack \(HTML\)$")
PACK_SAVE_XLSX = re.compile(r"^Save its tables \(XLSX\)$")


def _prepare(page, label: re.Pattern) -> None:
    button = page.get_by_role("button", name=label)
    button.scroll_into_view_if_needed()
    button.click()
    wait_for_app(page)


def _save(page, label: re.Pattern) -> Path:
    button = page.get_by_role("button", name=label)
    button.scroll_into_view_if_needed()
    with page.expect_download() as download_info:
        button.click()
    download = download_info.value
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    saved = ARTIFACTS / download.suggested_filename
    download.save_as(saved)
    return saved


@pytest.mark.parametrize("role", ["victim_services", "board"])
def test_the_quarterly_return_downloads_with_its_header_and_a_row_per_entitlement(fresh_tab, role):
    page = fresh_tab
    switch_role(page, role)
    _prepare(page, RETURN_PREPARE)
    saved = _save(page, RETURN_SAVE)
    assert re.search(r"\d{4}Q[1-4]", saved.name) and saved.suffix == ".csv"
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert rows[0] == list(RETURN_COLUMNS)
    # One row for every entitlement in the catalogue, measured or not, in catalogue order.
    assert [row[1] for row in rows[1:]] == [e.code for e in default_catalogue().entitlements]


def test_the_board_pack_downloads_as_html_and_xlsx_for_the_board(fresh_tab):
    page = fresh_tab
    switch_role(page, "board")
    _prepare(page, PACK_PREPARE)
    html_pack, workbook_path = _save(page, PACK_SAVE_HTML), _save(page, PACK_SAVE_XLSX)
    screenshot(page, "board-pack")
    text = html_pack.read_text(encoding="utf-8")
    assert html_pack.suffix == ".html" and text.lstrip().startswith("<!DOCTYPE html>")
    assert all(f"Right {number}" in text for number in range(1, 13))
    assert workbook_path.suffix == ".xlsx"
    workbook = load_workbook(workbook_path, read_only=True)
    try:
        assert len(workbook.sheetnames) >= 2
    finally:
        workbook.close()
