"""The board pack (ui/boardpack.py, `python -m metrics boardpack`, the Board overview's button): built from a
hand-made store, then parsed back, HTML and XLSX, to check that it covers the 12 rights with the metrics'
figures, states what it is, works offline, escapes free text, and lets no suppressed count through.

The store (as of Fri 3 Oct 2025; the pack is for 2025Q3, Jul to Sep; its SPC charts run from Jan to Aug 2025,
as September was still settling on 3 Oct):
  A r4_needs_assessment: 40 instances a month, Jan to Sep, delivered for 20, 21, 22, 23, 37, 20, 20, 20, 20
    (and one more in April recorded as not applicable)
    -> Right 4's May is 37 of 40 (92.5%): 3 not delivered, a small complement, so May is hidden: not plotted.
  B r4_referral_to_support_service: 12 a month, Jul to Sep, 11 delivered on the day -> 33 of 36 in the quarter:
    3 not delivered, so B's delivered count (and its rate, 91.7%) is hidden; Right 4 in the quarter is
    A 60 of 120 + B 33 of 36 = 93 of 156, so A's 60 and Right 4's 93 cannot both be shown.
  C r7_vps_offered: 7 in Aug, 5 delivered -> Right 7 is 5 of 7 (71.4%): both small, hidden.
  D r6_suspect_arrested: 25 in Sep, all delivered on the day -> Right 6: 25 of 25, 100.0%, on time 25 of 25.
  E r3_written_acknowledgement: 50 in Jul (47 in Basildon, 3 in Colchester), 30 delivered -> Right 3: 30 of 50,
    60.0% (Wilson 95% CI 46.2% to 72.4%).
  Referrals (victims of B, reported in Jul): 12 to Victim Support, all offered, 10 consented (2 did not: small,
    so the consent count is hidden), 10 referred on the day, 4 engaged (small).
  Surveys: 3 responses; complaints: 2 (all small). A panel on 16 Jul heard 4 victims (small); its title and an
  action's title and owner carry markup and a spreadsheet formula.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from datetime import date, datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from helpers import case, ent, record_downloads, tables, victim
from data_access import queries
from data_access.store import build_store, open_store
from metrics import __main__ as metrics_cli
from metrics.catalogue import default_catalogue
from metrics.filters import Filters
from metrics.quarterly_return import ReturnError, latest_complete_quarter, parse_quarter, quarters_covering
from metrics.summaries import BOARD_BREAKDOWNS, board_overview
from ui.boardpack import (SUPPRESSED, BoardPackError, build_board_pack, pack_file_name, render_html, render_xlsx)

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
AS_OF = date(2025, 10, 3)
Q3 = parse_quarter("2025Q3")
NOW = datetime(2025, 10, 5, 9, 30, tzinfo=timezone.utc)
A_DELIVERED = [20, 21, 22, 23, 37, 20, 20, 20, 20]  # of 40, Jan to Sep 2025
PANEL_TITLE = "<script>alert('panel')</script> July panel"
ACTION_TITLE = '=HYPERLINK("http://evil.example","click")'
ACTION_OWNER = "<img src=x onerror=alert(1)>"
COUNT_COLUMNS = ("Delivered", "Eligible", "On time", "With a timescale", "Not yet due", "Not applicable", "Count",
                 "Of", "Responses", "Answered", "Complaints", "Acknowledged", "Victims heard")


def fixture_tables() -> dict[str, pd.DataFrame]:
    cases, victims, entitlements = [], [], []

    def add(code: str, day: str, delivered: str | None, prefix: str, district: str = "Basildon") -> str:
        vid = f"{prefix}{len(victims):04d}"
        cases.append(case(f"C{vid}", district, reported_at=day))
        victims.append(victim(vid, f"C{vid}"))
        entitlements.append(ent(f"E{vid}", code, day, delivered, victim_id=vid))
        return vid

    for m, done in enumerate(A_DELIVERED, start=1):
        for k in range(40):
            add("r4_needs_assessment", f"2025-{m:02d}-03", f"2025-{m:02d}-04" if k < done else None, "A")
    # One more in April, recorded as not applicable: the months' counts must still add up to the quarter's.
    add("r4_needs_assessment", "2025-04-03", None, "A")
    entitlements[-1].update(outcome="not_applicable", exception_reason="Victim could not be contacted")
    referred = []
    for m in (7, 8, 9):
        for k in range(12):
            day = f"2025-{m:02d}-03"
            vid = add("r4_referral_to_support_service", day, day if k < 11 else None, "B")
            if m == 7:
                referred.append(vid)
    for k in range(7):
        add("r7_vps_offered", "2025-08-05", "2025-08-06" if k < 5 else None, "C")
    for k in range(25):
        add("r6_suspect_arrested", "2025-09-02", "2025-09-02", "D")
    for k in range(50):
        add("r3_written_acknowledgement", "2025-07-08", "2025-07-09" if k < 30 else None, "E",
            "Colchester" if k >= 47 else "Basildon")
    out = tables(cases=cases, victims=victims, entitlements=entitlements)
    day = pd.Timestamp("2025-07-03")
    out["referrals"] = pd.DataFrame({
        "referral_id": [f"R{i}" for i in range(12)], "victim_id": referred, "service": "victim_support",
        "offered_at": day, "consent": ["given"] * 10 + ["declined"] * 2,
        "referred_at": [day] * 10 + [None] * 2, "contacted_at": [day + pd.Timedelta(days=2)] * 10 + [None] * 2,
        "engaged": pd.array([True] * 4 + [False] * 6 + [None] * 2, dtype="boolean")})
    out["surveys"] = pd.DataFrame({
        "response_id": ["S1", "S2", "S3"], "case_id": [cases[0]["case_id"]] * 3, "survey": "general",
        "responded_at": pd.to_datetime(["2025-07-10", "2025-08-10", "2025-09-10"]),
        "overall": [5, 4, 2], "kept_informed": [4, 3, 5], "treated_fairly": [5, 5, 1], "aware_of_code": [True, False, True]})
    out["complaints"] = pd.DataFrame({
        "complaint_id": ["K1", "K2"], "case_id": [cases[1]["case_id"]] * 2,
        "received_at": pd.to_datetime(["2025-07-15", "2025-08-15"]), "right_no": [6, 4],
        "acknowledged_at": pd.to_datetime(["2025-07-16", "2025-08-18"]), "outcome": ["open", "open"]})
    out["panels"] = pd.DataFrame({
        "panel_id": ["P1"], "held_on": [date(2025, 7, 16)], "title": [PANEL_TITLE], "themes": ["vawg"],
        "format": ["virtual"], "victims_live": [4]})
    out["panel_findings"] = pd.DataFrame({
        "finding_id": ["F1"], "panel_id": ["P1"], "kind": ["concern"], "right_no": [4],
        "entitlement": ["r4_needs_assessment"], "summary": ["Victims said **nobody** called <b>back</b>"]})
    out["actions"] = pd.DataFrame({
        "action_id": ["AC1", "AC2"], "finding_id": ["F1", "F1"], "title": [ACTION_TITLE, "Second action"],
        "owner": [ACTION_OWNER, "Head of Crime"], "raised_on": [date(2025, 7, 16)] * 2,
        "due_on": [date(2025, 9, 1), date(2025, 8, 30)], "status": ["in_progress", "done"],
        "completed_on": [None, date(2025, 8, 20)], "measure": ["r4_needs_assessment"] * 2})
    return out


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("boardpack") / "fixture.duckdb"
    return build_store(path, fixture_tables(), data_as_of=AS_OF, is_demo=True, source="board pack test fixture")


@pytest.fixture(scope="module")
def built(store_path):
    store = open_store(store_path)
    try:
        catalogue = default_catalogue()
        pack = build_board_pack(store, catalogue, Q3, now=NOW)
        overview = board_overview(queries.compliance_counts(store, catalogue, Filters(
            Q3.first_month, Q3.last_month, AS_OF), BOARD_BREAKDOWNS), catalogue)
        yield pack, render_html(pack), render_xlsx(pack), overview
    finally:
        store.close()


# --- reading the HTML back ---------------------------------------------------------------------------------

class PackReader(HTMLParser):
    """Tables by id (rows of cell texts, header first), script bodies, element ids and the visible text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.scripts: list[tuple[dict, str]] = []
        self.ids: set[str] = set()
        self.attributes: list[str] = []
        self.text: list[str] = []
        self._table = None
        self._row = None
        self._cell = None
        self._script = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self.attributes += [v for v in attrs.values() if v]
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", f"table-{len(self.tables)}"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "script":
            self._script = (attrs, [])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "script" and self._script is not None:
            self.scripts.append((self._script[0], "".join(self._script[1])))
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script[1].append(data)
            return
        if self._cell is not None:
            self._cell.append(data)
        self.text.append(data)


