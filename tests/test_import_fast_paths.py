"""The importer's shortcuts for speed give exactly what the plain way gives: the file's shape counted from its
bytes, trim skipped where it changes nothing, the formula check's first-character filter, blank rows found
from the first column, and the store's rules taken off while loading and proven before the swap."""

from __future__ import annotations

import csv
import io

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import data_access.importer as importer
from data_access.schema import LOAD_ORDER, schema_ddl

# --- the shape of a CSV, from its bytes ---------------------------------------------------------

PIECE = st.sampled_from(["a", "b1", "", " ", "\t", "\u00a0", "\u3000", ",", '"', '""', '"x,y"', '"p\nq"', "\n",
                         "\r\n", "\r", "=1", "é"])


@settings(max_examples=400)
@given(st.lists(PIECE, max_size=40), st.booleans())
def test_the_shape_from_bytes_is_the_csv_modules_or_it_steps_aside(pieces, bom):
    text = "district,command_area,notes\n" + "".join(pieces)
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    fast = importer._csv_shape_fast(data)
    try:
        slow = importer._csv_shape_records(text)
    except importer._CsvBroken:
        assert fast is None  # a file the csv module cannot read is never given a shape
        return
    assert fast is None or fast == slow


@pytest.mark.parametrize("text", [
    "a,b,c\n1,2,3\n4,5,6\n",  # the usual file
    "a,b,c\r\n1,2,3\r\n4,5,6",  # Windows line breaks, no break after the last line
    'a,b,c\n1,"two, with a comma",3\n"""quoted""",5,6\n',  # quotes on single lines
    "a,b,c\n1,2,3\n\n4,5,6\n , ,\n\n\n",  # an empty line, a blank one, trailing empty ones
    "a,b,c\n1,2\n4,5,6,7\n",  # ragged lines
    "a,b,c\n\u00a0,\u3000,\n1,2,3\n",  # a line blank by Python's rules, made of non-ASCII spaces
])
def test_the_shape_from_bytes_is_taken_for_ordinary_files_and_agrees(text):
    fast = importer._csv_shape_fast(text.encode("utf-8"))
    assert fast is not None
    assert fast == importer._csv_shape_records(text)


@pytest.mark.parametrize("text", [
    'a,b,c\n1,"two\nlines",3\n',  # a record spanning two lines
    "a,b,c\r1,2,3\r",  # old Mac line breaks
    'a,b,c\n1,"x"y,3\n',  # not valid CSV
    "\n1,2,3\n",  # no header
])
def test_the_shape_from_bytes_steps_aside_for_the_csv_module(text):
    assert importer._csv_shape_fast(text.encode("utf-8")) is None


def test_a_line_blank_by_pythons_rules_is_not_taken_for_data():
    # The last line holds only a no-break space and a comma: blank, so the file has 1 data row, not 2.
    shape = importer._csv_shape_fast("a,b\n1,2\n\u00a0,\n".encode())
    assert (shape.records, shape.total, shape.lines) == (1, 3, 3)


# --- blank rows found by Arrow -------------------------------------------------------------------

def test_blank_rows_are_those_with_every_value_blank():
    table = pa.table({"c0": ["x", " ", "", " ", "\t"], "c1": ["", "y", " ", "", " "], "c2": ["", "", "", " ", ""]})
    # Row 0 has x, row 1 has y; rows 2, 3 and 4 hold only whitespace in every column.
    assert importer._blank_rows(table).to_pylist() == [False, False, True, True, True]
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=2))
    assert importer._blank_rows(chunked).to_pylist() == [False, False, True, True, True]


# --- SQL shortcuts -------------------------------------------------------------------------------

VALUES = st.text(alphabet=st.sampled_from(["a", "Z", "1", " ", "\u00a0", "\u2003", "\u3000", "\t", "\n", "é",
                                           "=", "-", "\u00ad"]), max_size=6)


@settings(max_examples=30)
@given(st.lists(st.one_of(st.none(), VALUES), min_size=1, max_size=50))
def test_the_trim_shortcut_is_trim(values):
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    differing = con.execute(f"SELECT count(*) FROM t WHERE {importer._trimmed('x')} "
                            "IS DISTINCT FROM NULLIF(trim(x), '')").fetchall()[0][0]
    assert differing == 0
    con.close()


def test_the_formula_shortcut_is_the_formula_expression():
    # Every character of the Basic Multilingual Plane, first in a value and followed by a formula, a letter or
    # nothing: the first-character filter must never hide a match of the regular expression.
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT chr(c::INTEGER) || tail AS r FROM range(1, 65536) AS g(c), "
                "(VALUES ('=1'), ('a'), ('')) AS s(tail) WHERE c NOT BETWEEN 55296 AND 57343")
    first = ", ".join(map(str, importer._FORMULA_FIRST))
    matches, differing = con.execute(
        f"SELECT count(*) FILTER (WHERE regexp_matches(r, '{importer._FORMULA_RE}')), "
        f"count(*) FILTER (WHERE (ascii(r) IN ({first}) AND regexp_matches(r, '{importer._FORMULA_RE}')) "
        f"IS DISTINCT FROM regexp_matches(r, '{importer._FORMULA_RE}')) FROM t").fetchall()[0]
    assert matches > 0 and differing == 0
    con.close()


