"""SPC, funnel plots, targets and annotations on the pages, through AppTest, on a hand-made store of 18
months whose special-cause points, funnel outlier and assurance are worked out by hand below.

The store (as of 31 Jul 2025; every month settled, so the default period is Jul 2024 to Jun 2025 and the
SPC history is the store's whole span, Jan 2024 to Jun 2025: 18 months):

r4_needs_assessment (no timescale), 10 instances on the 3rd of every month, all in Basildon, delivered the
next day or never:
    delivered  Jan-Oct 2024: 8, 9, 8, 9, 8, 9, 8, 9, 8, 9 of 10;  Nov 2024-Jun 2025: 5 of 10 (8 months)
    values     .8 .9 .8 .9 .8 .9 .8 .9 .8 .9 | .5 .5 .5 .5 .5 .5 .5 .5
    mean       (5 x .8 + 5 x .9 + 8 x .5) / 18 = 12.5 / 18 = 0.69444
    MR-bar     (9 x 0.1 + 0.4 + 7 x 0) / 17 = 1.3 / 17 = 0.076471
    limits     0.69444 -/+ 2.66 x 0.076471 = 0.49103 to 0.89786
    near (2s)  0.69444 -/+ 1.7733 x 0.076471 = 0.55883 to 0.83005
    rule 1     the five .9 months (Feb, Apr, Jun, Aug, Oct 2024) are above 0.89786: beyond the upper limit
    rule 2     Jan-Oct 2024, 10 points above the mean: a shift (high); Nov 2024-Jun 2025, 8 points below: a shift
    rule 4     the eight .5 months lie between 0.49103 and 0.55883 ("close"), all below the mean: flagged
    so the latest month, Jun 2025, is a special-cause concern on the low side: "Special cause: concerning
    (low)", and the concern began in Nov 2024. No trend (the values alternate, then stay flat).
    With a target of 0.95: 0.95 >= the upper limit 0.89786, so "Consistently failing the target".
    Rebased at Nov 2024: Jan-Oct 2024 has mean .85 and MR-bar .1 (limits .584 to 1.116, nothing flagged)
    and Nov 2024-Jun 2025 is 8 points of .5 (trial limits: fewer than 12; MR-bar 0, so the limits sit on
    the mean and every point is on it): the latest month is then "Common cause variation".

r4_referral_to_support_service (2 working days), Feb-Jun 2025, one instance a month in each of six
districts (30 in all): delivered on the trigger day (on time) everywhere but Colchester, where it never is.
    monthly series: 5 months with a value, fewer than 15, so a run chart with the note saying why.
    funnel over the period, by district: pooled rate 25 / 30 = 83.3%.
        Colchester 0 of 5: P(X <= 0 | n=5, p=5/6) = (1/6)^5 = 1/7776 = 0.00013 < 0.001 -> below the 99.8% limit
        the others 5 of 5: P(X >= 5) = (5/6)^5 = 0.40 > 0.025                      -> within the limits
Right 4 (both entitlements added, then divided):
    Jan-Oct 2024 .8/.9 as above; Nov 2024-Jan 2025 5/10 = .5; Feb-Jun 2025 (5 + 5) / (10 + 6) = .625
    mean (8.5 + 3 x .5 + 5 x .625) / 18 = 13.125 / 18 = 0.72917: the last 8 months are all below it, a shift,
    so Right 4 is also "Special cause: concerning (low)" since Nov 2024.

Annotations: a panel held 13 Nov 2024; action A1 done 20 Nov 2024 on r4_needs_assessment; A2 done 5 Mar
2025 on r7_vps_offered (not a Right 4 measure); A3 in progress (no marker). Titles carry markup that must
never be rendered.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from helpers import case, ent, sign_in, tables, victim
from data_access.store import build_store

pytestmark = pytest.mark.app
APP = str(Path(__file__).resolve().parent.parent / "app.py")
RIGHTS = "pages/rights_compliance.py"
MONTHS = pd.date_range("2024-01-01", "2025-06-01", freq="MS")
NEEDS_DELIVERED = [8, 9, 8, 9, 8, 9, 8, 9, 8, 9] + [5] * 8
DISTRICTS = (("Basildon", "South"), ("Braintree", "Mid"), ("Chelmsford", "Mid"), ("Colchester", "North"),
             ("Harlow", "West"), ("Tendring", "North"))
PANEL_TITLE = "Panel <b>one</b> *stars*"
ACTION_TITLE = "Check <script>alert(1)</script> **now** [link](http://example.com)"


def _store_tables() -> dict[str, pd.DataFrame]:
    cases, victims, entitlements = [], [], []
    for m, month in enumerate(MONTHS):
        day = month + pd.Timedelta(days=2)  # the 3rd
        for k in range(10):
            vid = f"N{m:02d}{k}"
            cases.append(case(f"C{vid}", "Basildon", reported_at=f"{day:%Y-%m-%d}"))
            victims.append(victim(vid, f"C{vid}"))
            delivered = f"{day + pd.Timedelta(days=1):%Y-%m-%d}" if k < NEEDS_DELIVERED[m] else None
            entitlements.append(ent(f"E{vid}", "r4_needs_assessment", f"{day:%Y-%m-%d}", delivered, victim_id=vid))
        if month >= pd.Timestamp("2025-02-01"):
            for district, _ in DISTRICTS:
                vid = f"R{m:02d}{district[:3]}"
                cases.append(case(f"C{vid}", district, reported_at=f"{day:%Y-%m-%d}"))
                victims.append(victim(vid, f"C{vid}"))
                delivered = None if district == "Colchester" else f"{day:%Y-%m-%d}"
                entitlements.append(ent(f"E{vid}", "r4_referral_to_support_service", f"{day:%Y-%m-%d}", delivered,
                                        victim_id=vid))
    out = tables(cases=cases, victims=victims, entitlements=entitlements, districts=DISTRICTS)
    out["panels"] = pd.DataFrame({"panel_id": ["P1"], "held_on": [pd.Timestamp("2024-11-13")], "title": [PANEL_TITLE],
                                  "themes": ["vawg"]})
    out["actions"] = pd.DataFrame({
        "action_id": ["A1", "A2", "A3"], "title": [ACTION_TITLE, "VPS checklist", "Still going"],
        "raised_on": pd.to_datetime(["2024-11-13", "2024-11-13", "2024-11-13"]),
        "status": ["done", "done", "in_progress"],
        "completed_on": pd.to_datetime(["2024-11-20", "2025-03-05", None]),
        "measure": ["r4_needs_assessment", "r7_vps_offered", "r4_needs_assessment"]})
    return out


@pytest.fixture(scope="module")
def spc_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spc") / "spc.duckdb"
    return build_store(path, _store_tables(), data_as_of=date(2025, 7, 31), is_demo=False, source="SPC fixture")


@pytest.fixture
def targets_file(tmp_path) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text("version: 1\ntargets:\n"
                    "  - measure: r4_needs_assessment\n    target: 0.95\n    set_by: Test Board\n    set_on: 2025-01-15\n")
    return path


def run(monkeypatch, store: Path, page: str | None = None, targets: Path | None = None, **query) -> AppTest:
    sign_in(monkeypatch, "victim_services")  # the fixture is not demo data, so it opens only after sign-in
    monkeypatch.setenv("VCD_STORE", str(store))
    if targets is not None:
        monkeypatch.setenv("VCD_TARGETS", str(targets))
    else:
        monkeypatch.delenv("VCD_TARGETS", raising=False)
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception
    return at


def markdowns(at: AppTest) -> list[str]:
    return [str(m.value) for m in at.markdown]


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success", "text")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def icons_after(at: AppTest, title: str) -> str:
    """The icon words shown just under a chart's bold title."""
    items = markdowns(at)
    return items[items.index(f"**{title}**") + 1]


