"""The append-only audit trail (DPA 2018 s.62 logging): who did what, when, to which records.

Kept in its own SQLite file beside the store, never inside it: imports replace the store file, and the
dashboard's DuckDB connection (and its SQL box) must not be able to read or alter the trail. SQLite,
because several processes append at once (the dashboard server, and the command-line import and purge).

Append-only twice over: triggers in the file refuse UPDATE, DELETE and any INSERT that would replace a
row; and each row carries the SHA-256 of the previous row's hash and its own content, so an edit made
around the triggers (by dropping them, or by rewriting the file) is found by `verify_trail`.

The trail is personal data itself: it names staff, and the pseudonymous ids of the victims and cases
they looked at. Only the admin role may read it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import stat
import time
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd

__all__ = ["AuditError", "ACTIONS", "default_audit_path", "record", "read_events", "verify_trail"]


class AuditError(Exception):
    """The trail could not be written (or read). A record not written means the action must not happen."""


# Each action and its s.62 category (security-and-reliability.md 3.2). "access" marks security events
# outside s.62's six categories, kept for self-monitoring.
ACTIONS: dict[str, str] = {
    "view_case_level": "consultation",
    "drill_down": "consultation",
    "sql_query": "consultation",
    "view_audit": "consultation",
    "download": "disclosure",
    "import": "collection",
    "edit": "alteration",
    "role_mapping_change": "alteration",
    "combine": "combination",
    "purge": "erasure",
    "sign_in": "access",
    "access_refused": "access",
}

_ADMIN_ROLE = "admin"
_BUSY_TIMEOUT_SECONDS = 10.0  # how long a writer waits for another before giving up (and refusing the action)
_SCHEMA_VERSION = 1
_GENESIS = "0" * 64  # the "previous hash" of the first event
_TEXT_LIMITS = {"user": 320, "role": 64, "page": 128}  # 320: the longest possible email address
_ID_LIMIT = 256
_JSON_LIMIT = 64 * 1024  # filters and detail are parameters, not data extracts
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order
_COLUMNS = ["seq", "event_id", "at", "user", "role", "action", "category", "page", "filters", "ids",
            "row_count", "detail", "prev_hash", "hash"]
_FOREIGN_FILE = "the file is not an audit trail of this version"
_TRIGGERS = ("events_no_update", "events_no_delete", "events_no_replace")

_SCHEMA = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- chain order; gaps mean removed events
    event_id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,                       -- UTC, ISO 8601 with Z
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    category TEXT NOT NULL,                 -- DPA 2018 s.62 category
    page TEXT,
    filters TEXT,                           -- JSON object
    ids TEXT NOT NULL,                      -- JSON array of the pseudonymous ids touched
    row_count INTEGER,
    detail TEXT,                            -- JSON object
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL                      -- sha256(prev_hash + content)
);
CREATE INDEX events_at ON events (at);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
-- INSERT OR REPLACE deletes the clashing row without firing the delete trigger, so clashes are refused first
CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN NEW.seq IS NULL OR NEW.seq <= (SELECT coalesce(max(seq), 0) FROM events)
     OR EXISTS (SELECT 1 FROM events WHERE event_id = NEW.event_id)
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


def default_audit_path(store_path: str | Path) -> Path:
    """Where a store's audit trail lives unless configured otherwise: `<store file>.audit.sqlite`."""
    store = Path(store_path)
    return store.with_name(store.name + ".audit.sqlite")


# --- validation -------------------------------------------------------------------------------------------

def _is_unsafe_char(char: str) -> bool:
    # Control, format (e.g. bidi overrides that reorder what a reviewer sees), surrogate, private-use and
    # unassigned characters, and line or paragraph separators.
    return unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp")


def _checked_text(field: str, value: object, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"audit {field}: must be non-empty text")
    if len(value) > limit:
        raise ValueError(f"audit {field}: longer than {limit} characters")
    if any(_is_unsafe_char(c) for c in value):
        raise ValueError(f"audit {field}: contains a control or invisible character")
    return value


