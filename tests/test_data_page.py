"""The Data page through AppTest: uploads into a real store with the report and history, refusals, the rejects
(on screen, as exported, and downloaded with formulas neutralised), the audit records that must come first, the
demo store's refusal, and that nobody but an administrator can reach the page."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import streamlit as st
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from data_access import audit
from data_access.importer import journal_path
from data_access.store import build_store
from helpers import case, ent, sign_in, tables, victim
from metrics import contract

pytestmark = pytest.mark.app
APP_DIR = Path(__file__).resolve().parent.parent
APP = str(APP_DIR / "app.py")
PAGE = "pages/data.py"
ADMIN_EMAIL = "data.admin@force.example"

# The store before any upload: case C1 with victim V1 (0 of 1 cases without a victim).
BASE = tables(cases=[case("C1")], victims=[victim("V1")],
              entitlements=[ent("E1", "r4_needs_assessment", "2025-03-03", "2025-03-04")])

HYPERLINK = '=HYPERLINK("http://evil.example","fix me")'
# cases.csv: line 2 C2 good; line 3 C3 has a formula in team (rejected); line 4 C4 good, no victim; line 5 C5 has
# an offence group not in the contract (rejected), and a control character in team, which an .xlsx cannot hold.
#   read 4 = loaded 2 + rejected 2
GOOD_CASES = ("case_id,reported_at,offence_group,district,team,status\n"
              "C2,2025-03-10,theft,Basildon,Team A,open\n"
              f'C3,2025-03-11,burglary,Chelmsford,"{HYPERLINK.replace(chr(34), chr(34) * 2)}",open\n'
              "C4,2025-03-12,robbery,Basildon,Team B,open\n"
              "C5,2025-03-12,arson,Basildon,Team\x01C,open\n").encode()
# victims.csv: V2 and V3 both of C2. read 2 = loaded 2 + rejected 0
GOOD_VICTIMS = b"victim_id,case_id,enhanced_category\nV2,C2,\nV3,C2,vulnerable\n"
# After the import the store holds C1 (V1), C2 (V2, V3) and C4 (no victim): 1 of 3 cases without a victim.

FORMULA_REASON = ("team starts with =, +, -, @, a tab or a carriage return, which a spreadsheet could run as a "
                  "formula; correct it at source")
OFFENCE_REASON = f"offence_group is not one of the allowed values: {', '.join(contract.OFFENCE_GROUPS)}"
CASES_REJECTS = [[3, "team", FORMULA_REASON], [5, "offence_group", OFFENCE_REASON]]


@pytest.fixture
def real_store(tmp_path) -> Path:
    return build_store(tmp_path / "force.duckdb", BASE, data_as_of=date(2025, 3, 31), is_demo=False,
                       source="test: a force's store")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("demo") / "demo.duckdb", BASE, data_as_of=date(2025, 3, 31),
                       is_demo=True, source="test: demo")


@pytest.fixture
def media(monkeypatch) -> dict[str, bytes]:
    """The bytes of every rejects file handed to the browser (download buttons), by download file name."""
    served: dict[str, bytes] = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        if (filename or "").startswith("rejects-") and isinstance(path_or_data, bytes):
            served[filename] = path_or_data
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    return served


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_page(monkeypatch, store: Path, role: str = "admin") -> AppTest:
    """The Data page as a signed-in user with this one role, reached through the app's navigation."""
    sign_in(monkeypatch, role, email=ADMIN_EMAIL)
    monkeypatch.setenv("VCD_STORE", str(store))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    at.file_uploader[0].set_value([(name, data, "text/csv") for name, data in files])
    at.run()
    at.button(key="data_import").click().run()
    # A committed import ends with st.rerun(). AppTest runs that rerun under another page hash than its own
    # runs, so the widgets it draws get other ids; one more run brings the ids back to what a browser sees.
    if at.success:
        at.run()
    assert not at.exception
    return at


def shown(markdown: str) -> str:
    """Markdown as the reader sees it: text from files and the importer is backslash-escaped on the page."""
    return re.sub(r"\\(.)", r"\1", markdown)


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success") for e in at.get(kind)]
    return "\n".join(shown(str(p)) for p in parts)


