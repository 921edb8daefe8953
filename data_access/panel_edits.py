"""Recording feedback panels, their findings and the actions they led to: the Feedback panels page's data access.

An edit is a tiny import. The edited row, with every column of its table, becomes a one-row CSV that goes
through data_access.importer.import_files like any export: the same validation, the same upsert by id, the same
all-or-nothing rebuild and swap under the import lock. So there is one source of truth and one set of rules.

Before the importer is called, the row is checked field by field here (validate_row), so a mistake is refused
with the field and the reason and nothing is written: the importer would otherwise commit an import that
rejected the row, which changes the store's import history. The form's rules are a little stricter than the
importer's (an action that is done needs its completion date; a finding's entitlement must belong to its right).

Optimistic concurrency: the form keeps the row as it was when the user opened it (`original`). The importer
calls `expect` while holding its lock, before it builds anything; it reads the live row and refuses the save if
the row changed since it was opened, naming the fields. The check and the write are therefore atomic.

Only the victim services role records panels (EDIT_ROLES): the board and the action group read the log;
administrators load exports on the Data page but do not author the panel record.

Reads for the page are here too: the three tables as stored, and the planning counts of finalised cases per theme
(SQL from metrics.panel_planning; aggregates only).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from data_access.importer import FIRST_YEAR, LAST_YEAR, TABLE_COLUMNS, Column, ImportReport, import_files
from data_access.store import Store, StoreError, open_store, quote_identifier
from metrics.catalogue import Catalogue
from metrics.panel_planning import theme_cases_sql, theme_counts

__all__ = ["EDITABLE_TABLES", "EDIT_ROLES", "FIELD_LABELS", "TABLE_NOUNS", "TEXT_LIMITS", "FieldProblem", "Conflict",
           "EditResult", "may_edit", "new_id", "read_table", "read_row", "row_texts", "changed_fields",
           "validate_row", "save_row", "finalised_cases_by_theme"]

log = logging.getLogger(__name__)

EDITABLE_TABLES = ("panels", "panel_findings", "actions")
EDIT_ROLES = frozenset({"victim_services"})
TABLE_NOUNS = {"panels": "panel", "panel_findings": "finding", "actions": "action"}
_ID_PREFIXES = {"panels": "PNL-", "panel_findings": "FND-", "actions": "ACT-"}
# Every field as the form labels it; refusals name the field by this label.
FIELD_LABELS = {
    "panel_id": "Panel id", "held_on": "Held on", "title": "Title", "themes": "Themes", "format": "Format",
    "staff_attendees": "Staff attending", "victims_live": "Victims heard live",
    "victims_recorded": "Victims heard pre-recorded", "victims_via_support_worker": "Victims heard through a support worker",
    "staff_feedback_score": "Staff feedback score",
    "finding_id": "Finding id", "kind": "Kind", "right_no": "Right", "entitlement": "Entitlement", "summary": "Summary",
    "action_id": "Action id", "owner": "Owner", "raised_on": "Raised on", "due_on": "Due on", "status": "Status",
    "completed_on": "Completed on", "measure": "Measure",
}
# Free text is bounded so a paste of a whole document is refused rather than stored.
TEXT_LIMITS = {"title": 300, "owner": 120, "summary": 4000}
_ID_LIMIT = 64
# Text a spreadsheet would run as a formula: the importer refuses it, so the form does too.
_FORMULA_START = re.compile(r"^[\t\r\n]|^\s*[=+@-]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT_TEXT = re.compile(r"-?[0-9]+")
_NUMBER_TEXT = re.compile(r"-?[0-9]+([.][0-9]+)?")


@dataclass(frozen=True)
class FieldProblem:
    field: str  # the column name
    reason: str  # plain words, never quoting the value

    @property
    def message(self) -> str:
        return f"{FIELD_LABELS.get(self.field, self.field)}: {self.reason}"


@dataclass(frozen=True)
class Conflict:
    """A field someone else changed after the user opened the row."""

    field: str
    opened: str  # the value when the user opened the row ('' = empty)
    stored: str  # the value in the store now


@dataclass(frozen=True)
class EditResult:
    status: str  # saved | unchanged | invalid | conflict | refused | failed
    table: str
    row_id: str
    message: str  # plain words; names fields, never quotes their values
    problems: tuple[FieldProblem, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    import_id: str | None = None

    @property
    def saved(self) -> bool:
        return self.status == "saved"


def may_edit(role: str | None) -> bool:
    return role in EDIT_ROLES


def _check_table(table: str) -> tuple[Column, ...]:
    if table not in EDITABLE_TABLES:
        raise ValueError(f"{table!r} cannot be edited here; choose from {', '.join(EDITABLE_TABLES)}")
    return TABLE_COLUMNS[table]


def new_id(table: str) -> str:
    """A new id for a row of `table`, e.g. 'ACT-3F9A0C1D' (32 random bits: a clash is refused, never merged)."""
    _check_table(table)
    return _ID_PREFIXES[table] + secrets.token_hex(4).upper()


# --- reading ---------------------------------------------------------------------------------------------

def read_table(store: Store, table: str) -> pd.DataFrame:
    """Every row of an editable table, every column, in id order. Free text is untrusted: show it as text."""
    spec = _check_table(table)
    names = ", ".join(quote_identifier(c.name) for c in spec)
    # Identifiers come from the contract (an allow-list), never from input.
    return store.query(f"SELECT {names} FROM {quote_identifier(table)} ORDER BY {quote_identifier(spec[0].name)}")  # noqa: S608


def read_row(store: Store, table: str, row_id: str) -> dict[str, str] | None:
    """One row as the form's texts (row_texts), or None when there is no row with that id."""
    spec = _check_table(table)
    names = ", ".join(quote_identifier(c.name) for c in spec)
    frame = store.query(f"SELECT {names} FROM {quote_identifier(table)} "  # noqa: S608 - allow-listed identifiers
                        f"WHERE {quote_identifier(spec[0].name)} = $id", {"id": str(row_id)})
    if frame.empty:
        return None
    return row_texts(table, frame.iloc[0].to_dict())