def figures(at: AppTest) -> list[tuple[str, dict]]:
    """(alt text, Plotly figure as a dict) for every Plotly chart on the page."""
    return [(chart.proto.alt, json.loads(chart.proto.spec)) for chart in at.get("plotly_chart")]


def spc_figure(at: AppTest, label: str) -> dict:
    matches = [fig for alt, fig in figures(at) if f" for {label} by month" in alt]
    assert len(matches) == 1, f"expected one SPC chart for {label}"
    return matches[0]


def test_a_shift_of_eight_low_months_is_a_concern_on_the_rights_page(monkeypatch, spc_store):
    at = run(monkeypatch, spc_store, RIGHTS)
    assert "Special cause: concerning (low)**] since Nov 2024" in icons_after(at, "Needs assessment")
    fig = spc_figure(at, "Needs assessment")
    by_name = {trace.get("name"): trace for trace in fig["data"]}
    concern = by_name["Special cause: concerning"]
    assert concern["marker"]["symbol"] == "x"  # its own symbol, not only its own colour
    assert [x[:7] for x in concern["x"]] == [f"{m:%Y-%m}" for m in MONTHS[10:]]  # Nov 2024 to Jun 2025
    improving = by_name["Special cause: improving"]
    assert improving["marker"]["symbol"] == "star" and len(improving["x"]) == 10  # Jan-Oct 2024: the shift above
    assert "shift" in concern["customdata"][-1][2] and "close to a process limit" in concern["customdata"][-1][2]
    # the right's own roll-up, under its headline rate
    assert any("Special cause: concerning (low)**] since Nov 2024" in m for m in markdowns(at)[:8])


