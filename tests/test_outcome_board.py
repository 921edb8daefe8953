"""The board's view of Referral uptake and Victim voice: nothing it can see, in any view it can reach, lets a
hidden count be worked out.

A tiny hand-made store (2025Q3, as of Fri 31 Oct 2025), built so that each page's old per-view protection gave a
small count away (issue 4, item 3):

Referrals (all Victim Support, all reported and offered Tue 1 Jul 2025):
  Basildon  V1-V20:  18 consent, referred Wed 2 Jul (1 working day), contacted, engaged; 2 declined
  Tendring  V21-V35: 15 declined
  -> the funnel: considered 35, offered 35, consent 18, referred 18, within 2 working days 18, contacted 18,
     engaged 18; no complement is small (35 - 18 = 17), so nothing in it needs hiding.
  Referred of considered by district: Basildon 18 of 20 (2 not referred: small, so 18 is hidden), Tendring 0 of
  15. Total 18 of 35. With the total's 18 shown anywhere, Basildon's 18 = 18 - 0 and its 2 = 20 - 18.

Surveys (all "general", no case): 20 received Thu 10 Jul 2025 (18 satisfied overall, scoring 5; 2 not, 1),
  15 received Tue 12 Aug 2025 (all scoring 1). Other questions unanswered.
  -> satisfied overall 18 of 35; by month Jul 18 of 20 (2 not satisfied: small), Aug 0 of 15.

Complaints: 18 about Right 4 received Tue 1 Jul, acknowledged Wed 2 Jul, closed upheld Thu 10 Jul; 2 about Right 4
  received Tue 1 Jul, never acknowledged, open; 15 about Right 6 received Fri 1 Aug, never acknowledged, open.
  -> by right: Right 4 20 (18 acknowledged: 2 not, small), Right 6 15 (0); all 35 (18).
     by outcome: open 17 (0 acknowledged), upheld 18 (18); all 35 (18).
     With Right 4's acknowledged hidden and so the total's, the outcome table still gives the total: 0 + 18.

And a quarter before it, 2025Q2, of small numbers only: 3 victims (V36-V38, Basildon, reported Tue 6 May) offered
Compass, consenting, referred Wed 7 May, contacted Thu 8 May, engaged; 2 general survey responses received Tue
6 May (both scoring 5 on every question, aware of the Code); 4 complaints about Right 4 received Tue 6 May,
acknowledged Wed 7 May, open. Every non-zero count there is 1 to 9.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from helpers import case, complaints_frame, ent, referrals_frame, surveys_frame, tables, victim
from data_access.store import build_store, open_store
from metrics.catalogue import default_catalogue
from metrics.disclosure import DisclosurePolicy
from metrics.outcome_disclosure import (COMPLAINT_COUNTS, COMPLAINT_NESTED, REFERRAL_NESTED, SURVEY_NESTED,
                                        complaint_masks, referral_mask, survey_mask)
from metrics.quarterly_return import parse_quarter
from metrics.referrals import ALL_SERVICES, REFERRAL_COUNT_COLUMNS
from metrics.victim_voice import ALL, SURVEY_COUNT_COLUMNS, SURVEY_MEASURES
from test_disclosure import _recoverable, counts_strategy, threshold_strategy
from ui.boardpack import build_board_pack
from ui.outcome_views import _pack_cell

AS_OF = date(2025, 10, 31)
APP = str(Path(__file__).resolve().parent.parent / "app.py")
MARKER = "[c]"


def leak_tables() -> dict[str, pd.DataFrame]:
    cases = [case(f"C{i}", "Basildon" if i <= 20 else "Tendring", reported_at="2025-07-01") for i in range(1, 36)]
    cases += [case(f"C{i}", "Basildon", reported_at="2025-05-06") for i in range(36, 39)]
    victims = [victim(f"V{i}", f"C{i}") for i in range(1, 39)]
    out = tables(cases=cases, victims=victims, districts=(("Basildon", "South"), ("Tendring", "North")),
                 entitlements=[ent("E0", "r4_referral_to_support_service", "2025-05-06", "2025-05-07", victim_id="V36"),
                               ent("E1", "r4_referral_to_support_service", "2025-07-01", "2025-07-02", victim_id="V1"),
                               ent("E2", "r4_referral_to_support_service", "2025-09-01", "2025-09-02", victim_id="V2")])
    rows = []
    for i in range(1, 36):
        if i <= 18:
            rows.append((f"R{i}", f"V{i}", "victim_support", "2025-07-01", "given", "2025-07-02", "2025-07-03", True))
        else:
            rows.append((f"R{i}", f"V{i}", "victim_support", "2025-07-01", "declined", None, None, None))
    rows += [(f"R{i}", f"V{i}", "compass", "2025-05-06", "given", "2025-05-07", "2025-05-08", True)
             for i in range(36, 39)]
    out["referrals"] = referrals_frame(rows)
    surveys = [(f"S{i}", None, "general", "2025-07-10" if i <= 20 else "2025-08-12", 5 if i <= 18 else 1,
                None, None, None) for i in range(1, 36)]
    surveys += [(f"S{i}", None, "general", "2025-05-06", 5, 5, 5, True) for i in range(36, 38)]
    out["surveys"] = surveys_frame(surveys)
    complaints = ([(f"K{i}", None, "2025-07-01", 4, "2025-07-02", "2025-07-10", "upheld") for i in range(1, 19)]
                  + [(f"K{i}", None, "2025-07-01", 4, None, None, None) for i in range(19, 21)]
                  + [(f"K{i}", None, "2025-08-01", 6, None, None, None) for i in range(21, 36)]
                  + [(f"K{i}", None, "2025-05-06", 4, "2025-05-07", None, None) for i in range(36, 40)])
    out["complaints"] = complaints_frame(complaints)
    return out


@pytest.fixture(scope="module")
def leak_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("board_leak") / "leak.duckdb"
    return build_store(path, leak_tables(), data_as_of=AS_OF, is_demo=True, source="hand-written test fixture")


def run_board(monkeypatch, store_path: Path, page: str) -> AppTest:
    monkeypatch.setenv("VCD_STORE", str(store_path))
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["vcd_demo_role"] = "board"
    at.run()
    at.switch_page(page).run()
    assert not at.exception and not at.error
    return at


def number(text) -> int | None:
    text = str(text).strip().replace(",", "")
    return int(text) if re.fullmatch(r"[0-9]+", text) else None


def n_of_n(text) -> tuple[int | None, int | None]:
    parts = str(text).split(" of ")
    return (number(parts[0]), number(parts[1])) if len(parts) == 2 else (None, None)


def frames(at: AppTest) -> list[pd.DataFrame]:
    return [df.value.astype(str) for df in at.dataframe]


# --- what the board can read, as facts: a sum over the smallest pieces, and whether its value is shown ------------

def referral_facts(at: AppTest) -> list[list[int]]:
    """Pieces: Basildon referred (18), Basildon not referred (2), Tendring referred (0), Tendring not (15)."""
    facts = []
    for frame in frames(at):
        if "Step" in frame.columns and "Count" in frame.columns:  # a funnel: by service, with All services
            for _, row in frame.iterrows():
                if row["Step"] == "Referred" and number(row["Count"]) is not None:
                    facts.append([1, 0, 1, 0])
                if row["Step"] == "Considered for the service" and number(row["Count"]) is not None:
                    facts.append([1, 1, 1, 1])
        label_column = frame.columns[0]
        if "n of N" in frame.columns:
            for _, row in frame.iterrows():
                n, d = n_of_n(row["n of N"])
                if row[label_column] in ("Basildon", "Tendring"):
                    first = 0 if row[label_column] == "Basildon" else 2
                    if n is not None:
                        facts.append([int(i == first) for i in range(4)])
                    if d is not None:
                        facts.append([int(i in (first, first + 1)) for i in range(4)])
    return facts


def survey_facts(at: AppTest) -> list[list[int]]:
    """Pieces: Jul satisfied (18), Jul not (2), Aug satisfied (0), Aug not (15)."""
    facts = []
    for frame in frames(at):
        measure = "Question" if "Question" in frame.columns else "Measure" if "Measure" in frame.columns else None
        if "Survey" in frame.columns and measure:
            for _, row in frame.iterrows():
                if not str(row[measure]).startswith("Satisfied overall"):
                    continue
                if "n of N" in frame.columns:
                    n, d = n_of_n(row["n of N"])
                else:
                    n, d = number(row["Count"]), number(row["Answered"])
                if n is not None:
                    facts.append([1, 0, 1, 0])
                if d is not None:
                    facts.append([1, 1, 1, 1])
        if "Month" in frame.columns and "n of N" in frame.columns:
            for _, row in frame.iterrows():
                n, d = n_of_n(row["n of N"])
                first = {"Jul 2025": 0, "Aug 2025": 2}.get(row["Month"])
                if first is None:
                    continue
                if n is not None:
                    facts.append([int(i == first) for i in range(4)])
                if d is not None:
                    facts.append([int(i in (first, first + 1)) for i in range(4)])
    return facts


def complaint_piece(right: int | None = None, outcome: str | None = None, acknowledged: bool | None = None):
    """The sum of the pieces (Right 4 or 6) x (open or upheld) x (acknowledged or not) that match: the board does
    not see how rights and outcomes cross, so each crossing is a piece of its own."""
    return [int(right in (None, r) and outcome in (None, o) and acknowledged in (None, a))
            for r in (4, 6) for o in ("Open", "Upheld") for a in (True, False)]


def complaint_facts(at: AppTest) -> list[list[int]]:
    rows = {"Right 4": {"right": 4}, "Right 6": {"right": 6}, "All complaints": {}, "Open": {"outcome": "Open"},
            "Upheld": {"outcome": "Upheld"}}
    facts = []
    for frame in frames(at):
        label_column = "Right" if "Right" in frame.columns else "Outcome" if "Outcome" in frame.columns else None
        if label_column is None or "Complaints" not in frame.columns:
            continue
        for _, row in frame.iterrows():
            name = next((k for k in rows if str(row[label_column]).startswith(k)), None)
            if name is None:
                continue
            ack = number(row["Acknowledged"]) if "Acknowledged" in frame.columns else n_of_n(row["n of N"])[0]
            if number(row["Complaints"]) is not None:
                facts.append(complaint_piece(**rows[name]))
            if ack is not None:
                facts.append(complaint_piece(**rows[name], acknowledged=True))
    return facts


# --- the reproducers ------------------------------------------------------------------------------------------------

@pytest.mark.app
def test_the_board_cannot_work_out_the_2_basildon_victims_not_referred(monkeypatch, leak_store):
    at = run_board(monkeypatch, leak_store, "pages/referral_uptake.py")
    facts = referral_facts(at)
    assert facts, "the board sees the referral funnel"
    assert not _recoverable(facts, [0, 1, 0, 0]), "Basildon's 2 not referred = 20 - (18 - 0)"
    assert not _recoverable(facts, [1, 0, 0, 0]), "Basildon's hidden 18 referred"


@pytest.mark.app
def test_the_board_cannot_work_out_the_2_july_responses_not_satisfied(monkeypatch, leak_store):
    at = run_board(monkeypatch, leak_store, "pages/victim_voice.py")
    facts = survey_facts(at)
    assert facts, "the board sees the survey results"
    assert not _recoverable(facts, [0, 1, 0, 0]), "July's 2 not satisfied = 20 - (18 - 0)"


@pytest.mark.app
def test_the_board_cannot_work_out_the_2_right_4_complaints_not_acknowledged(monkeypatch, leak_store):
    at = run_board(monkeypatch, leak_store, "pages/victim_voice.py")
    facts = complaint_facts(at)
    assert facts, "the board sees the complaints"
    assert not _recoverable(facts, complaint_piece(4, acknowledged=False)), "Right 4's 2 = 20 - (0 + 18 - 0)"
    assert not _recoverable(facts, complaint_piece(4, acknowledged=True)), "Right 4's hidden 18 acknowledged"


def test_the_board_packs_complaint_tables_do_not_give_a_hidden_count_back(leak_store):
    # The Board overview shows the same pack: protected apart, by right (Right 4's 18 acknowledged hidden, and so
    # the total's) and by outcome (nothing hidden: 0 and 18 give the total back) left Right 4's 2 open to
    # subtraction. Protected together, Upheld's 18 acknowledged goes too, worked by hand in
    # test_complaints_by_right_and_outcome_are_protected_together.
    store = open_store(leak_store)
    try:
        pack = build_board_pack(store, default_catalogue(), parse_quarter("2025Q3"))
    finally:
        store.close()
    facts = []
    for key, label_column in (("complaints_right", "Right"), ("complaints_outcome", "Outcome")):
        frame = pack.tables[key].frame
        for _, row in frame.iterrows():
            where = {"Right 4": {"right": 4}, "Right 6": {"right": 6}, "All complaints": {},
                     "Open": {"outcome": "Open"}, "Upheld": {"outcome": "Upheld"}}[row[label_column]]
            if row["Complaints"] != MARKER:
                facts.append(complaint_piece(**where))
            if row["Acknowledged"] != MARKER:
                facts.append(complaint_piece(**where, acknowledged=True))
    assert not _recoverable(facts, complaint_piece(4, acknowledged=False))


# --- the board's tables, worked by hand (threshold 10) ------------------------------------------------------------

TEN = DisclosurePolicy(10)


def test_every_step_is_nested_in_every_earlier_one_and_every_answer_in_the_responses():
    # considered > offered > consent > referred > {within, contacted > engaged}: 6 + 5 + 4 + 3 + 1 = 19 pairs
    assert len(REFERRAL_NESTED) == 19
    assert {("referred", "in_scope"), ("engaged", "in_scope"), ("engaged", "referred")} <= set(REFERRAL_NESTED)
    assert ("referred_within", "contacted") not in REFERRAL_NESTED  # neither is part of the other
    # each of 4 questions: satisfied of answered, answered of responses, satisfied of responses
    assert len(SURVEY_NESTED) == 12 and ("overall_good", "responses") in SURVEY_NESTED


def test_one_considered_but_not_consenting_is_not_given_away_by_the_steps_either_side():
    # Victim Support (and so all services): 20 considered, 19 offered, 19 consented, referred, within, contacted,
    # engaged. 20 - 19 = 1 at every step after the first, so each of them is hidden; with only offered hidden (the
    # step before), 20 considered and 19 consenting would still say that 1 was not offered or declined.
    totals = pd.DataFrame([{"service": s, "in_scope": 20, "offered": 19, "consent_given": 19, "referred": 19,
                            "referred_within": 19, "contacted": 19, "engaged": 19}
                           for s in ("victim_support", ALL_SERVICES)])
    mask = referral_mask(totals, TEN)
    assert not mask["in_scope"].any()
    assert mask.drop(columns="in_scope").to_numpy().all()


def test_complaints_by_right_and_outcome_are_protected_together():
    # The leak store's quarter. Right 4: 20, 18 acknowledged (2 not: small) -> its 18 hidden; then all complaints'
    # 18 (= Right 4's 18 + Right 6's 0) goes, being the total rather than a zero; then, by outcome, all's 18 = open
    # 0 + upheld 18, so upheld's 18 (not the zero) goes. Nothing else is pinned down: Right 4's, the total's and
    # upheld's acknowledged are all one unknown x, with 2 <= 20 - x.
    by_right = pd.DataFrame({"right": ["4", "6", ALL], "complaints": [20, 15, 35], "acknowledged": [18, 0, 18]})
    by_outcome = pd.DataFrame({"outcome": ["open", "upheld", ALL], "complaints": [17, 18, 35],
                               "acknowledged": [0, 18, 18]})
    right_mask, outcome_mask = complaint_masks(by_right, by_outcome, TEN)
    assert list(right_mask["acknowledged"]) == [True, False, True] and not right_mask["complaints"].any()
    assert list(outcome_mask["acknowledged"]) == [False, True, True] and not outcome_mask["complaints"].any()


def test_complaint_totals_that_disagree_are_refused():
    by_right = pd.DataFrame({"right": ["4", ALL], "complaints": [20, 20], "acknowledged": [18, 18]})
    by_outcome = pd.DataFrame({"outcome": ["open", ALL], "complaints": [21, 21], "acknowledged": [18, 18]})
    with pytest.raises(ValueError, match="same total"):
        complaint_masks(by_right, by_outcome, TEN)


# --- properties: no shown small count, and nothing hidden (count or small complement) can be worked out ------------
# Each table is built from its smallest pieces, as in tests/test_disclosure.py, and checked by exact fractions.

def _check(counts: dict, vectors: dict, hidden: dict, nested, threshold: int) -> None:
    """counts/vectors/hidden: (row, column) -> value / piece vector / hidden. Every nested pair's complement in
    every row is a count of people too."""
    shown = [vectors[k] for k in counts if not hidden[k]]
    for key, value in counts.items():
        assert hidden[key] or not 1 <= value < threshold, key
    basis_check = []
    for key in counts:
        if hidden[key]:
            basis_check.append((key, vectors[key]))
    rows = {row for row, _ in counts}
    for row in rows:
        for part, whole in nested:
            if 1 <= counts[(row, whole)] - counts[(row, part)] < threshold:
                basis_check.append(((row, whole, "-", part),
                                    [w - p for w, p in zip(vectors[(row, whole)], vectors[(row, part)], strict=True)]))
    for name, query in basis_check:
        assert not _recoverable(shown, query), f"{name} can be worked out"


REFERRAL_PIECES = ("not_offered", "declined", "not_referred", "within_not_contacted", "within_contacted",
                   "within_engaged", "later_not_contacted", "later_contacted", "later_engaged")
REFERRAL_COUNT_PIECES = {
    "in_scope": REFERRAL_PIECES, "offered": REFERRAL_PIECES[1:], "consent_given": REFERRAL_PIECES[2:],
    "referred": REFERRAL_PIECES[3:], "referred_within": REFERRAL_PIECES[3:6],
    "contacted": ("within_contacted", "within_engaged", "later_contacted", "later_engaged"),
    "engaged": ("within_engaged", "later_engaged"),
}


@settings(max_examples=60, deadline=None)
@given(services=st.lists(st.lists(counts_strategy, min_size=9, max_size=9), min_size=1, max_size=3),
       threshold=threshold_strategy)
def test_property_the_referral_funnel_by_service(services, threshold):
    names = [f"s{i}" for i in range(len(services))]
    size = len(REFERRAL_PIECES) * len(services)

    def vector(members, column):
        return [int(i // len(REFERRAL_PIECES) in members and REFERRAL_PIECES[i % len(REFERRAL_PIECES)]
                    in REFERRAL_COUNT_PIECES[column]) for i in range(size)]

    rows, counts, vectors = [], {}, {}
    for members, name in [*(({i}, n) for i, n in enumerate(names)), (set(range(len(services))), ALL_SERVICES)]:
        row = {"service": name}
        for column in REFERRAL_COUNT_COLUMNS:
            row[column] = sum(services[i][REFERRAL_PIECES.index(p)] for i in members
                              for p in REFERRAL_COUNT_PIECES[column])
            counts[(name, column)], vectors[(name, column)] = row[column], vector(members, column)
        rows.append(row)
    mask = referral_mask(pd.DataFrame(rows), DisclosurePolicy(threshold))
    hidden = {(name, c): bool(mask.loc[i, c]) for i, name in enumerate(r["service"] for r in rows)
              for c in REFERRAL_COUNT_COLUMNS}
    _check(counts, vectors, hidden, REFERRAL_NESTED, threshold)


@settings(max_examples=60, deadline=None)
@given(surveys=st.lists(st.tuples(counts_strategy, st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)),
                                                             min_size=4, max_size=4)), min_size=1, max_size=3),
       threshold=threshold_strategy)
def test_property_survey_results_by_survey(surveys, threshold):
    # Per survey, the responses and, for each question, those satisfied and those not (the rest did not answer).
    # A response is one combination of answers, but every count is a sum over one question's answers, so the
    # functions 1, [satisfied on q], [not satisfied on q] (9 per survey) are the pieces that matter.
    questions = list(SURVEY_MEASURES.values())
    width = 1 + 2 * len(questions)
    data = []
    for responses, splits in surveys:
        good = [round(responses * a) for a, _ in splits]
        bad = [round((responses - g) * b) for g, (_, b) in zip(good, splits, strict=True)]
        data.append((responses, good, bad))

    def vector(members, column):
        out = [0] * (width * len(surveys))
        for i in members:
            if column == "responses":
                out[i * width] = 1
            for q, (_, n, d) in enumerate(questions):
                if column in (n, d):
                    out[i * width + 1 + 2 * q] = 1
                if column == d:
                    out[i * width + 2 + 2 * q] = 1
        return out

    rows, counts, vectors = [], {}, {}
    for members, name in [*(({i}, f"s{i}") for i in range(len(surveys))), (set(range(len(surveys))), ALL)]:
        row = {"survey": name, "responses": sum(data[i][0] for i in members)}
        for q, (_, n, d) in enumerate(questions):
            row[n] = sum(data[i][1][q] for i in members)
            row[d] = row[n] + sum(data[i][2][q] for i in members)
        for column in SURVEY_COUNT_COLUMNS:
            counts[(name, column)], vectors[(name, column)] = row[column], vector(members, column)
        rows.append(row)
    mask = survey_mask(pd.DataFrame(rows), DisclosurePolicy(threshold))
    hidden = {(r["survey"], c): bool(mask.loc[i, c]) for i, r in enumerate(rows) for c in SURVEY_COUNT_COLUMNS}
    _check(counts, vectors, hidden, SURVEY_NESTED, threshold)


@settings(max_examples=200, deadline=None)
@given(n_rights=st.integers(1, 3), n_outcomes=st.integers(1, 3), cells=st.lists(counts_strategy, min_size=18,
                                                                                max_size=18),
       threshold=threshold_strategy)
# the leak store's quarter: Right 4 open 0 + 2, upheld 18 + 0; Right 6 open 0 + 15 (acknowledged + not)
@example(n_rights=2, n_outcomes=2, cells=[0, 2, 18, 0, 0, 15, 0, 0, *[0] * 10], threshold=10)
def test_property_complaints_by_right_and_by_outcome(n_rights, n_outcomes, cells, threshold):
    # Pieces: right x outcome x (acknowledged, not); the board never sees how rights and outcomes cross.
    keys = [(r, o, a) for r in range(n_rights) for o in range(n_outcomes) for a in (True, False)]
    value = dict(zip(keys, cells, strict=False))

    def vector(match, acknowledged_only):
        return [int(match(k) and (k[2] or not acknowledged_only)) for k in keys]

    counts, vectors, right_rows, outcome_rows = {}, {}, [], []
    for kind, levels, position in (("right", range(n_rights), 0), ("outcome", range(n_outcomes), 1)):
        for level in [*levels, None]:
            def match(k, level=level, position=position):
                return level is None or k[position] == level
            name = ALL if level is None else f"{kind[0]}{level}"
            row = {kind: name, "complaints": sum(v for k, v in value.items() if match(k)),
                   "acknowledged": sum(v for k, v in value.items() if match(k) and k[2])}
            (right_rows if kind == "right" else outcome_rows).append(row)
            for column, only in (("complaints", False), ("acknowledged", True)):
                counts[((kind, name), column)] = row[column]
                vectors[((kind, name), column)] = vector(match, only)
    right_mask, outcome_mask = complaint_masks(pd.DataFrame(right_rows), pd.DataFrame(outcome_rows),
                                               DisclosurePolicy(threshold))
    hidden = {}
    for kind, rows, mask in (("right", right_rows, right_mask), ("outcome", outcome_rows, outcome_mask)):
        for i, row in enumerate(rows):
            for column in COMPLAINT_COUNTS:
                hidden[((kind, row[kind]), column)] = bool(mask.loc[i, column])
    assert hidden[(("right", ALL), "acknowledged")] == hidden[(("outcome", ALL), "acknowledged")]
    _check(counts, vectors, hidden, COMPLAINT_NESTED, threshold)


# --- the pages, for every choice the board has ---------------------------------------------------------------------

COUNT_COLUMNS = ("Count", "Of", "Responses", "Answered", "Complaints", "Acknowledged")


@pytest.mark.app
@pytest.mark.parametrize("page", ["pages/referral_uptake.py", "pages/victim_voice.py"])
def test_for_every_quarter_the_board_sees_the_packs_tables_and_nothing_to_choose(monkeypatch, leak_store, page):
    at = run_board(monkeypatch, leak_store, page)
    assert at.selectbox(key="board_quarter").options == ["2025Q3 (Jul to Sep 2025)", "2025Q2 (Apr to Jun 2025)"]
    quarters = ["2025Q3", "2025Q2"]
    keys = {"pages/referral_uptake.py": ("referrals",),
            "pages/victim_voice.py": ("surveys", "complaints_right", "complaints_outcome")}[page]
    store = open_store(leak_store)
    try:
        for quarter in quarters:
            at.selectbox(key="board_quarter").set_value(quarter).run()
            assert not at.exception and not at.error
            # the only choices are the sidebar's quarter (and role): no service, measure, survey, question, clock,
            # breakdown tab, month or change
            assert {w.key for w in at.selectbox} <= {"board_quarter", "_vcd_role_choice"}
            assert not (at.segmented_control or at.select_slider or at.multiselect or at.tabs or at.radio)
            # every table is one of the board pack's, cell for cell (the properties above cover the pack's masks)
            pack = build_board_pack(store, default_catalogue(), parse_quarter(quarter))
            expected = [pack.tables[k].frame.map(_pack_cell).reset_index(drop=True) for k in keys]
            shown = [df.value.reset_index(drop=True) for df in at.dataframe]
            assert len(shown) == len(expected)
            for frame, want in zip(shown, expected, strict=True):
                pd.testing.assert_frame_equal(frame.astype(str), want.astype(str))
                for column in COUNT_COLUMNS:
                    if column in frame.columns:
                        assert not any(1 <= (number(c) or 0) <= 9 for c in frame[column]), (quarter, column)
            for metric in at.metric:
                if "Median" not in metric.label:
                    assert not 1 <= (number(metric.value) or 0) <= 9, (quarter, metric.label)
            for caption in at.caption:
                for text in re.findall(r"([0-9,]+|\[c\]) of ([0-9,]+|\[c\])|n = ([0-9,]+)", caption.value):
                    assert not any(1 <= (number(x) or 0) <= 9 for x in text), (quarter, caption.value)
    finally:
        store.close()