def finalised_cases_by_theme(store: Store, as_of: date, since: date) -> pd.DataFrame:
    """Per panel theme, the cases closed from `since` to `as_of` with no complaint open on `as_of` (counts only;
    see metrics.panel_planning): theme, label, cases, definition."""
    sql, params = theme_cases_sql(as_of, since)
    return theme_counts(store.query(sql, params))


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set)):
        return len(value) == 0
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_text(column: Column, value) -> str:
    """A value as the one-row file writes it and as rows are compared: '' for empty, dates YYYY-MM-DD, whole
    numbers without a decimal point, other numbers by repr, themes joined by ';'. Text is trimmed."""
    if _is_missing(value):
        return ""
    if column.kind == "themes" and isinstance(value, (list, tuple)):
        return ";".join(str(v).strip() for v in value)
    if column.kind == "date" and isinstance(value, (date, datetime, pd.Timestamp)):
        return pd.Timestamp(value).date().isoformat()
    if column.kind == "int" and isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if column.kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    return str(value).strip()


def row_texts(table: str, row: Mapping) -> dict[str, str]:
    """Every column of the table as text (see _as_text); a column missing from `row` is empty."""
    return {c.name: _as_text(c, row.get(c.name)) for c in _check_table(table)}


def changed_fields(table: str, original: Mapping | None, row: Mapping) -> list[str]:
    """The columns whose value differs between the row as opened and as edited (every filled one for a new row)."""
    new = row_texts(table, row)
    if original is None:
        return [name for name, value in new.items() if value]
    old = row_texts(table, original)
    return [name for name in new if new[name] != old[name]]


# --- validation ------------------------------------------------------------------------------------------

def _date_problem(text: str) -> str | None:
    if not _ISO_DATE.fullmatch(text):
        return "is not a date written YYYY-MM-DD"
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return "is not a real date (for example 30 February)"
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        return f"is outside the years {FIRST_YEAR} to {LAST_YEAR}"
    return None


def _bounds_text(column: Column) -> str:
    if column.low is not None and column.high is not None:
        return f"from {column.low:g} to {column.high:g}"
    return f"{column.low:g} or more" if column.low is not None else f"{column.high:g} or less"