def sidebar(at: AppTest) -> str:
    return "\n".join(c.value for c in at.sidebar.caption)


def frame_titled(at: AppTest, column: str):
    """The first dataframe on the page with this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def quality_row(at: AppTest, title: str) -> tuple[int, str]:
    checks = frame_titled(at, "Definition")
    row = checks[checks["Check"] == title].iloc[0]
    return int(row["Count"]), row["Out of"]


def events(store: Path, action: str | None = None):
    return audit.read_events(audit.default_audit_path(store), role="admin", action=action)


def test_a_good_pair_loads_with_its_report_history_and_new_figures(monkeypatch, real_store):
    at = open_page(monkeypatch, real_store)
    assert quality_row(at, "Cases with no victim") == (0, "1 cases")
    assert "No imports yet." in texts(at) and "Data as of 31 March 2025." in sidebar(at)
    uploader = at.file_uploader[0]
    assert uploader.accept_multiple_files and uploader.allowed_type == [".csv", ".xlsx", ".parquet"]
    assert uploader.proto.max_upload_size_mb == 200
    upload(at, ("cases.csv", GOOD_CASES), ("victims.csv", GOOD_VICTIMS))

    assert [shown(s.value).split(": ", 1)[1] for s in at.success] == \
        ["imported 2 file(s); 2 row(s) rejected: see the rejects."]
    report = frame_titled(at, "What happened")
    assert report[["File", "Table", "Outcome", "Read", "Loaded", "Rejected"]].values.tolist() == [
        ["cases.csv", "cases", "Loaded", 4, 2, 2], ["victims.csv", "victims", "Loaded", 2, 2, 0]]
    sample = frame_titled(at, "Reason")  # the report's sample of rejected lines comes first
    assert sample.values.tolist() == CASES_REJECTS

    history = frame_titled(at, "Checksum")
    assert history[["Who", "Import", "File", "File outcome", "Read", "Loaded", "Rejected"]].values.tolist() == [
        [ADMIN_EMAIL, "Loaded", "cases.csv", "Loaded", 4, 2, 2],
        [ADMIN_EMAIL, "Loaded", "victims.csv", "Loaded", 2, 2, 0]]
    assert history["Checksum"].tolist() == [hashlib.sha256(GOOD_CASES).hexdigest()[:12] + "…",
                                            hashlib.sha256(GOOD_VICTIMS).hexdigest()[:12] + "…"]
    # The rerun after the import reads the new store: C1, C2 and C4 now, C4 with no victim; and the frame's data
    # date is the new store's (with no date given, the latest in the data: C4 reported on 12 March).
    assert quality_row(at, "Cases with no victim") == (1, "3 cases")
    assert "Data as of 12 March 2025." in sidebar(at)
    assert not at.file_uploader[0].value  # the uploader is emptied, so the same files are not sent twice

    # The request was recorded before the import (with names, sizes and checksums), the outcome after it.
    requested, finished = events(real_store, "import").sort_values("seq")["detail"].tolist()
    assert requested["stage"] == "requested" and finished["stage"] == "finished"
    assert requested["files"] == [{"file": "cases.csv", "bytes": len(GOOD_CASES),
                                   "sha256": hashlib.sha256(GOOD_CASES).hexdigest()},
                                  {"file": "victims.csv", "bytes": len(GOOD_VICTIMS),
                                   "sha256": hashlib.sha256(GOOD_VICTIMS).hexdigest()}]
    assert finished["status"] == "committed"
    assert [(f["rows_read"], f["rows_loaded"], f["rows_rejected"]) for f in finished["files"]] == [(4, 2, 2), (2, 2, 0)]


def test_a_refused_file_stops_the_whole_import_and_says_why(monkeypatch, real_store):
    before = sha256(real_store)
    at = open_page(monkeypatch, real_store)
    no_district = b"case_id,reported_at,offence_group,status\nC9,2025-03-10,theft,open\n"
    upload(at, ("cases.csv", no_district), ("victims.csv", GOOD_VICTIMS))
    assert len(at.error) == 1 and "the import was refused because of the refused file(s); nothing was loaded and the " \
        "store was not changed" in shown(at.error[0].value)
    report = frame_titled(at, "What happened")
    assert report[["File", "Outcome"]].values.tolist() == [["cases.csv", "Refused"], ["victims.csv", "Not loaded"]]
    assert "district" in report["What happened"].iloc[0]  # the missing required column is named
    assert sha256(real_store) == before
    history = frame_titled(at, "Checksum")
    assert history[["Import", "File", "File outcome"]].values.tolist() == [
        ["Refused", "cases.csv", "Refused"], ["Refused", "victims.csv", "Not loaded"]]
    assert at.file_uploader[0].value  # kept, so the files can be corrected and sent again


def test_rejects_are_listed_shown_as_exported_on_request_and_downloaded_with_formulas_neutralised(
        monkeypatch, real_store, media):
    at = open_page(monkeypatch, real_store)
    at.date_input(key="data_as_of").set_value(date(2025, 3, 20))
    upload(at, ("cases.csv", GOOD_CASES), ("victims.csv", GOOD_VICTIMS))
    assert "Data as of 20 March 2025." in sidebar(at)  # the extract date given with the upload
    assert at.selectbox(key="data_reject_file").value == "cases.csv"  # the only file with rejected rows
    listed = [d.value for d in at.dataframe if list(d.value.columns) == ["Line", "Column", "Reason"]][-1]
    assert listed.values.tolist() == CASES_REJECTS
    assert "HYPERLINK" not in texts(at) and not any("HYPERLINK" in d.value.to_string() for d in at.dataframe)
    assert not at.download_button and not media and events(real_store, "download").empty

    # The rows as exported: only when asked, and recorded first.
    at.toggle(key="data_show_raw").set_value(True).run()
    raw = frame_titled(at, "Row as exported")
    assert raw["Line"].tolist() == [3, 5] and json.loads(raw["Row as exported"].iloc[0])["team"] == HYPERLINK
    viewed = events(real_store, "view_case_level")
    assert viewed["row_count"].tolist() == [2] and viewed["detail"].iloc[0]["file"] == "cases.csv"

    at.button(key="data_prepare").click().run()
    assert not at.exception
    assert [b.label for b in at.download_button] == ["Download CSV", "Download Excel"]
    downloaded = events(real_store, "download")
    assert downloaded["row_count"].tolist() == [2] and downloaded["detail"].iloc[0]["formats"] == ["csv", "xlsx"]

    names = sorted(media)
    assert len(names) == 2 and names[0].endswith("-cases.csv") and names[1].endswith("-cases.xlsx")
    rows = list(csv.reader(io.StringIO(media[names[0]].decode("utf-8-sig"))))
    assert rows[0] == ["line", "column(s) at fault", "reason", "case_id", "reported_at", "offence_group",
                       "district", "team", "status"]
    assert rows[1:] == [
        ["3", "team", FORMULA_REASON, "C3", "2025-03-11", "burglary", "Chelmsford", "'" + HYPERLINK, "open"],
        ["5", "offence_group", OFFENCE_REASON, "C5", "2025-03-12", "arson", "Basildon", "Team\x01C", "open"]]
    sheet = openpyxl.load_workbook(io.BytesIO(media[names[1]])).active
    team = sheet.cell(row=2, column=8)
    assert sheet.title == "cases" and team.value == "'" + HYPERLINK and team.data_type == "s"
    assert sheet.cell(row=3, column=8).value == "Team\ufffdC"  # the control character, replaced
    # every text cell of the workbook: none would run as a formula
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_no_import_happens_when_the_audit_trail_cannot_record_it(monkeypatch, real_store):
    before = sha256(real_store)
    at = open_page(monkeypatch, real_store)

    def refuse(*args, **kwargs):
        raise audit.AuditError("disk full")

    monkeypatch.setattr(audit, "record", refuse)
    upload(at, ("cases.csv", GOOD_CASES), ("victims.csv", GOOD_VICTIMS))
    assert [shown(e.value) for e in at.error] == [
        "The audit trail could not record this import, so it was not done: every import on this page is recorded "
        "first. Ask whoever runs the server to check that the audit file (force.duckdb.audit.sqlite) can be "
        "written, then try again."]
    assert sha256(real_store) == before
    assert not journal_path(real_store).exists()  # the importer was never called: not even a refusal is journalled
    assert not at.success and "No imports yet." in texts(at)


def test_no_download_is_offered_when_the_audit_trail_cannot_record_it(monkeypatch, real_store, media):
    at = upload(open_page(monkeypatch, real_store), ("cases.csv", GOOD_CASES), ("victims.csv", GOOD_VICTIMS))
    monkeypatch.setattr(audit, "record", lambda *a, **k: (_ for _ in ()).throw(audit.AuditError("locked")))
    at.button(key="data_prepare").click().run()
    assert any("could not record this download, so it was not done" in e.value for e in at.error)
    assert not at.download_button and not media


def test_the_demo_store_explains_where_imports_go_and_shows_the_importers_refusal(monkeypatch, demo_store):
    monkeypatch.delenv("VCD_STORE", raising=False)
    monkeypatch.setenv("VCD_STORE", str(demo_store))
    before = sha256(demo_store)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["vcd_demo_role"] = "admin"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    note = next(i.value for i in at.info if "synthetic demo store, which refuses imports" in i.value)
    assert "VCD_STORE" in note and "[store]" in note and "python -m data_access import" in note
    upload(at, ("cases.csv", GOOD_CASES))
    assert "holds the synthetic demo data; importing real exports into it would mix the two" in shown(at.error[0].value)
    assert sha256(demo_store) == before


OTHER_ROLES = ["board", "action_group", "victim_services"]


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_do_not_see_the_page_in_the_navigation(monkeypatch, real_store, role):
    listed = []
    real_navigation = st.navigation
    monkeypatch.setattr(st, "navigation", lambda pages, *a, **k: listed.append([p.title for p in pages])
                        or real_navigation(pages, *a, **k))
    sign_in(monkeypatch, role)
    monkeypatch.setenv("VCD_STORE", str(real_store))
    AppTest.from_file(APP, default_timeout=120).run()
    assert listed and "Board overview" in listed[-1] and "Data" not in listed[-1]


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_opening_the_page_directly_see_only_a_refusal(monkeypatch, real_store, role):
    sign_in(monkeypatch, role)
    monkeypatch.setenv("VCD_STORE", str(real_store))
    direct = AppTest.from_file(str(APP_DIR / PAGE), default_timeout=120)
    direct.run()
    assert not direct.exception
    assert [e.value for e in direct.error] == ["You do not have access to this page."]
    assert not direct.file_uploader and not direct.dataframe and not direct.main.button  # the sidebar has filters


def test_choosing_an_earlier_import_lists_its_own_rejects(monkeypatch, real_store):
    at = upload(open_page(monkeypatch, real_store), ("cases.csv", GOOD_CASES), ("victims.csv", GOOD_VICTIMS))
    # A second import: line 2 names case C3, whose row was rejected, so the store has no such case.
    upload(at, ("victims.csv", b"victim_id,case_id\nV9,C3\n"))
    chooser = at.selectbox(key="data_import_id")
    newest, earlier = (label.rsplit("(", 1)[1].rstrip(")") for label in chooser.options)  # labels end "(import id)"
    assert chooser.value == newest and at.selectbox(key="data_reject_file").value == "victims.csv"
    listed = [d.value for d in at.dataframe if list(d.value.columns) == ["Line", "Column", "Reason"]][-1]
    assert listed.values.tolist() == [
        [2, "case_id", "case_id names a case that is neither in the store nor in this import"]]
    chooser.select(earlier).run()
    assert at.selectbox(key="data_reject_file").value == "cases.csv"
    listed = [d.value for d in at.dataframe if list(d.value.columns) == ["Line", "Column", "Reason"]][-1]
    assert listed.values.tolist() == CASES_REJECTS
