"""Every page through Streamlit's AppTest: no exception, the right numbers, clear messages for bad input.

The fixture store is tiny and its figures are worked out by hand below; the demo-mode tests build
the real demo store once per module.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data_access.store import build_store
from helpers import record_downloads
from ui.access import PAGES

pytestmark = pytest.mark.app
APP = str(Path(__file__).resolve().parent.parent / "app.py")
T = pd.Timestamp

# March 2025. Mon 3, Tue 4, Wed 5, Thu 6, Fri 7, Mon 10 ... no bank holidays in March 2025.
#   v1: standard victim, case c1 in Basildon (South). v2: enhanced (vulnerable), case c2 in Tendring (North).
#   r4_needs_assessment   v1 delivered 4 Mar                         -> delivered (no timescale)
#   r4_needs_assessment   v2 nothing                                 -> not delivered (no timescale: never "not yet due")
#   r4_referral (2 wd)    v1 trig Mon 3, due Wed 5, delivered Wed 5  -> delivered, on time
#   r4_referral (2 wd)    v2 trig Wed 5, due Fri 7, delivered Mon 10 -> delivered, late
#     Right 4: eligible 4, delivered 3 -> 75.0%; with a timescale 2, on time 1 -> 50.0%
#   r6_suspect_arrested   v2 enhanced (1 wd) trig Thu 6, due Fri 7, delivered Fri 7  -> on time
#   r6_suspect_arrested   v1 standard (5 wd) trig Mon 10, due Mon 17, delivered Tue 18 -> late
#     Right 6: eligible 2, delivered 2 -> 100.0%; on time 1 of 2 -> 50.0%
#   r7_vps_offered        v1 not applicable, "Victim withdrew support"  -> Right 7: eligible 0, not applicable 1
FIXTURE = {
    "districts": pd.DataFrame({"district": ["Basildon", "Tendring"], "command_area": ["South", "North"]}),
    "cases": pd.DataFrame({
        "case_id": ["c1", "c2"], "reported_at": [T("2025-03-03"), T("2025-03-05")],
        "offence_group": ["burglary", "violence_against_the_person"], "district": ["Basildon", "Tendring"],
        "status": ["open", "open"]}),
    "victims": pd.DataFrame({"victim_id": ["v1", "v2"], "case_id": ["c1", "c2"],
                             "enhanced_category": [None, "vulnerable"]}),
    "entitlements": pd.DataFrame({
        "delivery_id": ["e1", "e2", "e3", "e4", "e5", "e6", "e7"],
        "victim_id": ["v1", "v2", "v1", "v2", "v2", "v1", "v1"],
        "entitlement": ["r4_needs_assessment", "r4_needs_assessment", "r4_referral_to_support_service",
                        "r4_referral_to_support_service", "r6_suspect_arrested", "r6_suspect_arrested", "r7_vps_offered"],
        "triggered_at": [T("2025-03-03"), T("2025-03-05"), T("2025-03-03"), T("2025-03-05"), T("2025-03-06"),
                         T("2025-03-10"), T("2025-03-03")],
        "delivered_at": [T("2025-03-04"), None, T("2025-03-05"), T("2025-03-10"), T("2025-03-07"), T("2025-03-18"), None],
        "outcome": [None, None, None, None, "delivered", "delivered", "not_applicable"],
        "exception_reason": [None, None, None, None, None, None, "Victim withdrew support"],
    }),
}


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("store") / "fixture.duckdb"
    return build_store(path, FIXTURE, data_as_of=date(2025, 3, 31), is_demo=True, source="test fixture")


def run_app(monkeypatch, store: Path | None, page: str | None = None, *, role: str | None = None,
            **query) -> AppTest:
    if store is not None:
        monkeypatch.setenv("VCD_STORE", str(store))
    at = AppTest.from_file(APP, default_timeout=120)
    if role is not None:
        at.session_state["vcd_demo_role"] = role
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def metric_values(at: AppTest) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for metric in at.metric:
        values.setdefault(metric.label, []).append(metric.value)
    return values


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "subheader") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def test_board_overview_shows_all_12_rights_with_hand_worked_rates(monkeypatch, fixture_store):
    at = run_app(monkeypatch, fixture_store)
    assert not at.exception
    page = texts(at)
    for number in range(1, 13):
        assert f"**Right {number}**" in page
    delivered = metric_values(at)["Delivered"]
    assert "75.0%" in delivered  # Right 4: 3 of 4
    assert "100.0%" in delivered  # Right 6: 2 of 2
    assert "3 of 4 eligible" in page
    assert "On time: **50.0%** (1 of 2 with a timescale)" in page  # Right 4 and Right 6 both 1 of 2
    assert "Nothing under this right is measured from police records" in page  # Right 10
    assert "No eligible instances" in page  # Right 7 has only a not-applicable instance
    assert "Demo mode: synthetic data" in page


def test_rights_compliance_defaults_to_right_4_with_its_figures(monkeypatch, fixture_store):
    at = run_app(monkeypatch, fixture_store, "pages/rights_compliance.py")
    assert not at.exception
    assert at.subheader[0].value.startswith("Right 4: To be referred to services")
    metrics = metric_values(at)
    assert metrics["Delivered"] == ["75.0%"]
    assert metrics["On time"] == ["50.0%"]
    assert metrics["Not yet due"] == ["0"]
    assert "3 of 4" in texts(at)


def test_the_right_comes_from_the_link_and_not_applicable_reasons_are_listed(monkeypatch, fixture_store):
    at = run_app(monkeypatch, fixture_store, "pages/rights_compliance.py", right="7")
    assert not at.exception
    assert at.subheader[0].value.startswith("Right 7:")
    assert metric_values(at)["Not applicable"] == ["1"]
    reasons = [df.value for df in at.dataframe if "Reason recorded" in df.value.columns]
    assert reasons and reasons[0]["Reason recorded"].tolist() == ["Victim withdrew support"]


def test_right_6_separates_standard_and_enhanced_timeliness(monkeypatch, fixture_store):
    at = run_app(monkeypatch, fixture_store, "pages/rights_compliance.py", right="6")
    assert not at.exception
    metrics = metric_values(at)
    assert metrics["Delivered"] == ["100.0%"] and metrics["On time"] == ["50.0%"]
    # side by side: standard v1 late (0 of 1, 5 working days), enhanced v2 on time (1 of 1, 1 working day)
    table = next(df.value for df in at.dataframe if "Standard: on time %" in df.value.columns)
    row = table.set_index("Entitlement").loc["Told of the suspect's arrest"]
    assert (row["Standard: working days"], row["Standard: on time %"], row["Standard: n of N"]) == (5, 0.0, "0 of 1")
    assert (row["Enhanced: working days"], row["Enhanced: on time %"], row["Enhanced: n of N"]) == (1, 100.0, "1 of 1")


def test_a_district_filter_in_the_link_narrows_every_figure(monkeypatch, fixture_store):
    at = run_app(monkeypatch, fixture_store, "pages/rights_compliance.py", district="Basildon")
    assert not at.exception
    # Basildon is v1 only: needs assessment delivered, referral on time -> 2 of 2, on time 1 of 1
    metrics = metric_values(at)
    assert metrics["Delivered"] == ["100.0%"] and metrics["On time"] == ["100.0%"]
    assert "District: Basildon" in texts(at)


def test_hostile_link_values_are_ignored_not_echoed(monkeypatch, fixture_store):
    hostile = "<script>alert(1)</script>' OR '1'='1"
    at = run_app(monkeypatch, fixture_store, "pages/rights_compliance.py", right="99; DROP TABLE cases", district=hostile)
    assert not at.exception
    assert at.subheader[0].value.startswith("Right 4:")  # unknown right -> the default
    assert metric_values(at)["Delivered"] == ["75.0%"]  # unknown district -> no district filter
    assert hostile not in texts(at)


EVERY_PAGE_AS_EVERY_ROLE = [(spec.path, role) for spec in PAGES for role in sorted(spec.roles)]
RATE_PAGES = ("board_overview", "rights_compliance", "keeping_informed")


@pytest.mark.parametrize("page, role", EVERY_PAGE_AS_EVERY_ROLE)
def test_every_page_runs_without_an_exception_for_every_role_that_may_use_it(monkeypatch, fixture_store, page, role):
    at = run_app(monkeypatch, fixture_store, page, role=role)
    assert not at.exception
    assert not at.error


def test_a_missing_store_gets_a_clear_message(monkeypatch, tmp_path):
    at = run_app(monkeypatch, tmp_path / "nowhere.duckdb")
    assert not at.exception
    assert "does not exist" in at.error[0].value
    assert not (tmp_path / "nowhere.duckdb").exists()


def test_a_file_that_is_not_a_store_gets_a_clear_message_and_is_untouched(monkeypatch, tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("case_id,name\nc1,Jane Example\n")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    at = run_app(monkeypatch, path)
    assert not at.exception
    message = at.error[0].value
    assert "not a DuckDB store" in message and "Jane Example" not in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_an_older_store_is_refused_with_its_version(monkeypatch, tmp_path):
    path = build_store(tmp_path / "old.duckdb", FIXTURE, data_as_of=date(2025, 3, 31), is_demo=True, source="t")
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE store_meta SET value = '0' WHERE key = 'schema_version'")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    at = run_app(monkeypatch, path)
    assert not at.exception
    assert "older store layout (schema version 0)" in at.error[0].value
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_malformed_catalogue_is_reported_on_the_page(monkeypatch, tmp_path, fixture_store):
    good = (Path(__file__).resolve().parent.parent / "metrics" / "catalogue.yaml").read_text()
    bad = tmp_path / "catalogue.yaml"
    bad.write_text(good.replace("timescale_working_days: {standard: 5, enhanced: 1}",
                                "timescale_working_days: {standard: 5, enhanced: -1}", 1))
    monkeypatch.setenv("VCD_CATALOGUE", str(bad))
    at = run_app(monkeypatch, fixture_store)
    assert not at.exception
    message = at.error[0].value
    assert "catalogue" in message and "r6_decision_not_to_investigate" in message and "enhanced" in message


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.mark.parametrize("spec", PAGES, ids=[p.page_id for p in PAGES])
def test_with_no_store_configured_the_demo_is_built_and_every_page_says_it_is_synthetic(monkeypatch, demo_dir, spec):
    monkeypatch.delenv("VCD_STORE", raising=False)
    monkeypatch.setenv("VCD_DATA_DIR", str(demo_dir))
    role = "victim_services" if "victim_services" in spec.roles else sorted(spec.roles)[0]
    at = run_app(monkeypatch, None, None if spec.default else spec.path, role=role)
    assert not at.exception
    assert not at.error
    assert any("Demo mode: synthetic data" in w.value for w in at.warning)
    assert (demo_dir / "demo.duckdb").exists()
    if spec.page_id in RATE_PAGES:
        assert any(v.endswith("%") for values in metric_values(at).values() for v in values)  # real rates shown


def test_each_right_on_the_board_links_to_its_detail(monkeypatch, fixture_store):
    at = run_app(monkeypatch, fixture_store)
    links = [link.proto for link in at.get("page_link")]
    # every right, even one with nothing measured (its detail page explains why)
    assert sorted(link.label for link in links) == sorted(f"Open Right {n}" for n in range(1, 13))
    assert all("rights_compliance" in link.page for link in links)


def test_the_glance_table_lists_all_12_rights_with_hand_worked_figures(monkeypatch, fixture_store):
    at = run_app(monkeypatch, fixture_store)
    table = next(df.value for df in at.dataframe if "Monthly trend" in df.value.columns).set_index("Right")
    assert len(table) == 12
    right4 = table.loc["4. Referral to support services"]
    assert (right4["Delivered %"], right4["n of N"], right4["On time %"], right4["on time, n of N"]) == \
        (75.0, "3 of 4", 50.0, "1 of 2")
    assert table.loc["6. Information about the investigation", "n of N"] == "2 of 2"
    assert table.loc["10. Expenses and property returned", "n of N"] == "not measured"
    assert table.loc["7. Victim Personal Statement", "n of N"] == "0 of 0"  # only a not-applicable instance


def test_keeping_informed_shows_the_overdue_list_to_victim_services_only(monkeypatch, fixture_store):
    at = run_app(monkeypatch, fixture_store, "pages/keeping_informed.py")
    assert not at.exception
    # The fixture has no contacts: v1 (reported 3 Mar) and v2 (5 Mar) are open and investigated, with no update
    # since the report, as of 31 Mar: 28 and 26 days, not more than the default 28, so nobody is overdue.
    assert "0 victims of open, investigated cases" in texts(at)
    at = run_app(monkeypatch, fixture_store, "pages/keeping_informed.py", role="action_group")
    assert not at.exception
    assert "shown to victim services only" in texts(at)
    assert not any("Days overdue" in df.value.columns for df in at.dataframe)


def test_the_overdue_list_is_recorded_in_the_audit_trail_before_it_is_shown(monkeypatch, fixture_store):
    from data_access.audit import default_audit_path, read_events

    trail = default_audit_path(fixture_store)
    before = len(read_events(trail, role="admin")) if trail.exists() else 0
    at = run_app(monkeypatch, fixture_store, "pages/keeping_informed.py", role="victim_services")
    events = read_events(trail, role="admin")
    assert len(events) == before + 1
    latest = events.iloc[0]
    assert (latest["action"], latest["page"], latest["role"], latest["row_count"]) == \
        ("view_case_level", "keeping_informed", "victim_services", 0)  # nobody is overdue in the fixture
    assert latest["filters"]["list"] == "overdue_updates"
    assert "0 victims of open, investigated cases" in texts(at)


def test_when_the_audit_trail_cannot_be_written_the_overdue_list_is_not_shown(monkeypatch, fixture_store):
    from data_access import audit

    def refuse(*args, **kwargs):
        raise audit.AuditError("the audit file cannot be written")

    monkeypatch.setattr(audit, "record", refuse)
    at = run_app(monkeypatch, fixture_store, "pages/keeping_informed.py", role="victim_services")
    assert not at.exception
    assert "victims of open, investigated cases" not in texts(at)
    assert any("could not record this list of victims" in e.value for e in at.error)


def _small_counts(values) -> list[str]:
    """Cells that are a whole number from 1 to 9: what the board must never see."""
    return [v for v in values if str(v).strip().replace(",", "").isdigit() and 1 <= int(str(v).replace(",", "")) <= 9]


def test_the_board_sees_the_quarter_force_wide_with_small_counts_suppressed(monkeypatch, fixture_store):
    served = record_downloads(monkeypatch)
    # opened by its path: under AppTest the default page's widgets change ids after the first run
    at = run_app(monkeypatch, fixture_store, "pages/board_overview.py", role="board")
    assert not at.exception
    # a quarter, not free filters: no district, offence or victim filters to difference
    assert [s.label for s in at.sidebar.selectbox] == ["Demo role", "Quarter"]
    assert not at.sidebar.multiselect
    assert any("counts from 1 to 9 are hidden" in i.value for i in at.info)
    # The fixture's counts are all 1 to 4: every count cell the board sees is hidden, zero or a dash.
    for frame in (df.value for df in at.dataframe):
        for column in frame.columns.drop("Right", errors="ignore"):  # right numbers are labels, not counts
            assert not _small_counts(frame[column]), f"a small count is shown in column {column!r}"
    at.button(key="return_prepare").click().run()
    csv_text = next(data for label, (data, _) in served.items() if label.endswith("return (CSV)"))
    rows = [line.split(",") for line in csv_text.splitlines()[1:]]
    assert all(not _small_counts(row[3:8]) for row in rows)
    assert any("[c]" in row for row in rows)


def test_a_count_withheld_by_disclosure_control_reads_as_c_rather_than_failing():
    from ui.display import count_text

    assert count_text(1234, 5678) == "1,234 of 5,678"
    assert count_text(pd.NA, 40) == "[c] of 40"
    assert count_text(float("nan"), 12) == "[c] of 12"


def test_a_query_stopped_for_memory_gets_a_message_and_the_page_recovers(monkeypatch, tmp_path):
    import data_access.queries as queries
    from data_access.store import StoreError

    store = build_store(tmp_path / "fresh.duckdb", FIXTURE, data_as_of=date(2025, 3, 31), is_demo=True,
                        source="test fixture")  # a store of its own, so no cached figures answer instead
    real = queries.compliance_counts

    def out_of_memory(*args, **kwargs):
        raise StoreError("a query needed more memory than the dashboard may use and was stopped; choose a "
                         "shorter period or fewer breakdowns")

    monkeypatch.setattr(queries, "compliance_counts", out_of_memory)
    at = run_app(monkeypatch, store)
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Part of this page could not be drawn: a query needed more memory than the dashboard may use and was "
        "stopped; choose a shorter period or fewer breakdowns. Nothing was changed; change the filters or reload "
        "the page to try again."]
    monkeypatch.setattr(queries, "compliance_counts", real)
    at.run()  # the next run, with memory to spare, draws the page
    assert not at.exception and not at.error
    assert "Right 1" in texts(at)
