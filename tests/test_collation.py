"""export-summary: the area cube as Parquet by force and month, counts only, written whole or not at all."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from data_access.__main__ import main
from data_access.collation import export_summary
from data_access.store import StoreError
from helpers import build_and_open
from test_cube import AS_OF, NEEDS, REFERRAL, _fixture_tables


@pytest.fixture
def store_path(tmp_path):
    store = build_and_open(tmp_path, _fixture_tables(), AS_OF)
    store.close()
    return store.path


def _read(folder) -> pd.DataFrame:
    return pd.read_parquet(folder, engine="pyarrow")


def test_the_export_is_the_area_cube_by_month_with_a_manifest(store_path, tmp_path):
    report = export_summary(store_path, "essex", tmp_path / "collation")
    folder = tmp_path / "collation" / "force=essex"
    assert report.folder == folder
    assert sorted(p.name for p in folder.iterdir()) == ["_manifest.json", "month=2025-03", "month=2025-04"]
    rows = _read(tmp_path / "collation")  # hive partitions come back as columns
    assert set(rows.columns) == {"force", "month", "entitlement", "right_no", "command_area", "district",
                                 "offence_group", "victim_type", "eligible", "delivered", "delivered_on_time",
                                 "eligible_timed", "not_yet_due", "not_applicable"}
    assert not any("id" in column.split("_") for column in rows.columns)  # counts only, no ids
    assert len(rows) == report.rows == 7 and report.months == 2
    rows["month"] = rows["month"].astype(str)
    april = rows[(rows["month"] == "2025-04") & (rows["entitlement"] == REFERRAL)].set_index("district")
    # E4 (Chelmsford, declined on time) and E5 (Basildon, not yet due); see tests/test_cube.py
    assert april.loc["Chelmsford", ["eligible", "delivered", "delivered_on_time", "not_yet_due"]].tolist() == [1, 1, 1, 0]
    assert april.loc["Basildon", ["eligible", "delivered", "delivered_on_time", "not_yet_due"]].tolist() == [0, 0, 0, 1]
    assert rows.loc[rows["entitlement"] == NEEDS, "not_applicable"].sum() == 1
    manifest = json.loads((folder / "_manifest.json").read_text())
    assert manifest["force"] == "essex" and manifest["counts_as_of"] == "2025-04-11"
    assert manifest["rows"] == 7 and manifest["first_month"] == "2025-03" and manifest["last_month"] == "2025-04"
    assert manifest["data"] == "the force's own records"


def test_a_second_force_sits_beside_the_first_and_an_export_is_replaced_only_when_asked(store_path, tmp_path):
    out = tmp_path / "collation"
    export_summary(store_path, "essex", out)
    export_summary(store_path, "kent", out)
    both = _read(out)
    assert sorted(both["force"].astype(str).unique()) == ["essex", "kent"]
    with pytest.raises(StoreError, match="already exists; add --replace"):
        export_summary(store_path, "essex", out)
    export_summary(store_path, "essex", out, replace=True)
    assert len(_read(out)) == 14
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no building or old folders left


@pytest.mark.parametrize("code", ["", "../essex", "Essex", "es sex", "essex/x", ".hidden", "x" * 41, "a\x00b"])
def test_a_force_code_that_is_not_a_plain_folder_name_is_refused(store_path, tmp_path, code):
    with pytest.raises(StoreError, match="force code"):
        export_summary(store_path, code, tmp_path / "collation")
    assert not (tmp_path / "collation").exists()


def test_the_command_line_records_the_export_first_and_says_what_it_wrote(store_path, tmp_path, capsys):
    from data_access import audit

    out = tmp_path / "collation"
    assert main(["export-summary", "--db", str(store_path), "--force", "essex", "--out", str(out),
                 "--user", "analyst"]) == 0
    assert "Exported 7 rows over 2 months" in capsys.readouterr().out
    events = audit.read_events(audit.default_audit_path(store_path), role="admin")
    assert events["action"].tolist() == ["download"]
    assert events["detail"].iloc[0]["what"] == "summary cube export"
    assert main(["export-summary", "--db", str(store_path), "--force", "essex", "--out", str(out)]) == 1
    assert "nothing was written" in capsys.readouterr().err


def test_a_store_without_cubes_is_refused_with_what_to_do(tmp_path, monkeypatch):
    import data_access.store as store_module

    def unreadable():
        raise store_module.CatalogueError("catalogue.yaml", ["broken"])

    monkeypatch.setattr(store_module, "default_catalogue", unreadable)
    store = build_and_open(tmp_path, _fixture_tables(), date(2025, 4, 11))
    store.close()
    assert store.meta.summary_as_of is None  # the build went on without cubes
    with pytest.raises(StoreError, match="has no summary cube"):
        export_summary(store.path, "essex", tmp_path / "collation")
