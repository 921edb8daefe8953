"""The quarterly compliance return: quarters, hand-worked rows from a tiny store, the CSV, the CLI and the
Board overview download.

Quarter 2025Q3 = Tue 1 Jul to Tue 30 Sep 2025; the store's data date is Fri 3 Oct 2025. Dates used:
Mon 30 Jun | Tue 1 Jul, Wed 2, Thu 3, Fri 4, Mon 7, Wed 9, Thu 10 | Fri 22 Aug, Mon 25 Aug (Late Summer Bank
Holiday), Tue 26, Wed 27 | Mon 1 Sep, Wed 10, Thu 11, Fri 12, Mon 15, Tue 16, Wed 17, Thu 18, Mon 29, Tue 30 |
Wed 1 Oct, Thu 2, Fri 3, Mon 6, Tue 7.
Timescales (catalogue.yaml): r4_referral_to_support_service 2 working days for everyone; r6_suspect_arrested
5 (standard) / 1 (enhanced); r4_needs_assessment and r7_vps_offered have none.
V1 is a standard victim, V2 an enhanced one (vulnerable).
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import metrics.__main__ as metrics_cli
from data_access.store import build_store
from helpers import case, ent, record_downloads, run_counts, tables, victim
from metrics.catalogue import default_catalogue
from metrics.quarterly_return import (RETURN_COLUMNS, Quarter, ReturnError, check_request, compliance_return,
                                      latest_complete_quarter, parse_quarter, quarters_covering, return_csv,
                                      return_filters)

REFERRAL = "r4_referral_to_support_service"
ARRESTED = "r6_suspect_arrested"
NEEDS = "r4_needs_assessment"
VPS = "r7_vps_offered"
Q3 = Quarter(2025, 3)
DATA_AS_OF = date(2025, 10, 3)
ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")

ROWS = tables(
    cases=[case("C1", reported_at="2025-06-30"), case("C2", reported_at="2025-06-30")],
    victims=[victim("V1", "C1"), victim("V2", "C2", enhanced_category="vulnerable")],
    entitlements=[
        # referral, 2 working days
        ent("E1", REFERRAL, "2025-07-01", "2025-07-02", "delivered"),  # due Thu 3 Jul: on time
        ent("E2", REFERRAL, "2025-07-07", "2025-07-10", "delivered"),  # due Wed 9 Jul: late
        ent("E3", REFERRAL, "2025-08-22", "2025-08-26", "declined", victim_id="V2"),  # due Wed 27 (25 Aug is a
        #                                                                                bank holiday): on time
        ent("E4", REFERRAL, "2025-09-15", None, "not_delivered"),  # due Wed 17 Sep: missed
        ent("E5", REFERRAL, "2025-06-30", "2025-07-01", "delivered"),  # triggered in Q2: not in the return
        ent("E6", REFERRAL, "2025-10-01", None, None),  # triggered in Q4: not in the return
        ent("E7", REFERRAL, "2025-09-30", "2025-10-06", "delivered", victim_id="V2"),  # due Thu 2 Oct; delivered
        #                                           after the data date, so as of 3 Oct not delivered, and past due
        # suspect arrested, 5 working days (standard) or 1 (enhanced)
        ent("A1", ARRESTED, "2025-07-03", "2025-07-04", "delivered", victim_id="V2"),  # due Fri 4 Jul: on time
        ent("A2", ARRESTED, "2025-09-30", None, None),  # due Tue 7 Oct, after 3 Oct: not yet due
        ent("A3", ARRESTED, "2025-09-01", None, "not_applicable", exception_reason="Victim asked not to be told"),
        ent("A4", ARRESTED, "2025-09-29", None, None, victim_id="V2"),  # due Tue 30 Sep: missed
        ent("A5", ARRESTED, "2025-09-10", "2025-09-18", "delivered"),  # due Wed 17 Sep: late
        # needs assessment, no timescale: never "not yet due"
        ent("N1", NEEDS, "2025-07-01", "2025-09-01", "delivered"),
        ent("N2", NEEDS, "2025-09-30", None, None, victim_id="V2"),  # nothing by 3 Oct: not delivered
        ent("N3", NEEDS, "2025-07-04", "2025-07-04", "declined"),
        # VPS offered, no timescale: only a not-applicable instance
        ent("P1", VPS, "2025-07-14", None, "not_applicable", exception_reason="Victim declined to engage"),
    ])
# Store months: triggers run from Mon 30 Jun to Wed 1 Oct 2025, so Jun 2025 to Oct 2025.


def expected_row(eligible, delivered, on_time, not_yet_due, not_applicable, delivered_rate, on_time_rate) -> dict:
    return {"eligible": eligible, "delivered": delivered, "on_time": on_time, "not_yet_due": not_yet_due,
            "not_applicable": not_applicable, "delivered_rate": delivered_rate, "on_time_rate": on_time_rate}


def row_of(frame: pd.DataFrame, code: str) -> dict:
    row = frame[frame["entitlement"] == code].iloc[0]
    return {k: (None if pd.isna(row[k]) else row[k]) for k in list(RETURN_COLUMNS)[3:]}


@pytest.fixture
def q3_store(make_store):
    return make_store(ROWS, as_of=DATA_AS_OF)


@pytest.fixture
def store_path(tmp_path) -> Path:
    return build_store(tmp_path / "fixture.duckdb", ROWS, data_as_of=DATA_AS_OF, is_demo=True,
                       source="hand-written test fixture")


# --- quarters ------------------------------------------------------------------------------------------

def test_a_quarter_string_gives_its_first_and_last_months():
    q = parse_quarter("2025Q3")
    assert (q.first_month, q.last_month, q.last_day) == (date(2025, 7, 1), date(2025, 9, 1), date(2025, 9, 30))
    assert parse_quarter("2026Q1").first_month == date(2026, 1, 1)
    assert parse_quarter("2024Q4").last_day == date(2024, 12, 31)
    assert str(q) == "2025Q3" and q.describe() == "2025Q3 (Jul to Sep 2025)"


@pytest.mark.parametrize("text", ["2025Q5", "2025Q0", "25Q1", "2025-Q3", "2025 Q3", "Q3 2025", "2025Q3x", ""])
def test_a_bad_quarter_is_refused_naming_it_and_the_form_wanted(text):
    with pytest.raises(ReturnError) as refused:
        parse_quarter(text)
    assert repr(text) in str(refused.value) and "for example 2025Q3" in str(refused.value)


def test_quarters_covering_and_the_latest_complete_one():
    quarters = quarters_covering(date(2024, 11, 1), date(2025, 7, 1))
    assert [str(q) for q in quarters] == ["2024Q4", "2025Q1", "2025Q2", "2025Q3"]
    assert latest_complete_quarter(quarters, date(2025, 7, 20)) == Quarter(2025, 2)  # Q3 runs to 30 Sep
    assert latest_complete_quarter(quarters, date(2025, 9, 30)) == Quarter(2025, 3)  # ended that day
    assert latest_complete_quarter(quarters[3:], date(2025, 7, 20)) == Quarter(2025, 3)  # none ended: the only one


def test_a_request_the_store_cannot_answer_is_refused_and_an_early_as_of_is_noted():
    held = {"first_month": date(2025, 6, 1), "last_month": date(2025, 10, 1), "data_as_of": DATA_AS_OF}
    with pytest.raises(ReturnError, match="the store holds data from Jun 2025 to Oct 2025"):
        check_request(Quarter(2025, 1), DATA_AS_OF, **held)
    with pytest.raises(ReturnError, match="before 2025Q3 begins"):
        check_request(Q3, date(2025, 6, 30), **held)
    with pytest.raises(ReturnError, match="after the store's data date 2025-10-03"):
        check_request(Q3, date(2025, 10, 4), **held)
    assert check_request(Q3, DATA_AS_OF, **held) == []
    [early] = check_request(Q3, date(2025, 9, 16), **held)
    assert "before 2025Q3 ends on 2025-09-30" in early and "may still be due" in early
    [partial] = check_request(Quarter(2025, 2), DATA_AS_OF, **held)  # the store starts in its last month
    assert "covers only part of 2025Q2" in partial


# --- the rows, hand-worked --------------------------------------------------------------------------------

def test_the_return_rows_match_the_hand_worked_figures(q3_store):
    catalogue = default_catalogue()
    frame = compliance_return(run_counts(q3_store, return_filters(Q3, DATA_AS_OF)), catalogue)
    assert list(frame.columns) == list(RETURN_COLUMNS)
    assert list(frame["entitlement"]) == [e.code for e in catalogue.entitlements] and len(frame) == 45
    # Referral: E5 (Q2) and E6 (Q4) are out. Eligible E1 E2 E3 E4 E7 = 5; delivered E1 E2 E3 (declined) = 3;
    # on time E1 E3 = 2; 3/5 = 0.6, 2/5 = 0.4.
    assert row_of(frame, REFERRAL) == expected_row(5, 3, 2, 0, 0, 0.6, 0.4)
    # Arrested: A2 not yet due, A3 not applicable; eligible A1 A4 A5 = 3; delivered A1 A5 = 2; on time A1 = 1;
    # 2/3 = 0.66666.. -> 0.6667, 1/3 -> 0.3333.
    assert row_of(frame, ARRESTED) == expected_row(3, 2, 1, 1, 1, 0.6667, 0.3333)
    # Needs assessment, no timescale: eligible N1 N2 N3 = 3 (N2 is never "not yet due"), delivered N1 N3 = 2;
    # on time and its rate empty.
    assert row_of(frame, NEEDS) == expected_row(3, 2, None, 0, 0, 0.6667, None)
    # VPS offered: only P1, not applicable; eligible 0, so the delivered rate is empty.
    assert row_of(frame, VPS) == expected_row(0, 0, None, 0, 1, None, None)
    # Measured, with a timescale, nothing triggered: counts 0, rates empty.
    assert row_of(frame, "r6_charge_decision") == expected_row(0, 0, 0, 0, 0, None, None)
    # Not measured from records (one with a timescale in the Code, one without): every figure empty.
    for code in ("r6_first_hearing_and_bail_conditions", "r1_accessible_communication"):
        assert row_of(frame, code) == expected_row(None, None, None, None, None, None, None)
    assert frame.loc[frame["entitlement"] == REFERRAL, ["right_no", "label"]].values.tolist() == [
        [4, "Referral to a support service"]]


def test_an_as_of_date_inside_the_quarter_decides_what_is_not_yet_due(q3_store):
    frame = compliance_return(run_counts(q3_store, return_filters(Q3, date(2025, 9, 16))), default_catalogue())
    # As of Tue 16 Sep: nothing triggered after it counts (E7, A2, A4, N2 out).
    # Referral: E4 (due Wed 17) is not yet due; eligible E1 E2 E3 = 3, delivered 3, on time E1 E3 = 2 -> 0.6667.
    assert row_of(frame, REFERRAL) == expected_row(3, 3, 2, 1, 0, 1.0, 0.6667)
    # Arrested: A5 delivered Thu 18, after the as-of date, and due Wed 17: not yet due; A3 not applicable;
    # eligible A1 = 1, delivered and on time.
    assert row_of(frame, ARRESTED) == expected_row(1, 1, 1, 1, 1, 1.0, 1.0)
    # Needs: N1 (delivered 1 Sep) and N3, both delivered.
    assert row_of(frame, NEEDS) == expected_row(2, 2, None, 0, 0, 1.0, None)


def _counts(code: str, **values) -> dict:
    return {"entitlement": code, "breakdown": "total", "level": "all", "eligible": 0, "delivered": 0,
            "delivered_on_time": 0, "eligible_timed": 0, "not_yet_due": 0, "not_applicable": 0, **values}


def test_rates_are_rounded_half_up_exactly_from_the_counts():
    counts = pd.DataFrame([
        # 1/32 = 0.03125 exactly: half up gives 0.0313 (a float formatted with .4f would give 0.0312)
        _counts(REFERRAL, eligible=32, delivered=1, delivered_on_time=1, eligible_timed=32),
        # 2/3 = 0.666.. -> 0.6667; on time 1/3 -> 0.3333
        _counts(ARRESTED, eligible=3, delivered=2, delivered_on_time=1, eligible_timed=3),
    ])
    frame = compliance_return(counts, default_catalogue())
    assert row_of(frame, REFERRAL)["delivered_rate"] == 0.0313
    assert (row_of(frame, ARRESTED)["delivered_rate"], row_of(frame, ARRESTED)["on_time_rate"]) == (0.6667, 0.3333)


def test_the_on_time_rate_is_over_eligible_instances_with_a_timescale():
    # A made-up mix where only some eligible instances had a timescale: 3 on time of 4 timed -> 0.75, not 3/10.
    frame = compliance_return(pd.DataFrame([_counts(ARRESTED, eligible=10, delivered=8, delivered_on_time=3,
                                                    eligible_timed=4)]), default_catalogue())
    assert row_of(frame, ARRESTED)["on_time_rate"] == 0.75 and row_of(frame, ARRESTED)["delivered_rate"] == 0.8


# --- the CSV -------------------------------------------------------------------------------------------

def test_the_csv_has_the_fixed_header_4_place_rates_and_empty_cells(q3_store):
    frame = compliance_return(run_counts(q3_store, return_filters(Q3, DATA_AS_OF)), default_catalogue())
    rows = list(csv.reader(io.StringIO(return_csv(frame))))
    assert rows[0] == list(RETURN_COLUMNS) and len(rows) == 46
    by_code = {r[1]: r for r in rows[1:]}
    assert by_code[REFERRAL] == ["4", REFERRAL, "Referral to a support service", "5", "3", "2", "0", "0",
                                 "0.6000", "0.4000"]
    assert by_code[NEEDS] == ["4", NEEDS, "Needs assessment", "3", "2", "", "0", "0", "0.6667", ""]
    assert by_code["r1_accessible_communication"][3:] == [""] * 7


def test_text_a_spreadsheet_would_run_as_a_formula_is_neutralised():
    frame = compliance_return(pd.DataFrame([_counts(REFERRAL)]), default_catalogue())
    frame.loc[0, "label"] = "=HYPERLINK(\"http://x\")"
    frame.loc[1, "label"] = "@SUM(A1)"
    frame.loc[2, "label"] = "-2+3"
    rows = list(csv.reader(io.StringIO(return_csv(frame))))
    assert [r[2] for r in rows[1:4]] == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'-2+3"]
    assert rows[4][2] == frame.loc[3, "label"]  # ordinary labels untouched


# --- the command line ---------------------------------------------------------------------------------

def _read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_the_cli_writes_the_return_end_to_end(store_path, tmp_path):
    out = tmp_path / "return.csv"
    done = subprocess.run([sys.executable, "-m", "metrics", "return", "--db", str(store_path), "--quarter", "2025Q3",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "2025Q3 (Jul to Sep 2025), as of 2025-10-03, 45 entitlements" in done.stdout  # default: data_as_of
    rows = _read_csv(out)
    assert rows[0] == list(RETURN_COLUMNS) and len(rows) == 46
    rate = re.compile(r"\d\.\d{4}")
    for r in rows[1:]:
        assert all(cell == "" or rate.fullmatch(cell) for cell in r[8:]), r
    by_code = {r[1]: r for r in rows[1:]}
    assert by_code[ARRESTED][3:] == ["3", "2", "1", "1", "1", "0.6667", "0.3333"]
    assert by_code[VPS][3:] == ["0", "0", "", "0", "1", "", ""]
    assert list(tmp_path.glob(".return.csv.*")) == []  # no temporary file left


def test_the_cli_as_of_date_changes_not_yet_due_and_an_early_one_is_noted(store_path, tmp_path, capsys):
    out = tmp_path / "early.csv"
    assert metrics_cli.main(["return", "--db", str(store_path), "--quarter", "2025Q3", "--as-of", "2025-09-16",
                             "--out", str(out)]) == 0
    assert "note: As of 2025-09-16, before 2025Q3 ends on 2025-09-30" in capsys.readouterr().err
    by_code = {r[1]: r for r in _read_csv(out)[1:]}
    assert by_code[REFERRAL][3:] == ["3", "3", "2", "1", "0", "1.0000", "0.6667"]  # worked in the test above


@pytest.mark.parametrize(("args", "message"), [
    (["--quarter", "2025Q5"], "'2025Q5' is not a quarter"),
    (["--quarter", "25Q1"], "'25Q1' is not a quarter"),
    (["--quarter", "2025Q1"], "2025Q1 (Jan to Mar 2025) is outside the store's data: the store holds data from "
                              "Jun 2025 to Oct 2025"),
    (["--quarter", "2025Q3", "--as-of", "3 Oct 2025"], "--as-of '3 Oct 2025' is not a date"),
    (["--quarter", "2025Q3", "--as-of", "2025-10-04"], "after the store's data date 2025-10-03"),
])
def test_the_cli_refuses_bad_requests_with_exit_code_2_and_writes_nothing(store_path, tmp_path, capsys, args,
                                                                        message):
    out = tmp_path / "return.csv"
    out.write_text("the previous return", encoding="utf-8")
    assert metrics_cli.main(["return", "--db", str(store_path), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert out.read_text(encoding="utf-8") == "the previous return"


def test_the_cli_refuses_a_missing_store(tmp_path, capsys):
    missing = tmp_path / "nowhere.duckdb"
    assert metrics_cli.main(["return", "--db", str(missing), "--quarter", "2025Q3", "--out",
                             str(tmp_path / "r.csv")]) == 2
    assert f"No store at {missing}: the file does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists() and not missing.exists()


def test_a_write_that_fails_leaves_the_previous_file_and_no_temporary_one(store_path, tmp_path, capsys, monkeypatch):
    out = tmp_path / "return.csv"
    out.write_text("the previous return", encoding="utf-8")

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    assert metrics_cli.main(["return", "--db", str(store_path), "--quarter", "2025Q3", "--out", str(out)]) == 2
    assert "could not write" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "the previous return"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".return")] == []


def test_the_cli_refuses_an_output_folder_that_does_not_exist(store_path, tmp_path, capsys):
    out = tmp_path / "no-such-folder" / "return.csv"
    assert metrics_cli.main(["return", "--db", str(store_path), "--quarter", "2025Q3", "--out", str(out)]) == 2
    assert f"the folder {out.parent} does not exist" in capsys.readouterr().err


# --- the Board overview download --------------------------------------------------------------------------

@pytest.mark.app
def test_the_board_overview_offers_the_latest_complete_quarter_for_download(store_path, tmp_path, monkeypatch):
    monkeypatch.setenv("VCD_STORE", str(store_path))
    served = record_downloads(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=120).run()
    # Open the page by its path, as a link does: on the first run of the default page the page's widgets get
    # other ids than on later runs, so the first change of the picker would be lost under AppTest.
    at.switch_page("pages/board_overview.py").run()
    assert not at.exception
    picker = at.selectbox(key="return_quarter")
    # Data as of 3 Oct 2025; the store's months run Jun to Oct 2025: 2025Q4, Q3, Q2 newest first, and Q3 is
    # the latest to have ended.
    assert picker.options == ["2025Q4 (Oct to Dec 2025)", "2025Q3 (Jul to Sep 2025)", "2025Q2 (Apr to Jun 2025)"]
    assert picker.value == "2025Q3"
    assert "for the whole force (the sidebar filters do not apply)" in " ".join(c.value for c in at.caption)
    assert "Save the 2025Q3 return (CSV)" not in served  # offered only once its preparation is recorded
    at.button(key="return_prepare").click().run()
    text, file_name = served["Save the 2025Q3 return (CSV)"]
    assert file_name == "victims-code-return-2025Q3-as-of-2025-10-03.csv"
    # The page serves the same file as the command line.
    out = tmp_path / "cli.csv"
    assert metrics_cli.main(["return", "--db", str(store_path), "--quarter", "2025Q3", "--out", str(out)]) == 0
    assert text == out.read_bytes().decode("utf-8")
    picker.set_value("2025Q4").run()
    at.button(key="return_prepare").click().run()
    assert not at.exception
    assert "Save the 2025Q4 return (CSV)" in served
    assert "may still be due" in " ".join(c.value for c in at.caption)  # Q4 had not ended on 3 Oct


def test_the_boards_return_hides_small_counts_their_complements_and_rates():
    from metrics.disclosure import MARKER, DisclosurePolicy
    from metrics.quarterly_return import suppressed_return

    catalogue = default_catalogue()
    timed = next(e for e in catalogue.measured_entitlements if e.has_timescale)
    untimed = next(e for e in catalogue.measured_entitlements if not e.has_timescale)
    # timed: 40 eligible, 35 delivered (5 not delivered: a small complement), 30 on time (10 not on time: shown;
    # 35 - 30 = 5 delivered late, small, but delivered is hidden already), 12 not yet due, 0 not applicable.  untimed: 200 eligible, 150 delivered, 0 not yet due, 3 not applicable.
    counts = pd.DataFrame([
        dict(entitlement=timed.code, right_no=timed.right_no, breakdown="total", level="all", eligible=40,
             delivered=35, delivered_on_time=30, eligible_timed=40, not_yet_due=12, not_applicable=0),
        dict(entitlement=untimed.code, right_no=untimed.right_no, breakdown="total", level="all", eligible=200,
             delivered=150, delivered_on_time=0, eligible_timed=0, not_yet_due=0, not_applicable=3),
    ])
    frame, note = suppressed_return(counts, catalogue, DisclosurePolicy(10))
    rows = frame.set_index("entitlement")
    # 5 not delivered hides delivered (35) and its rate; on time (30 of 40) stays, with its rate 0.75
    assert rows.loc[timed.code, ["eligible", "delivered", "on_time", "not_yet_due", "not_applicable"]].tolist() == \
        [40, MARKER, 30, 12, 0]
    assert rows.loc[timed.code, "delivered_rate"] == MARKER and rows.loc[timed.code, "on_time_rate"] == 0.75
    # 3 not applicable is small: hidden; the untimed row's other figures are large and shown
    assert rows.loc[untimed.code, ["eligible", "delivered", "not_applicable"]].tolist() == [200, 150, MARKER]
    assert rows.loc[untimed.code, "delivered_rate"] == 0.75
    assert "Counts from 1 to 9 are hidden" in note
    text = return_csv(frame)
    line = next(row for row in text.splitlines() if row.startswith(f"{timed.right_no},{timed.code},"))
    assert line.endswith(",40,[c],30,12,0,[c],0.7500")