def _column_problem(table: str, column: Column, text: str, catalogue: Catalogue) -> str | None:
    """The first thing wrong with one field's text, in words, or None."""
    if not text:
        return "is required" if column.required else None
    if column.kind in ("id", "text"):
        if _FORMULA_START.match(text):
            return ("starts with =, +, -, @, a tab or a line break, which a spreadsheet could run as a formula; "
                    "start it with a letter or a number")
        limit = _ID_LIMIT if column.kind == "id" else TEXT_LIMITS.get(column.name)
        if limit is not None and len(text) > limit:
            return f"is longer than {limit:,} characters"
        allowed_breaks = "\n" if column.name == "summary" else ""
        if any(ord(ch) < 32 and ch not in allowed_breaks for ch in text):
            return "contains a control character (such as a tab or a line break)"
    if column.kind == "date":
        return _date_problem(text)
    if column.kind == "int":
        if not _INT_TEXT.fullmatch(text):
            return "is not a whole number"
        value = int(text)
        if (column.low is not None and value < column.low) or (column.high is not None and value > column.high):
            return f"must be {_bounds_text(column)}"
    if column.kind == "number":
        if not _NUMBER_TEXT.fullmatch(text):
            return "is not a number (write it like 4 or 4.5)"
        value = float(text)
        if (column.low is not None and value < column.low) or (column.high is not None and value > column.high):
            return f"must be {_bounds_text(column)}"
    if column.kind == "enum" and text not in column.values:
        return f"is not one of the allowed values ({', '.join(column.values)})"
    if column.kind == "themes":
        themes = [t.strip() for t in text.split(";")]
        unknown = [t for t in themes if t not in column.values]
        if unknown:
            return f"must be one or more of {', '.join(column.values)}"
        if len(set(themes)) != len(themes):
            return "names a theme more than once"
    if column.kind == "code" and text not in {e.code for e in catalogue.entitlements}:
        return "is not an entitlement code of the catalogue (docs/catalogue.md)"
    if table == "actions" and column.name == "measure":
        codes = {e.code for e in catalogue.entitlements} | {m.code for m in catalogue.contact_measures}
        if text not in codes:
            return "is not an entitlement code or a contact-log measure code of the catalogue"
    return None


def validate_row(table: str, row: Mapping, catalogue: Catalogue, *, today: date | None = None) -> list[FieldProblem]:
    """Every problem with a row, field by field (at most one per field), before anything is written."""
    spec = _check_table(table)
    texts = row_texts(table, row)
    problems = [FieldProblem(c.name, reason) for c in spec
                if (reason := _column_problem(table, c, texts[c.name], catalogue)) is not None]
    bad = {p.field for p in problems}

    def day(name: str) -> date | None:
        return date.fromisoformat(texts[name]) if texts[name] and name not in bad else None

    if table == "actions":
        raised, due, completed = day("raised_on"), day("due_on"), day("completed_on")
        if raised and due and due < raised:
            problems.append(FieldProblem("due_on", "is before Raised on: an action cannot fall due before it is raised"))
        if "completed_on" not in bad and "status" not in bad:
            if texts["status"] == "done" and not texts["completed_on"]:
                problems.append(FieldProblem("completed_on", "is required when the status is done"))
            elif texts["status"] != "done" and texts["completed_on"]:
                problems.append(FieldProblem("completed_on", "is only for an action that is done: clear it, or set "
                                                             "the status to done"))
        if raised and completed and completed < raised:
            problems.append(FieldProblem("completed_on", "is before Raised on"))
        elif completed and completed > (today or date.today()):
            problems.append(FieldProblem("completed_on", "is in the future"))
    if table == "panel_findings" and texts["entitlement"] and texts["right_no"] and not bad & {"entitlement", "right_no"}:
        owner = catalogue.entitlement(texts["entitlement"]).right_no
        if owner != int(texts["right_no"]):
            problems.append(FieldProblem("entitlement", f"belongs to Right {owner}, not to the Right chosen"))
    order = [c.name for c in spec]
    return sorted(problems, key=lambda p: order.index(p.field))


# --- saving ----------------------------------------------------------------------------------------------