def test_a_short_series_is_a_run_chart_and_says_why(monkeypatch, spc_store):
    at = run(monkeypatch, spc_store, RIGHTS)
    assert "Not enough data for SPC" in icons_after(at, "Referral to a support service")
    captions = [c.value for c in at.caption]
    assert any("Fewer than 15 points: a run chart without process limits" in c and "5 months with a value" in c
               for c in captions)
    fig = spc_figure(at, "Referral to a support service")
    names = {trace.get("name") for trace in fig["data"]}
    assert "Process limits" not in names and "Mean" in names


def test_the_board_lists_the_concerns_under_exceptions_first(monkeypatch, spc_store):
    at = run(monkeypatch, spc_store)
    items = markdowns(at)
    exceptions = items.index("#### Exceptions: special-cause concerns")
    assert exceptions < items.index("#### The 12 rights at a glance")
    listed = [m for m in items[exceptions:] if "Special cause: concerning (low)" in m and "Latest Jun 2025" in m]
    # Right 4 and its needs assessment, both since Nov 2024: the right comes before its entitlement
    assert len(listed) == 2
    assert listed[0].startswith(":material/trending_down: **Right 4: Referral to support services**")
    assert listed[1].startswith(":material/trending_down: **Needs assessment (Right 4)**")
    assert all("since Nov 2024" in m for m in listed)
    links = [link.proto for link in at.get("page_link") if link.proto.label == "Right 4 detail"]
    assert len(links) == 2 and all("rights_compliance" in link.page for link in links)
    table = next(df.value for df in at.dataframe if "Variation (SPC)" in df.value.columns).set_index("Right")
    assert table.loc["4. Referral to support services", "Variation (SPC)"] == "Special cause: concerning (low)"
    assert table.loc["10. Expenses and property returned", "Variation (SPC)"] == "not measured"
    # the shipped sample targets the referral rate (80%), but its 5 months make a run chart: no limits to judge by
    assert table.loc["4. Referral to support services", "Target assurance"] == "No limits yet (1 target)"
    assert table.loc["6. Information about the investigation", "Target assurance"] == "no target set"


def test_a_target_gives_the_assurance_words_and_a_line(monkeypatch, spc_store, targets_file):
    at = run(monkeypatch, spc_store, RIGHTS, targets=targets_file)
    assert "Consistently failing the target**] against the target of 95%" in icons_after(at, "Needs assessment")
    fig = spc_figure(at, "Needs assessment")
    target = next(trace for trace in fig["data"] if trace.get("name") == "Target 95%")
    assert target["y"] == [0.95, 0.95] and target["line"]["dash"] == "dashdot"
    assert "target 95%: Consistently failing the target" in next(alt for alt, _ in figures(at) if "Needs assessment" in alt)
    board = run(monkeypatch, spc_store, targets=targets_file)
    table = next(df.value for df in board.dataframe if "Target assurance" in df.value.columns).set_index("Right")
    # only the test file is read (VCD_TARGETS), so Right 4 has the one target, on its needs assessment
    assert table.loc["4. Referral to support services", "Target assurance"] == "Consistently failing (1 target)"
    # the right's card names the entitlement and its target
    assert any("Needs assessment" in m and "Consistently failing the target**] against the target of 95%" in m
               for m in markdowns(board))


def test_a_broken_targets_file_is_named_and_the_page_still_works(monkeypatch, spc_store, tmp_path):
    bad = tmp_path / "targets.yaml"
    bad.write_text("targets:\n  - measure: r4_needs_assessment\n    target: 95\n    set_by: Board\n    set_on: 2025-01-15\n")
    at = run(monkeypatch, spc_store, RIGHTS, targets=bad)
    warning = " ".join(w.value for w in at.warning)
    assert "targets file" in warning and "r4\\_needs\\_assessment" in warning and "0\\.95" in warning
    assert "Special cause: concerning (low)" in icons_after(at, "Needs assessment")  # figures still shown
    assert "Consistently" not in icons_after(at, "Needs assessment")