def read_html(text: str) -> PackReader:
    reader = PackReader()
    reader.feed(text)
    return reader


def table_frame(reader: PackReader, table_id: str) -> pd.DataFrame:
    rows = reader.tables[table_id]
    return pd.DataFrame(rows[1:], columns=rows[0])


def _decode(value):
    """Plotly's typed arrays ({'dtype', 'bdata'[, 'shape']}) as numbers; anything else unchanged."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return array.tolist()
    return value


def chart_traces(html_text: str) -> list[dict]:
    """Every trace of every chart, with typed arrays decoded."""
    decoder = json.JSONDecoder()
    traces = []
    for match in re.finditer(r"Plotly\.newPlot\(\s*", html_text):
        position = match.end()
        _, position = decoder.raw_decode(html_text, position)  # the div id
        position = html_text.index(",", position) + 1
        while html_text[position].isspace():
            position += 1
        data, _ = decoder.raw_decode(html_text, position)
        for trace in data:
            traces.append({k: _decode(v) for k, v in trace.items()})
    return traces


def number(cell: str) -> int | None:
    text = cell.replace(",", "")
    return int(text) if re.fullmatch(r"-?\d+", text) else None


# --- what the pack covers and states -----------------------------------------------------------------------

def test_the_pack_covers_the_12_rights_and_states_period_filters_as_of_and_suppression(built):
    pack, html_text, _, _ = built
    reader = read_html(html_text)
    assert {f"right-{n}" for n in range(1, 13)} <= reader.ids
    rights = table_frame(reader, "t-rights")
    assert [r.split(".")[0] for r in rights["Right"]] == [str(n) for n in range(1, 13)]
    text = " ".join(reader.text)
    assert "board pack for 2025Q3 (Jul to Sep 2025)" in text
    assert "from 01 Jul 2025 to 30 Sep 2025" in text
    assert "Filters none: the whole force" in " ".join(text.split())
    assert "03 October 2025: only what had happened by then is counted" in text
    assert "05 October 2025 09:30 UTC" in text
    assert "Synthetic demonstration data" in text
    assert "Disclosure control (threshold 10): counts from 1 to 9 are hidden" in text
    assert f"{pack.suppression.cells_hidden} counts are hidden in this pack's tables and charts" in text
    assert pack.suppression.cells_hidden > 0
    # Right 10 says why nothing is measured.
    assert "Nothing under this right is measured from police records" in text
    for section in ("exceptions", "rights", "each-right", "entitlements", "referrals", "victim-voice", "panels"):
        assert section in reader.ids


def test_headline_figures_equal_the_metrics(built):
    _, html_text, _, overview = built
    rights = table_frame(read_html(html_text), "t-rights").set_index("Right")
    shown = 0
    for number_, row in overview.rights.iterrows():
        cells = rights.loc[[r for r in rights.index if r.startswith(f"{number_}.")][0]]
        for column, field in (("Delivered", "delivered"), ("Eligible", "eligible")):
            if number(cells[column]) is not None:
                assert number(cells[column]) == row[field], (number_, column)
                shown += 1
        if cells["Delivered %"] not in (SUPPRESSED, "–"):
            assert cells["Delivered %"] == f"{row['delivered_rate'] * 100:.1f}"
            assert cells["95% CI"] == f"{row['delivered_rate_lower']:.1%} to {row['delivered_rate_upper']:.1%}"
            shown += 1
    assert shown >= 6  # at least Rights 3 and 6 are shown in full
    # The hand-worked figures (module docstring), so the comparison above is not with itself only.
    assert rights.loc["3. Information when reporting", ["Delivered", "Eligible", "Delivered %", "95% CI"]].tolist() == \
        ["30", "50", "60.0", "46.2% to 72.4%"]
    six = rights.loc["6. Information about the investigation"]
    assert six[["Delivered", "Eligible", "Delivered %", "On time", "With a timescale", "On time %"]].tolist() == \
        ["25", "25", "100.0", "25", "25", "100.0"]


# --- nothing suppressed gets out ---------------------------------------------------------------------------

def _check_counts(frame: pd.DataFrame, where: str) -> int:
    """No count column holds 1 to 9; returns how many [c] cells there are."""
    hidden = 0
    for column in frame.columns:
        if column not in COUNT_COLUMNS:
            continue
        for cell in frame[column].astype(str):
            value = number(cell)
            assert value is None or not 1 <= value <= 9, f"{where}: {column} shows {value}"
            hidden += cell == SUPPRESSED
    return hidden


def _check_complement(frame: pd.DataFrame, part: str, whole: str, where: str) -> None:
    for a, b in zip(frame[part].astype(str), frame[whole].astype(str)):
        if number(a) is not None and number(b) is not None:
            assert not 1 <= number(b) - number(a) <= 9, f"{where}: {whole} - {part} = {number(b) - number(a)}"


def test_no_small_count_or_complement_appears_in_any_table(built):
    _, html_text, _, _ = built
    reader = read_html(html_text)
    hidden = 0
    for table_id in reader.tables:
        hidden += _check_counts(table_frame(reader, table_id), table_id)
    assert hidden > 0
    for table_id in ("t-rights", "t-entitlements"):
        frame = table_frame(reader, table_id)
        _check_complement(frame, "Delivered", "Eligible", table_id)
        _check_complement(frame, "On time", "With a timescale", table_id)
    _check_complement(table_frame(reader, "t-referrals"), "Count", "Of", "t-referrals")
    _check_complement(table_frame(reader, "t-surveys"), "Count", "Answered", "t-surveys")


def test_hidden_counts_cannot_be_worked_out_from_a_total(built):
    _, html_text, _, _ = built
    reader = read_html(html_text)
    rights = table_frame(reader, "t-rights")
    entitlements = table_frame(reader, "t-entitlements")
    for number_ in range(1, 13):
        own = entitlements[entitlements["Right"] == str(number_)]
        total = rights[rights["Right"].str.startswith(f"{number_}.")].iloc[0]
        for column in ("Delivered", "Eligible"):
            hidden = (own[column] == SUPPRESSED).sum()
            if number(total[column]) is not None:
                assert hidden != 1, f"Right {number_}: one hidden {column} and the right's total shown"
    # B's delivered is hidden (3 not delivered); A's and Right 4's cannot both be shown, or B = 93 - 60.
    b = entitlements[entitlements["Code"] == "r4_referral_to_support_service"].iloc[0]
    a = entitlements[entitlements["Code"] == "r4_needs_assessment"].iloc[0]
    four = rights[rights["Right"].str.startswith("4.")].iloc[0]
    assert b["Delivered"] == SUPPRESSED and b["Delivered %"] == SUPPRESSED
    assert SUPPRESSED in (a["Delivered"], four["Delivered"])
    # Right 7 is 5 of 7: both hidden.
    seven = rights[rights["Right"].str.startswith("7.")].iloc[0]
    assert (seven["Delivered"], seven["Eligible"], seven["Delivered %"]) == (SUPPRESSED,) * 3


def test_a_hidden_quarter_total_cannot_be_worked_out_from_its_months(store_path):
    # 2025Q2: April to June have all settled by 3 Oct, so all three are charted, and Right 4's quarter total
    # (A only: 23 + 37 + 20 = 80 of 120) is their sum. May (37 of 40) is hidden: so either the total is hidden
    # as well as another month, or another month is hidden, or May could be worked out as total - Apr - Jun.
    store = open_store(store_path)
    try:
        pack = build_board_pack(store, default_catalogue(), parse_quarter("2025Q2"), now=NOW)
    finally:
        store.close()
    reader = read_html(render_html(pack))
    months = table_frame(reader, "t-chart-4").set_index("Month")
    quarter = months.loc[["Apr 2025", "May 2025", "Jun 2025"], "n of N"]
    assert quarter["May 2025"] == SUPPRESSED
    four = table_frame(reader, "t-rights").iloc[3]
    for position, column in ((0, "Delivered"), (1, "Eligible")):
        shown = [number(cell.split(" of ")[position]) for cell in quarter if cell != SUPPRESSED]
        if number(four[column]) is not None:
            assert len(shown) <= 1, f"Right 4's {column} total and two of its three months are shown"


def test_no_suppressed_value_is_in_the_charts_alt_text_or_anywhere_else(built):
    _, html_text, _, _ = built
    reader = read_html(html_text)
    everything = " ".join(reader.text) + " " + " ".join(reader.attributes)
    # The hidden figures, written every way the pack writes figures.
    for leak in ("37 of 40", "92.5", "33 of 36", "91.7", "5 of 7", "71.4"):
        assert leak not in everything, leak
    months_seen = 0
    for trace in chart_traces(html_text):
        for point in trace.get("customdata") or []:
            n, d = int(point[0]), int(point[1])
            if d:
                months_seen += 1
                assert not 1 <= n <= 9 and not 1 <= d <= 9 and not 1 <= d - n <= 9, trace.get("name")
        for y in trace.get("y") or []:
            assert y is None or np.isnan(y) or abs(y - 0.925) > 1e-9  # Right 4's May, 37 of 40
    assert months_seen >= 7  # Right 4's Jan to Apr and Jun to Aug at least are plotted
    right_4 = " ".join(reader.text).split("Right 4: To be referred")[1].split("Right 5:")[0]
    assert "Hidden (small numbers), so not plotted and not in the limits: May 2025" in right_4


def test_plotly_is_embedded_once_and_nothing_is_fetched(built):
    _, html_text, _, _ = built
    reader = read_html(html_text)
    assert html_text.count("* plotly.js v") == 1
    assert not any("src" in attrs for attrs, _ in reader.scripts)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=\s*[\"']?https?:", html_text, re.IGNORECASE)
    assert len(chart_traces(html_text)) > 0
    assert "@page { size: A4" in html_text
    assert "thead { display: table-header-group; }" in html_text
    assert "break-before: page" in html_text and "break-inside: avoid" in html_text


def test_free_text_is_escaped_everywhere(built):
    _, html_text, _, _ = built
    for raw in ("<script>alert('panel')", ACTION_OWNER, "<b>back</b>"):
        assert raw not in html_text
    reader = read_html(html_text)
    actions = table_frame(reader, "t-actions")
    first = actions.iloc[0]
    assert (first["Action"], first["Owner"], first["Overdue"]) == (ACTION_TITLE, ACTION_OWNER, "Overdue by 32 days")
    assert "Victims said **nobody** called <b>back</b>" in first["Arising from"]  # shown as typed, never rendered


# --- the workbook ------------------------------------------------------------------------------------------

def test_the_workbook_has_the_same_tables_a_readme_and_neutralised_cells(built):
    pack, html_text, workbook, _ = built
    sheets = pd.read_excel(io.BytesIO(workbook), sheet_name=None, dtype=object)
    assert list(sheets) == ["README", *[t.sheet for t in pack.tables.values()]]
    readme = dict(zip(sheets["README"]["Item"], sheets["README"]["Value"]))
    assert readme["Quarter"] == "2025Q3 (Jul to Sep 2025)"
    assert readme["Data as of"] == "2025-10-03"
    assert readme["Filters"] == "none: the whole force"
    assert readme["Synthetic data"].startswith("yes")
    assert readme["Suppression"].startswith("Disclosure control (threshold 10)")
    reader = read_html(html_text)
    for table_id, sheet in (("t-rights", "Rights"), ("t-entitlements", "Entitlements"), ("t-referrals", "Referrals")):
        in_html = table_frame(reader, table_id)
        in_xlsx = sheets[sheet]
        assert list(in_xlsx.columns) == list(in_html.columns)
        for column in ("Delivered", "Eligible", "Count"):
            if column in in_html:
                as_html = [number(c) if number(c) is not None else c for c in in_html[column]]
                as_xlsx = [SUPPRESSED if c == SUPPRESSED else None if pd.isna(c) else int(c) for c in in_xlsx[column]]
                assert [None if c == "–" else c for c in as_html] == as_xlsx, (sheet, column)
    for name, frame in sheets.items():
        _check_counts(frame.fillna("").astype(str).replace(r"\.0$", "", regex=True), name)
    monthly = sheets["Monthly"]
    may = monthly[(monthly["Right"] == "4. Referral to support services") & (monthly["Month"] == "May 2025")].iloc[0]
    assert (may["Delivered"], may["Rate %"], may["Point"]) == (SUPPRESSED, SUPPRESSED, "hidden (small numbers)")
    assert sheets["Actions"]["Action"].iloc[0] == "'" + ACTION_TITLE
    book = openpyxl.load_workbook(io.BytesIO(workbook))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"


# --- filters -----------------------------------------------------------------------------------------------

def test_a_filtered_pack_that_would_reveal_a_few_people_is_refused(store_path):
    store = open_store(store_path)
    try:
        # Basildon holds every instance but E's 3 in Colchester: set beside the whole force, it reveals them.
        with pytest.raises(BoardPackError, match="differs from a wider view"):
            build_board_pack(store, default_catalogue(), Q3, selections={"district": ("Basildon",)})
        with pytest.raises(BoardPackError, match="counts 1 to 9 people"):
            build_board_pack(store, default_catalogue(), Q3, selections={"district": ("Colchester",)})
        with pytest.raises(ReturnError, match="outside the store's data"):
            build_board_pack(store, default_catalogue(), parse_quarter("2024Q1"))
    finally:
        store.close()


# --- the command line --------------------------------------------------------------------------------------

def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_command_line_writes_both_files_from_a_demo_store(tmp_path):
    db = tmp_path / "demo.duckdb"
    made = _run("-m", "data_access", "demo", "--db", str(db), "--cases", "3000", "--months", "6")
    assert made.returncode == 0, made.stderr
    store = open_store(db)
    meta = store.meta
    store.close()
    quarter = latest_complete_quarter(quarters_covering(meta.first_month, meta.last_month), meta.data_as_of)
    out = tmp_path / "packs"
    out.mkdir()
    done = _run("-m", "metrics", "boardpack", "--db", str(db), "--quarter", str(quarter), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"board-pack-{quarter}.html", f"board-pack-{quarter}.xlsx"]
    reader = read_html((out / f"board-pack-{quarter}.html").read_text(encoding="utf-8"))
    assert len(table_frame(reader, "t-rights")) == 12
    assert "Synthetic demonstration data" in " ".join(reader.text)
    assert "README" in pd.read_excel(out / f"board-pack-{quarter}.xlsx", sheet_name=None)
    assert f"the board pack for {quarter.describe()}" in done.stdout

    bad = _run("-m", "metrics", "boardpack", "--db", str(db), "--quarter", "2025Q5", "--out", str(out))
    assert bad.returncode == 2 and "'2025Q5' is not a quarter" in bad.stderr and "Traceback" not in bad.stderr
    outside = _run("-m", "metrics", "boardpack", "--db", str(db), "--quarter", "1999Q1", "--out", str(out))
    assert outside.returncode == 2 and "outside the store's data" in outside.stderr
    missing = _run("-m", "metrics", "boardpack", "--db", str(tmp_path / "none.duckdb"), "--quarter", str(quarter),
                   "--out", str(out))
    assert missing.returncode == 2 and "No store at" in missing.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"board-pack-{quarter}.html", f"board-pack-{quarter}.xlsx"]


def test_a_failed_write_leaves_the_previous_files_as_they_were(store_path, tmp_path, monkeypatch, capsys):
    html_path, xlsx_path = tmp_path / pack_file_name(Q3, "html"), tmp_path / pack_file_name(Q3, "xlsx")
    html_path.write_text("previous pack")
    xlsx_path.write_bytes(b"previous workbook")

    def disk_full(pack):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ui.boardpack.render_xlsx", disk_full)
    code = metrics_cli.main(["boardpack", "--db", str(store_path), "--quarter", "2025Q3", "--out", str(tmp_path)])
    assert code == 2
    assert "No space left on device. Nothing was changed." in capsys.readouterr().err
    assert html_path.read_text() == "previous pack" and xlsx_path.read_bytes() == b"previous workbook"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([html_path.name, xlsx_path.name])


# --- the Board overview's button ---------------------------------------------------------------------------

@pytest.mark.app
def test_the_board_overview_builds_the_pack_and_offers_both_downloads(store_path, monkeypatch):
    monkeypatch.setenv("VCD_STORE", str(store_path))
    served = record_downloads(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("pages/board_overview.py").run()
    assert not at.exception
    button = at.button(key="boardpack_prepare")
    assert button.label == "Prepare the board pack for 2025Q3"
    button.click().run()
    assert not at.exception
    page, html_name = served["Save the board pack (HTML)"]
    workbook, xlsx_name = served["Save its tables (XLSX)"]
    assert (html_name, xlsx_name) == ("board-pack-2025Q3.html", "board-pack-2025Q3.xlsx")
    assert len(table_frame(read_html(page), "t-rights")) == 12
    assert "README" in pd.read_excel(io.BytesIO(workbook), sheet_name=None)
    assert "Small counts are always hidden" in " ".join(c.value for c in at.caption)