def _one_row_csv(table: str, texts: Mapping[str, str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = [c.name for c in TABLE_COLUMNS[table]]
    writer.writerow(names)
    writer.writerow([texts[name] for name in names])
    return buffer.getvalue().encode("utf-8")


@dataclass
class _LiveCheck:
    """What the importer's `expect` call found in the live store (kept for the result; the message names fields only)."""

    conflicts: list[Conflict] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)


def _live_check(table: str, texts: Mapping[str, str], original: Mapping[str, str] | None, found: _LiveCheck):
    spec = TABLE_COLUMNS[table]
    key = spec[0].name
    noun = TABLE_NOUNS[table]

    def expect(db: Path) -> str | None:
        try:
            store = open_store(db)
        except StoreError as exc:
            return f"the store could not be read to check the {noun} before saving it ({exc})"
        try:
            current = read_row(store, table, texts[key])
            for column in spec:
                parent = column.references
                if parent and texts[column.name] and read_row(store, parent, texts[column.name]) is None:
                    found.problems.append(FieldProblem(
                        column.name, f"names a {TABLE_NOUNS[parent]} that is not in the store (it may have been "
                                     "removed since this page was opened)"))
        finally:
            store.close()
        if original is None and current is not None:
            found.conflicts.extend(Conflict(c.name, "", current[c.name]) for c in spec if current[c.name])
            return f"not saved: a {noun} with this id was saved by someone else a moment ago; nothing was changed"
        if original is not None:
            if current is None:
                return f"not saved: this {noun} is no longer in the store (the store was replaced since you opened it)"
            found.conflicts.extend(Conflict(c.name, original[c.name], current[c.name]) for c in spec
                                   if original[c.name] != current[c.name])
            if found.conflicts:
                names = ", ".join(FIELD_LABELS[c.field] for c in found.conflicts)
                return (f"not saved: someone else changed this {noun} after you opened it ({names}); nothing was "
                        "changed")
        if found.problems:
            return "not saved: " + "; ".join(p.message for p in found.problems)
        return None

    return expect


def _store_as_of(db: Path) -> date | None:
    try:
        store = open_store(db)
    except StoreError:
        return None  # the importer will refuse the store and say why
    try:
        return store.meta.data_as_of
    finally:
        store.close()


def save_row(db_path: str | Path, table: str, row: Mapping, *, original: Mapping | None, user: str, role: str,
             catalogue: Catalogue, today: date | None = None) -> EditResult:
    """Validate a panel, finding or action and save it into the store through the importer, all or nothing.

    `original` is the row as the user opened it (None for a new row); the save is refused, naming the fields,
    if the stored row has changed since. The store's data-as-of date is kept. Raises PermissionError for a role
    outside EDIT_ROLES (checked before anything else). Never raises for bad input: the result says what happened.
    """
    if not may_edit(role):
        raise PermissionError(f"the {role!r} role may not record panels, findings or actions")
    spec = _check_table(table)
    key = spec[0].name
    noun = TABLE_NOUNS[table]
    texts = row_texts(table, row)
    opened = None if original is None else row_texts(table, original)
    if opened is not None and opened[key] != texts[key]:
        raise ValueError(f"the {noun}'s id cannot change while it is edited")
    problems = validate_row(table, texts, catalogue, today=today)
    if problems:
        return EditResult("invalid", table, texts[key], f"Not saved: {len(problems)} field(s) need correcting.",
                          problems=tuple(problems))
    if opened is not None and opened == texts:
        return EditResult("unchanged", table, texts[key], "Nothing to save: no field was changed.")
    db = Path(db_path)
    found = _LiveCheck()
    report: ImportReport = import_files(
        db, [(f"{table}.csv", _one_row_csv(table, texts))], user, reload=True, data_as_of=_store_as_of(db),
        catalogue=catalogue, expect=_live_check(table, texts, opened, found))
    result = _result(table, texts[key], report, found)
    log.info("edit of %s %s by %s: %s", noun, texts[key], user, result.status)
    return result


def _result(table: str, row_id: str, report: ImportReport, found: _LiveCheck) -> EditResult:
    noun = TABLE_NOUNS[table]
    file = report.files[0] if report.files else None
    if report.status == "committed" and file is not None and file.rows_loaded == 1:
        return EditResult("saved", table, row_id, f"Saved {noun} {row_id}.", import_id=report.import_id)
    if report.status == "committed":  # the importer rejected the row: the form's checks should have caught it
        problems = tuple(FieldProblem(column.strip(), reject.reason) for reject in (file.rejects if file else ())
                         for column in (reject.column or "").split(",") if column.strip())
        return EditResult("invalid", table, row_id, f"Not saved: the import checks rejected the {noun} "
                          "(see the import history on the Data page).", problems=problems, import_id=report.import_id)
    if found.conflicts:
        return EditResult("conflict", table, row_id, _sentence(report.message), conflicts=tuple(found.conflicts),
                          import_id=report.import_id)
    if found.problems:
        return EditResult("invalid", table, row_id, f"Not saved: {len(found.problems)} field(s) need correcting.",
                          problems=tuple(found.problems), import_id=report.import_id)
    status = "refused" if report.status in ("refused", "nothing_to_do") else "failed"
    return EditResult(status, table, row_id, _sentence(report.message), import_id=report.import_id)


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."