def test_panels_and_completed_actions_are_marked_on_the_charts_they_relate_to(monkeypatch, spc_store):
    at = run(monkeypatch, spc_store, RIGHTS)
    needs = spc_figure(at, "Needs assessment")
    by_name = {trace.get("name"): trace for trace in needs["data"]}
    assert [x[:10] for x in by_name["Feedback panel held"]["x"]] == ["2024-11-13"]
    assert [x[:10] for x in by_name["Panel action completed"]["x"]] == ["2024-11-20"]  # A1 only: A2 is Right 7's
    hover = by_name["Panel action completed"]["hovertext"][0]
    assert "&lt;script&gt;" in hover and "<script>" not in hover  # escaped: shown as typed, never as markup
    assert "&lt;b&gt;one&lt;/b&gt;" in by_name["Feedback panel held"]["hovertext"][0]
    assert len([s for s in needs["layout"]["shapes"] if s["type"] == "line"]) == 2  # one dotted line each
    referral = {trace.get("name") for trace in spc_figure(at, "Referral to a support service")["data"]}
    assert "Feedback panel held" in referral and "Panel action completed" not in referral  # panels relate to all
    page = texts(at)
    assert "alert(1)" not in page and "Panel <b>one</b>" not in page  # free text only in the hover
    assert "Panel actions completed on these measures: Nov 2024 (Needs assessment)." in page


def test_the_limits_can_be_recalculated_from_a_month_in_the_link(monkeypatch, spc_store):
    at = run(monkeypatch, spc_store, RIGHTS, rebase="Nov 2024")
    assert "Common cause variation" in icons_after(at, "Needs assessment")
    captions = " ".join(c.value for c in at.caption)
    assert "Limits from Nov 2024 are trial limits: based on 8 points" in captions
    fig = spc_figure(at, "Needs assessment")
    mean = next(trace for trace in fig["data"] if trace.get("name") == "Mean")
    assert None in mean["y"]  # two partitions, drawn as two separate lines
    assert sorted({round(y, 6) for y in mean["y"] if y is not None}) == [0.5, 0.85]


def test_the_district_funnel_names_the_unit_outside_its_limits(monkeypatch, spc_store):
    at = run(monkeypatch, spc_store, RIGHTS)
    at.selectbox(key="breakdown_entitlement").set_value("r4_referral_to_support_service").run()
    assert not at.exception
    named = next(m for m in markdowns(at) if m.startswith("**Outside the limits**"))
    assert named.splitlines()[2:] == ["- :material/arrow_downward: **Colchester**: 0.0% (0 of 5), below the 99.8% limit"]
    alt = next(alt for alt, _ in figures(at) if alt.startswith("Funnel plot of delivered rate by districts"))
    assert "1 of 6 units lie outside the 95% limits: Colchester (below the 99.8% limit)" in alt
    fig = next(fig for alt, fig in figures(at) if alt.startswith("Funnel plot of delivered rate by districts"))
    below = next(trace for trace in fig["data"] if trace.get("name") == "Below the 99.8% limit")
    assert below["marker"]["symbol"] == "triangle-down" and below["customdata"][0][:3] == ["Colchester", 0, 5]
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["Colchester"]  # named on the chart too
    centre = next(trace for trace in fig["data"] if str(trace.get("name", "")).startswith("Whole selection"))
    assert centre["y"][0] == pytest.approx(25 / 30)
    # an alphabetical table, never a league table
    table = next(df.value for df in at.dataframe if "Compared with the whole selection" in df.value.columns
                 and "District" in df.value.columns)
    assert table["District"].tolist() == sorted(d for d, _ in DISTRICTS)
    assert table.set_index("District").loc["Colchester", "Compared with the whole selection"] == "Below the 99.8% limit"


def test_keeping_informed_draws_an_spc_chart_per_measure(monkeypatch, spc_store):
    at = run(monkeypatch, spc_store, "pages/keeping_informed.py")
    assert not at.error
    for label in ("First contact within the standard", "Updates kept to agreed frequency", "Face to face, enhanced victims"):
        assert f"**{label}**" in markdowns(at)
    # no enhanced victims in this store: the face-to-face chart says what it cannot show
    assert any("Nothing to chart: No months with a value" in i.value for i in at.info)


# --- the pure parts behind the pages ---------------------------------------------------------------------