# --- the store's rules: taken off while loading, proven before the swap ----------------------------

def _new_store():
    con = duckdb.connect()
    deferred = importer._create_schema(con, "memory")
    con.execute("INSERT INTO cases (case_id, reported_at, offence_group, district, status) "
                "VALUES ('C1', '2025-03-03', 'theft', 'Basildon', 'open')")
    con.execute("INSERT INTO victims (victim_id, case_id) VALUES ('V1', 'C1')")
    return con, deferred


def _constraints(con, kinds=("PRIMARY KEY", "FOREIGN KEY", "CHECK")):
    return {(r[0], r[1], r[2] or "", tuple(r[3])) for r in con.execute(
        "SELECT table_name, constraint_type, expression, constraint_column_names FROM duckdb_constraints() "
        f"WHERE constraint_type IN ({', '.join(repr(k) for k in kinds)})").fetchall()}


def test_every_rule_of_the_schema_is_either_declared_or_proven():
    declared = duckdb.connect()
    declared.execute(schema_ddl())
    schema = _constraints(declared)
    con, deferred = _new_store()
    importer._enforce(con, deferred)
    kept = _constraints(con)
    proven = {(d.table, "CHECK", e) for d in deferred for e in d.checks}
    proven |= {(d.table, "FOREIGN KEY", cols) for d in deferred for cols, _, _ in d.references}
    for table, kind, expression, columns in schema:
        if kind == "CHECK":
            assert (table, kind, expression, columns) in kept or (table, kind, expression) in proven
        elif kind == "FOREIGN KEY":
            assert (table, kind, expression, columns) in kept or (table, kind, columns) in proven
        else:  # every primary key is back once the rows are in
            assert (table, kind, expression, columns) in kept
    assert {d.table for d in deferred} == set(LOAD_ORDER)
    declared.close()
    con.close()


ROW = ("INSERT INTO entitlements (delivery_id, victim_id, entitlement, triggered_at, delivered_at, outcome) "
       "VALUES (?, ?, 'r3_written_acknowledgement', '2025-03-03', ?, ?)")


@pytest.mark.parametrize("rows", [
    [("D1", "V9", None, None)],  # a victim that is not there
    [("D1", "V1", None, "delivered")],  # delivered without a date (a CHECK)
    [("D1", "V1", "2025-03-01", "delivered")],  # delivered before triggered (a CHECK)
    [("D1", "V1", None, "finished")],  # not an allowed outcome (a CHECK)
    [("D1", "V1", None, None), ("D1", "V1", None, None)],  # the same key twice
])
def test_a_row_breaking_a_rule_taken_off_fails_the_import_as_the_constrained_insert_did(rows):
    con, deferred = _new_store()
    con.executemany(ROW, rows)
    with pytest.raises(duckdb.ConstraintException):
        importer._enforce(con, deferred)
    con.close()


def test_rows_keeping_every_rule_pass_and_get_their_key_back():
    con, deferred = _new_store()
    # Delivered on a later day than triggered; an open row (no outcome, no date), for which a CHECK is NULL.
    con.executemany(ROW, [("D1", "V1", "2025-03-04", "delivered"), ("D2", "V1", None, None)])
    importer._enforce(con, deferred)
    with pytest.raises(duckdb.ConstraintException):  # the primary key holds again from here on
        con.execute(ROW, ("D1", "V1", None, None))
    con.close()


def test_csv_written_by_pythons_csv_module_takes_the_fast_path():
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([["a", "b"], ["1", "x, y"], ["2", 'say "hi"']])
    shape = importer._csv_shape_fast(out.getvalue().encode())
    assert shape is not None and (shape.records, shape.ragged, shape.empty) == (2, 0, 0)


def test_a_file_with_many_quotes_agrees_too():
    # 6,000 records with two quoted values each: 24,000 quote characters, found by numpy rather than one by one.
    text = "a,b,c\n" + "".join(f'"{i}","x, {i}",{i}\n' for i in range(6_000))
    shape = importer._csv_shape_fast(text.encode())
    assert shape is not None and shape.records == 6_000
    assert shape == importer._csv_shape_records(text)


def test_a_schema_holding_a_rule_the_proof_does_not_cover_is_left_as_declared(monkeypatch):
    with_unique = schema_ddl().replace("command_area VARCHAR NOT NULL\n", "command_area VARCHAR NOT NULL UNIQUE\n")
    assert with_unique != schema_ddl()
    monkeypatch.setattr(importer, "schema_ddl", lambda: with_unique)
    con = duckdb.connect()
    assert importer._create_schema(con, "memory") == []
    with pytest.raises(duckdb.ConstraintException):  # the foreign keys are still declared, and enforced
        con.execute("INSERT INTO victims (victim_id, case_id) VALUES ('V1', 'C404')")
    con.close()