def _checked_ids(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, (str, bytes)):  # a bare string is a sequence of characters, not of ids
        raise ValueError("audit ids: must be a list of ids, not a single string")
    checked = list(ids)
    for position, value in enumerate(checked, start=1):
        # The id itself is never quoted: it identifies a victim or case.
        if not isinstance(value, str) or not value:
            raise ValueError(f"audit ids: item {position} is not a non-empty text id")
        if len(value) > _ID_LIMIT or any(_is_unsafe_char(c) for c in value):
            raise ValueError(f"audit ids: item {position} is longer than {_ID_LIMIT} characters "
                             "or contains a control character")
    return checked


def _json_default(value: object):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


def _checked_json(field: str, value: Mapping | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"audit {field}: must be a dict")
    try:
        text = json.dumps(dict(value), default=_json_default, sort_keys=True, ensure_ascii=False,
                          allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit {field}: cannot be stored as JSON ({exc})") from None
    if len(text) > _JSON_LIMIT:
        raise ValueError(f"audit {field}: more than {_JSON_LIMIT // 1024} KiB as JSON")
    return text


# --- the chain --------------------------------------------------------------------------------------------

def _event_hash(prev_hash: str, row: Mapping) -> str:
    content = json.dumps([row[c] for c in _COLUMNS[:-2]], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc_text(moment: datetime) -> str:
    """UTC text in the trail's format; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime(_TIME_FORMAT)


# --- files and errors -------------------------------------------------------------------------------------

def _create_file(path: Path) -> None:
    """Create the trail file with mode 0600 whatever the umask; an existing file is left alone."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder") from None
        return
    try:
        os.fchmod(descriptor, 0o600)  # the umask can only remove bits; this makes it exactly 0600
    finally:
        os.close(descriptor)


_OS_REASONS = {
    errno.ENOENT: "its folder does not exist",
    errno.ENOTDIR: "part of its path is not a folder",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "no permission to write there",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EISDIR: "the path is a folder",
}


def _reason(exc: Exception) -> str:
    """Plain words for why the trail failed; never the exception text (which can quote SQL or values)."""
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""
        for prefix, words in (("SQLITE_READONLY", "the file is read-only"),
                              ("SQLITE_FULL", "the disk is full"),
                              ("SQLITE_BUSY", f"another process kept it busy for over {_BUSY_TIMEOUT_SECONDS:g} s"),
                              ("SQLITE_LOCKED", "another connection has it locked"),
                              ("SQLITE_NOTADB", "the file is damaged or is not an audit trail"),
                              ("SQLITE_CORRUPT", "the file is damaged"),
                              ("SQLITE_CANTOPEN", "the file cannot be opened"),
                              ("SQLITE_IOERR", "the disk reported a write error (full, or over a size limit)"),
                              ("SQLITE_PERM", "no permission to write it")):
            if name.startswith(prefix):
                return words
        return f"the database reported {name or exc.__class__.__name__}"
    if isinstance(exc, OSError):
        return _OS_REASONS.get(exc.errno, exc.strerror or exc.__class__.__name__)
    return exc.__class__.__name__


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True,
                                     timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
    else:
        connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
    connection.execute("PRAGMA trusted_schema = OFF")
    return connection


def _is_blank(connection: sqlite3.Connection) -> bool:
    """A file with nothing in it yet (created by a writer that has not initialised it, or failed to)."""
    return (connection.execute("PRAGMA user_version").fetchone()[0] == 0
            and connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0)


def _is_trail(connection: sqlite3.Connection) -> bool:
    return connection.execute("PRAGMA user_version").fetchone()[0] == _SCHEMA_VERSION


def _is_trail_or_blank(connection: sqlite3.Connection) -> bool:
    """A writer creating the trail between the two looks makes the file seem neither (not yet a trail, no longer
    blank); the trail it created is committed whole, so one more look then finds it. (Holding a read transaction
    over the looks instead makes the writers that switch the file to WAL fail at once as busy.)"""
    return _is_trail(connection) or _is_blank(connection) or _is_trail(connection)


def _use_wal(connection: sqlite3.Connection) -> None:
    """Switch the file to WAL mode unless it is already. SQLite answers a switch that meets another connection
    with "busy" at once rather than waiting, so it is tried again (as a busy wait would) for up to the busy timeout:
    writers racing to the first record of a new trail otherwise refused one of them."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_SECONDS
    while connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _ensure_schema(connection: sqlite3.Connection) -> None:
    """Inside the write transaction: create the trail in a blank file, refuse any other file."""
    if _is_trail(connection):
        return
    if _is_blank(connection):
        for statement in _SCHEMA.split(";\n"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        return
    raise AuditError(_FOREIGN_FILE)


# --- public API -------------------------------------------------------------------------------------------

def record(audit_db: Path, *, user: str, role: str, action: str, page: str | None = None,
           filters: dict | None = None, ids: Sequence[str] = (), row_count: int | None = None,
           detail: dict | None = None) -> str:
    """Append one event and return its id once it is durably written.

    Raises ValueError for an unknown action or a bad value (before anything is written) and AuditError
    when the trail cannot be written; either way the caller must not carry out the action.
    """
    if action not in ACTIONS:
        raise ValueError(f"audit action: unknown action {action!r} (known: {', '.join(sorted(ACTIONS))})")
    values = {
        "event_id": str(uuid.uuid4()),
        "user": _checked_text("user", user, _TEXT_LIMITS["user"]),
        "role": _checked_text("role", role, _TEXT_LIMITS["role"]),
        "action": action,
        "category": ACTIONS[action],
        "page": _checked_text("page", page, _TEXT_LIMITS["page"], required=False),
        "filters": _checked_json("filters", filters),
        "ids": json.dumps(_checked_ids(ids), ensure_ascii=False, separators=(",", ":")),
        "detail": _checked_json("detail", detail),
    }
    if row_count is not None and (isinstance(row_count, bool) or not isinstance(row_count, int) or row_count < 0):
        raise ValueError("audit row_count: must be a whole number, 0 or more")
    values["row_count"] = row_count

    path = Path(audit_db)
    connection = None
    try:
        _create_file(path)
        connection = _connect(path, read_only=False)
        if not _is_trail_or_blank(connection):  # checked before WAL mode changes the header
            raise AuditError(_FOREIGN_FILE)
        _use_wal(connection)  # lets readers work while a writer appends
        connection.execute("PRAGMA synchronous = FULL")  # returned means on disk
        connection.execute("BEGIN IMMEDIATE")  # one writer at a time: the chain has no forks
        try:
            _ensure_schema(connection)
            last = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            head = connection.execute("SELECT hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            # The time is taken under the lock, so the chain's order is also the order of the times.
            row = {**values, "seq": (last[0] if last else 0) + 1, "at": _utc_text(_now())}
            row["prev_hash"] = head[0] if head else _GENESIS
            row["hash"] = _event_hash(row["prev_hash"], row)
            connection.execute(f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES "
                               f"({', '.join(':' + c for c in _COLUMNS)})", row)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    except AuditError as exc:
        raise AuditError(f"The audit trail {path} could not be written: {exc}.") from None
    except (sqlite3.Error, OSError) as exc:
        raise AuditError(f"The audit trail {path} could not be written: {_reason(exc)}.") from None
    finally:
        if connection is not None:
            connection.close()
    return row["event_id"]


def _empty_events() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in _COLUMNS[:-2]})
    frame["seq"] = frame["seq"].astype("int64")
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["row_count"] = frame["row_count"].astype("Int64")
    return frame


def read_events(audit_db: Path, *, role: str, since: datetime | None = None, until: datetime | None = None,
                user: str | None = None, action: str | None = None, limit: int = 1000) -> pd.DataFrame:
    """Events newest first, for the admin role only: since <= at < until (naive datetimes are UTC).

    Columns: seq, event_id, at (UTC), user, role, action, category, page, filters (dict or None),
    ids (list), row_count, detail (dict or None).
    """
    if role != _ADMIN_ROLE:
        raise PermissionError("Only the admin role may read the audit trail.")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError("audit limit: must be a whole number, 1 or more")
    path = Path(audit_db)
    if not path.exists():
        return _empty_events()
    conditions, parameters = [], []
    for clause, value in (("at >= ?", since), ("at < ?", until)):
        if value is not None:
            conditions.append(clause)
            parameters.append(_utc_text(value))
    for clause, value in (("user = ?", user), ("action = ?", action)):
        if value is not None:
            conditions.append(clause)
            parameters.append(value)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    connection = None
    try:
        connection = _connect(path, read_only=True)
        if _is_blank(connection):
            return _empty_events()
        rows = connection.execute(f"SELECT {', '.join(_COLUMNS[:-2])} FROM events {where} "
                                  "ORDER BY seq DESC LIMIT ?", [*parameters, limit]).fetchall()
    except sqlite3.Error as exc:
        raise AuditError(f"The audit trail {path} could not be read: {_reason(exc)}.") from None
    finally:
        if connection is not None:
            connection.close()
    if not rows:
        return _empty_events()
    columns = {name: [row[i] for row in rows] for i, name in enumerate(_COLUMNS[:-2])}
    for name in ("filters", "ids", "detail"):
        columns[name] = [None if text is None else json.loads(text) for text in columns[name]]
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})
    frame["seq"] = frame["seq"].astype("int64")
    frame["at"] = pd.to_datetime(frame["at"], format=_TIME_FORMAT, utc=True)
    frame["row_count"] = frame["row_count"].astype("Int64")
    return frame


def _events_text(first: int, last: int) -> str:
    return f"Event {first} is" if first == last else f"Events {first} to {last} are"


def verify_trail(audit_db: Path) -> list[str]:
    """Check the trail is whole and unaltered; returns the problems found, in plain words (empty = intact).

    Recomputes the hash chain and reports its first broken link; also reports missing append-only
    triggers, missing events at the end, and a file others may read.
    """
    path = Path(audit_db)
    if not path.exists():
        return [f"There is no audit trail at {path}: nothing has been recorded yet, or the file was removed."]
    problems = []
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        problems.append(f"The trail file can be read or written by others (mode {mode:04o}; it should be 0600).")
    connection = None
    try:
        connection = _connect(path, read_only=True)
        if connection.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            return problems + ["The trail file is damaged (SQLite's integrity check failed)."]
        if _is_blank(connection):
            return problems  # created, but nothing recorded yet
        if not _is_trail(connection):
            return problems + ["The file is not an audit trail of this version."]
        triggers = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        missing = [t for t in _TRIGGERS if t not in triggers]
        if missing:
            problems.append(f"The append-only guards are missing ({', '.join(missing)}): the trail could have "
                            "been edited.")
        expected_seq, prev_hash = 1, _GENESIS
        for values in connection.execute(f"SELECT {', '.join(_COLUMNS)} FROM events ORDER BY seq"):
            row = dict(zip(_COLUMNS, values))
            seq = row["seq"]
            if seq != expected_seq:
                problems.append(f"{_events_text(expected_seq, seq - 1)} missing: removed from the trail.")
                break
            if row["prev_hash"] != prev_hash:
                problems.append(f"Event {seq} does not link to the event before it: the chain was rewritten "
                                "from there, or events before it were removed.")
                break
            if _event_hash(prev_hash, row) != row["hash"]:
                problems.append(f"Event {seq} was changed after it was written: its content no longer matches "
                                "its hash.")
                break
            expected_seq, prev_hash = seq + 1, row["hash"]
        else:
            last = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            if last and last[0] >= expected_seq:
                problems.append(f"{_events_text(expected_seq, last[0])} missing: the end of the trail was removed.")
    except sqlite3.Error as exc:
        problems.append(f"The trail could not be checked: {_reason(exc)}.")
    finally:
        if connection is not None:
            connection.close()
    return problems