from metrics.catalogue import default_catalogue  # noqa: E402
from metrics.summaries import exceptions, month_index, monthly_series, monthly_series_by, series_spc  # noqa: E402
from ui import charts, display  # noqa: E402


def _frame(values: list[tuple[int, int]], first: str = "2024-01-01") -> pd.DataFrame:
    months = pd.date_range(first, periods=len(values), freq="MS")
    return pd.DataFrame({"month": months, "delivered": [n for n, _ in values], "eligible": [d for _, d in values]})


def test_a_month_without_cases_has_no_rate_rather_than_zero():
    frame = _frame([(8, 10), (0, 0), (5, 10)]).drop(index=[1])  # Feb has no row at all
    series = monthly_series(frame, month_index(date(2024, 1, 1), date(2024, 4, 1)), "delivered", "eligible")
    assert series["rate"].tolist()[0] == 0.8 and series["rate"].isna().tolist() == [False, True, False, True]
    assert series["denominator"].tolist() == [10, 0, 10, 0]


def test_series_for_every_key_at_once_are_the_series_one_at_a_time():
    # a: Jan 3/4 in two rows (1/2 + 2/2), Feb none, Mar 0 of 0, and a Dec 2023 row outside the months (dropped);
    # b: Feb 5/5 only; a row with no month (a total) is ignored.
    frame = pd.DataFrame({
        "code": ["a", "a", "a", "a", "b", "b"],
        "month": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-01", "2023-12-01", "2024-02-01", None]),
        "delivered": [1, 2, 0, 7, 5, 9], "eligible": [2, 2, 0, 7, 5, 9]})
    months = month_index(date(2024, 1, 1), date(2024, 3, 1))
    series = monthly_series_by(frame, "code", months, "delivered", "eligible")
    assert sorted(series) == ["a", "b"]
    assert series["a"]["numerator"].tolist() == [3, 0, 0] and series["a"]["denominator"].tolist() == [4, 0, 0]
    assert series["a"]["rate"].tolist()[0] == 0.75 and series["a"]["rate"].isna().tolist() == [False, True, True]
    assert series["b"]["numerator"].tolist() == [0, 5, 0] and series["b"]["rate"].tolist()[1] == 1.0
    for code in ("a", "b"):
        pd.testing.assert_frame_equal(series[code], monthly_series(frame[frame["code"] == code], months, "delivered",
                                                                   "eligible"))
    assert monthly_series_by(frame.iloc[0:0], "code", months, "delivered", "eligible") == {}


def test_since_is_the_start_of_the_latest_run_of_concern_points():
    # the needs-assessment series above: concern from Nov 2024 (month 11) to the end
    frame = _frame([(n, 10) for n in NEEDS_DELIVERED])
    item = series_spc(frame, MONTHS, code="x", label="x", numerator="delivered", denominator="eligible")
    assert item.spc.variation_icon == "concern_low" and item.since == pd.Timestamp("2024-11-01")
    common = series_spc(_frame([(8, 10), (9, 10)] * 9), MONTHS, code="y", label="y", numerator="delivered",
                        denominator="eligible")
    assert common.spc.variation_icon == "common_cause" and common.since is None


def test_exceptions_are_concerns_only_most_recent_first_a_right_before_its_entitlements():
    catalogue = default_catalogue()
    months = pd.date_range("2024-01-01", periods=20, freq="MS")
    early = _frame([(9, 10), (8, 10)] * 5 + [(5, 10)] * 10)  # concern since month 11 (Nov 2024)
    late = _frame([(9, 10), (8, 10)] * 6 + [(5, 10)] * 8)  # concern since month 13 (Jan 2025)
    better = _frame([(5, 10), (6, 10)] * 6 + [(9, 10)] * 8)  # improving
    make = lambda f, code: series_spc(f, months, code=code, label=code, numerator="delivered", denominator="eligible")  # noqa: E731
    rights = {4: make(early, "right_4"), 7: make(better, "right_7")}
    entitlements = {"r4_needs_assessment": make(early, "r4_needs_assessment"),
                    "r6_suspect_arrested": make(late, "r6_suspect_arrested")}
    listed = exceptions(rights, entitlements, catalogue)
    assert listed["code"].tolist() == ["r6_suspect_arrested", "right_4", "r4_needs_assessment"]
    assert listed["since"].tolist() == [pd.Timestamp("2025-01-01"), pd.Timestamp("2024-11-01"), pd.Timestamp("2024-11-01")]
    assert exceptions({}, {}, catalogue).empty
    # with a window, a concern the latest month has come back from is still listed, after the ongoing ones
    recovered = _frame([(9, 10), (8, 10)] * 5 + [(5, 10)] * 8 + [(9, 10)] * 2)
    rights[1] = make(recovered, "right_1")
    listed = exceptions(rights, entitlements, catalogue, recent_from=date(2025, 1, 1))
    assert listed["code"].tolist() == ["r6_suspect_arrested", "right_4", "r4_needs_assessment", "right_1"]
    assert listed["status"].tolist() == ["ongoing", "ongoing", "ongoing", "recent"]
    assert listed["concern_months"].iloc[-1] == "Jan 2025 to Jun 2025"  # only the window's concern months


def test_the_spc_axis_is_zoomed_but_never_to_less_than_ten_points():
    frame = _frame([(93, 100), (94, 100)] * 9)
    item = series_spc(frame, MONTHS, code="x", label="x", numerator="delivered", denominator="eligible")
    low, high = charts.spc_axis(item.spc.points, None)
    assert high - low >= charts.MIN_SPC_SPAN and low <= 0.93 and high >= 0.94
    assert high <= 1.0 + 0.1 and low >= 0.0
    low, high = charts.spc_axis(item.spc.points, 0.5)  # a target far below is still on the chart
    assert low <= 0.5
    assert all(t <= 1.0 for t in charts._nice_ticks(0.85, 1.06))


def test_free_text_is_escaped_for_plotly_and_markdown():
    assert charts.safe_text("<b>hi</b> & %{y}") == "&lt;b&gt;hi&lt;/b&gt; &amp; %{y}"
    assert charts.safe_text("x" * 500).endswith("…") and len(charts.safe_text("x" * 500)) == 160
    assert charts.safe_text(None) == ""
    assert display.plain("**a** [b](c) :red[d] <i>") == r"\*\*a\*\* \[b\]\(c\) \:red\[d\] \<i\>"


def test_the_chart_in_words_names_the_special_cause_months():
    item = series_spc(_frame([(n, 10) for n in NEEDS_DELIVERED]), MONTHS, code="x", label="Needs assessment",
                      numerator="delivered", denominator="eligible")
    words = charts.describe_spc(item.label, item.spc, "delivered rate", target=0.95, panels=1, actions=1)
    assert words.startswith("XmR chart of delivered rate for Needs assessment by month, Jan 2024 to Jun 2025 "
                            "(18 months with a value)")
    assert "Special cause: concerning in Nov 2024 to Jun 2025" in words
    assert "Special cause: improving in Jan 2024 to Oct 2024" in words
    assert "target 95%" in words and "1 feedback panel and 1 completed action marked" in words
    assert charts.month_runs([pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-01")]) == \
        "Jan 2024, Mar 2024 to Apr 2024"


def test_spc_stops_before_a_month_still_being_delivered():
    from types import SimpleNamespace

    from metrics.filters import Filters
    from ui import data

    store = SimpleNamespace(meta=SimpleNamespace(first_month=date(2024, 1, 1)))
    # the period ends in June 2025 and the data date is 5 July: June has not settled (14 days)
    unsettled = SimpleNamespace(store=store, filters=Filters(date(2024, 7, 1), date(2025, 6, 1), date(2025, 7, 5)))
    history = data.history_filters(unsettled)
    assert (history.first_month, history.last_month) == (date(2024, 1, 1), date(2025, 5, 1))
    assert data.unsettled_note(unsettled).startswith("The SPC charts stop at May 2025: Jun 2025 was still being")
    settled = SimpleNamespace(store=store, filters=Filters(date(2024, 7, 1), date(2025, 6, 1), date(2025, 7, 31),
                                                           {"district": ("Basildon",)}))
    history = data.history_filters(settled)
    assert (history.first_month, history.last_month) == (date(2024, 1, 1), date(2025, 6, 1))
    assert history.selections == {"district": ("Basildon",)}  # every other filter stays
    assert data.unsettled_note(settled) == ""


def test_a_hostile_rebase_in_the_link_is_ignored(monkeypatch, spc_store):
    hostile = "<script>alert(1)</script>"
    at = run(monkeypatch, spc_store, RIGHTS, rebase=hostile)
    assert not at.error
    assert "Special cause: concerning (low)" in icons_after(at, "Needs assessment")  # no rebase applied
    assert hostile not in texts(at)
