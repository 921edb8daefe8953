"""Data (administrators only): load the force's exports, every import with its rejected rows, and data-quality
checks over the store."""

import hashlib
import io
import json
import logging
import re

import pandas as pd
import streamlit as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from data_access import audit
from data_access.importer import ImportReport, import_files, list_imports, list_rejects
from data_access.quality import quality_checks
from data_access.store import Store, StoreError
from ui import display
from ui.frame import page_context

ctx = page_context("data")
PAGE_ID = "data"
store = ctx.store
log = logging.getLogger("pages.data")

# Per file. An entitlements CSV takes about 107 bytes a row (the demo's), so 200 MB holds some 1.9 million rows:
# more than a force-year of 160,000 cases (about 1.5 million entitlements). Bigger loads: the command line.
MAX_UPLOAD_MB = 200
_UPLOAD_ROUND = "data_upload_round"  # bumped after a committed import, which gives the uploader a new, empty key
_LAST_REPORT = "data_last_report"
_PREPARED = "data_prepared_rejects"
_RAW_VIEWS = "data_raw_views_recorded"
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"); leading spaces
# are trimmed by some spreadsheets, so they do not hide it.
_FORMULA_START = re.compile(r"^[\t\r]|^\s*[=+\-@]")
_FILE_STATUS = {"loaded": "Loaded", "already_loaded": "Already loaded (identical file)", "refused": "Refused",
                "not_loaded": "Not loaded"}
_IMPORT_STATUS = {"committed": "Loaded", "nothing_to_do": "Nothing new", "refused": "Refused", "failed": "Failed"}
_ACTION_WORDS = {"import": "import", "download": "download", "view_case_level": "display of the rows"}


def recorded(action: str, **details) -> bool:
    """Write the audit record an action needs before it happens; False (with the reason shown) if it cannot be."""
    try:
        audit.record(ctx.audit_db, user=ctx.user, role=ctx.role, action=action, page=PAGE_ID, **details)
    except (audit.AuditError, ValueError) as exc:  # ValueError: a value the trail refuses; nothing was written
        log.error("audit record for %s failed: %s", action, exc.__class__.__name__)
        words = _ACTION_WORDS[action]
        st.error(f"The audit trail could not record this {words}, so it was not done: every {words} on this page "
                 f"is recorded first. Ask whoever runs the server to check that the audit file "
                 f"({display.plain(ctx.audit_db.name)}) can be written, then try again.", icon=":material/error:")
        return False
    return True


# --- load exports ------------------------------------------------------------------------------------

def import_uploads(uploads, data_as_of) -> None:
    files = [(upload.name, upload.getvalue()) for upload in uploads]
    described = [{"file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                 for name, data in files]
    if not recorded("import", detail={"stage": "requested", "files": described, "data_as_of": data_as_of}):
        return
    with st.spinner("Importing: every row is being checked…", show_time=True):
        report = import_files(store.path, files, ctx.user, data_as_of=data_as_of)
    outcome = {"stage": "finished", "import_id": report.import_id, "status": report.status,
               "files": [{"file": f.name, "status": f.status, "rows_read": f.rows_read, "rows_loaded": f.rows_loaded,
                          "rows_rejected": f.rows_rejected} for f in report.files]}
    try:  # the import has happened and its request is on record: a failure here is reported, not fatal
        audit.record(ctx.audit_db, user=ctx.user, role=ctx.role, action="import", page=PAGE_ID,
                     row_count=sum(f.rows_loaded for f in report.files), detail=outcome)
    except (audit.AuditError, ValueError) as exc:
        log.error("audit record of an import's outcome failed: %s", exc.__class__.__name__)
        st.session_state["data_outcome_unrecorded"] = report.import_id
    st.session_state[_LAST_REPORT] = report
    if report.status == "committed":
        st.session_state[_UPLOAD_ROUND] = st.session_state.get(_UPLOAD_ROUND, 0) + 1
        for key in ("data_import_id", "data_reject_file"):  # show the new import's rejects first
            st.session_state.pop(key, None)
        # The frame opens the new store file on the rerun (it is cached by path and modification time); cached
        # figures are keyed by the store's build time, which has one-second resolution, so clear them too.
        st.cache_data.clear()
        st.rerun()


def show_report(report: ImportReport) -> None:
    summary = f"Import {report.import_id} by {display.plain(report.user)}: {display.plain(report.message)}."
    {"committed": st.success, "nothing_to_do": st.info}.get(report.status, st.error)(summary)
    if st.session_state.get("data_outcome_unrecorded") == report.import_id:
        st.warning("The import's request is in the audit trail, but its outcome could not be added to it.",
                   icon=":material/warning:")
    st.dataframe(pd.DataFrame({
        "File": [f.name for f in report.files],
        "Table": [f.table or "–" for f in report.files],
        "Outcome": [_FILE_STATUS.get(f.status, f.status) for f in report.files],
        "Read": [f.rows_read for f in report.files],
        "Loaded": [f.rows_loaded for f in report.files],
        "Rejected": [f.rows_rejected for f in report.files],
        "What happened": [f.message for f in report.files],
    }), hide_index=True, width="stretch")
    st.caption("Every row read is either loaded or rejected: read = loaded + rejected, checked before anything is "
               "saved. A rejected row is kept with its line and reason (see the import history below); the rest "
               "load. If any file is refused, no file of the import is loaded.")
    notes = list(report.notes) + [f"{f.name}: {note}" for f in report.files for note in f.notes]
    for note in notes:
        st.caption(display.plain(note))
    for f in report.files:
        if f.rejects:
            shown = f"the first {len(f.rejects)}" if f.rows_rejected > len(f.rejects) else "all"
            st.markdown(f"Rejected rows of **{display.plain(f.name)}** ({shown} of {f.rows_rejected:,}):")
            st.dataframe(pd.DataFrame({"Line": [r.line for r in f.rejects], "Column": [r.column for r in f.rejects],
                                       "Reason": [r.reason for r in f.rejects]}), hide_index=True, width="stretch")


DEMO_NOTE = (
    "**This dashboard is running on the synthetic demo store, which refuses imports**, so real exports are never "
    "mixed with invented records. To load the force's exports, whoever runs the server points the dashboard at a "
    "real store, with the environment variable `VCD_STORE=/path/to/store.duckdb` or `path` under `[store]` in "
    "`.streamlit/secrets.toml`, and configures sign-in (a real store is never shown without it). The first import, "
    "which creates the store, is made from the command line: `python -m data_access import --db "
    "/path/to/store.duckdb exports/`. Later imports can be made here. An upload to the demo store is still checked "
    "and the importer says why it refuses it.")

st.caption(f"Store {display.plain(store.path.name)}: built {store.meta.built_at.replace('T', ' ')[:16]} UTC, data as "
           f"of {store.meta.data_as_of:%d %B %Y}. The sidebar filters do not apply on this page.")
st.markdown("#### Load exports")
if store.meta.is_demo:
    st.info(DEMO_NOTE, icon=":material/science:")
uploads = st.file_uploader(
    "Export files", type=[".csv", ".xlsx", ".parquet"], accept_multiple_files=True, max_upload_size=MAX_UPLOAD_MB,
    key=f"data_upload_{st.session_state.get(_UPLOAD_ROUND, 0)}",
    help=f"One file per table of the data contract, named after the table: cases.csv, victims.parquet, "
         f"entitlements.xlsx and so on. CSV in UTF-8, Excel .xlsx (first sheet) or Parquet; up to {MAX_UPLOAD_MB} MB "
         "each. docs/data-contract.md lists the columns and rules.")
st.caption("Every row is checked against the data contract. Rows with the same id as a stored row replace it; a file "
           "identical to one already loaded is recognised and not loaded again. The new data is built beside the "
           "live store and swapped in only when complete, so a failed import changes nothing. Each import is "
           "recorded in the audit trail before it starts.")
extracted_on = st.columns([1, 3])[0].date_input(
    "Data as of (optional)", value=None, key="data_as_of", format="YYYY-MM-DD",
    help="The date the exports were extracted: figures count only what had happened by then, and what falls due "
         "after it is 'not yet due'. Leave it empty to use the latest date in the data (at most today).")
if st.button("Import", type="primary", icon=":material/upload:", disabled=not uploads, key="data_import"):
    import_uploads(uploads, extracted_on)
if _LAST_REPORT in st.session_state:
    show_report(st.session_state[_LAST_REPORT])


# --- import history and rejects ----------------------------------------------------------------------

def spreadsheet_text(value):
    """A cell a spreadsheet shows as text and never runs: one starting with = + - @ (or a tab or carriage
    return) gets a leading single quote."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value)
    return "'" + text if _FORMULA_START.match(text) else text


def rejects_sheet(rejects: pd.DataFrame) -> pd.DataFrame:
    """One row per rejected line: its line, the column(s) at fault and why, then the row as exported, under the
    file's own column names, so the data owner can find and correct it at source. Every text cell is made safe."""
    parsed = []
    for raw in rejects["raw_row"]:
        try:
            row = json.loads(raw)
        except (TypeError, ValueError):
            row = {"(row as exported)": raw}
        parsed.append(row if isinstance(row, dict) else {"(row as exported)": raw})
    columns = list(dict.fromkeys(key for row in parsed for key in row))
    header = ["line", "column(s) at fault", "reason"] + [spreadsheet_text(c) for c in columns]
    rows = [[int(line), spreadsheet_text(column), spreadsheet_text(reason)]
            + [spreadsheet_text(row.get(c)) for c in columns]
            for line, column, reason, row in zip(rejects["line"], rejects["column_name"], rejects["reason"], parsed)]
    return pd.DataFrame(rows, columns=header)


def sheet_csv(sheet: pd.DataFrame) -> bytes:
    return sheet.to_csv(index=False).encode("utf-8-sig")  # the byte-order mark makes Excel read it as UTF-8


def sheet_xlsx(sheet: pd.DataFrame, sheet_name: str) -> bytes:
    # openpyxl refuses control characters in a cell; a raw row may hold them, so they are shown as U+FFFD.
    cleaned = sheet.map(lambda v: ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v)
    cleaned.columns = [ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(c)) for c in sheet.columns]
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        cleaned.to_excel(writer, index=False, sheet_name=sheet_name[:31])
    return buffer.getvalue()


def import_label(row: pd.Series) -> str:
    return (f"{row['imported_at']:%d %b %Y %H:%M} UTC by {row['imported_by']}: {row['files']} file(s), "
            f"{int(row['rows_rejected']):,} row(s) rejected ({row['import_id']})")


def history_table(history: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "When (UTC)": history["imported_at"].dt.strftime("%Y-%m-%d %H:%M"),
        "Who": history["imported_by"],
        "Import": history["import_status"].map(lambda s: _IMPORT_STATUS.get(s, s)),
        "File": history["file_name"],
        "Table": history["table_name"].fillna("–"),
        "Checksum": history["sha256"].map(lambda s: s[:12] + "…" if isinstance(s, str) and s else "–"),
        "File outcome": history["status"].map(lambda s: _FILE_STATUS.get(s, s)),
        "Read": history["rows_read"].astype("Int64"),
        "Loaded": history["rows_loaded"].astype("Int64"),
        "Rejected": history["rows_rejected"].astype("Int64"),
        "Message": history["message"],
    })


def rejects_section(history: pd.DataFrame) -> None:
    committed = history[history["import_status"] == "committed"]
    if committed.empty:
        st.caption("No import has loaded anything into this store yet, so there are no rejected rows to show.")
        return
    imports = (committed.groupby("import_id", sort=False)
               .agg(imported_at=("imported_at", "first"), imported_by=("imported_by", "first"),
                    files=("file_no", "count"), rows_rejected=("rows_rejected", "sum")).reset_index())
    labels = {row["import_id"]: import_label(row) for _, row in imports.iterrows()}
    import_id = st.selectbox("Rejected rows of the import", list(labels), format_func=labels.get, key="data_import_id")
    files = committed[(committed["import_id"] == import_id) & (committed["rows_rejected"] > 0)]
    if files.empty:
        st.caption("No row of this import was rejected.")
        return
    file_name = st.selectbox("File", list(files["file_name"]), key="data_reject_file")
    table = files.loc[files["file_name"] == file_name, "table_name"].iloc[0]
    rejects = list_rejects(store.path, import_id, file_name, role=ctx.role)
    st.dataframe(pd.DataFrame({"Line": rejects["line"], "Column": rejects["column_name"].replace("", "(whole line)"),
                               "Reason": rejects["reason"]}), hide_index=True, width="stretch")
    st.caption(f"{len(rejects):,} rejected line(s) of {display.plain(file_name)}. Lines are counted as in the file "
               "(the header is line 1; in Excel, the worksheet's row number).")
    if ctx.role != "admin":  # the page is for administrators only; the rows themselves doubly so
        return
    which = (import_id, file_name)
    with st.expander("The rejected rows as exported (personal data)"):
        st.caption("These are the rows exactly as the export held them. Showing them is recorded in the audit trail.")
        if st.toggle("Show the rows", key="data_show_raw"):
            views = st.session_state.setdefault(_RAW_VIEWS, set())
            if which in views or recorded("view_case_level", row_count=len(rejects),
                                          detail={"what": "rejected rows as exported", "import_id": import_id,
                                                  "file": file_name}):
                views.add(which)
                st.dataframe(pd.DataFrame({"Line": rejects["line"], "Row as exported": rejects["raw_row"]}),
                             hide_index=True, width="stretch")
    st.markdown("**Download the rejected rows** to correct them at source")
    st.caption("The files hold each rejected line, its reason and the row as exported (personal data: delete them "
               "once the rows are corrected). A download is recorded in the audit trail before the file is made, so "
               "first prepare it, then choose CSV or Excel. Cells that a spreadsheet would run as a formula start "
               "with a single quote.")
    prepared = st.session_state.get(_PREPARED)
    if prepared is None or prepared["which"] != which:
        if st.button("Prepare download", icon=":material/description:", key="data_prepare"):
            if recorded("download", row_count=len(rejects),
                        detail={"what": "rejected rows as exported", "import_id": import_id, "file": file_name,
                                "formats": ["csv", "xlsx"]}):
                sheet = rejects_sheet(rejects)
                prepared = {"which": which, "csv": sheet_csv(sheet), "xlsx": sheet_xlsx(sheet, table)}
                st.session_state[_PREPARED] = prepared
    if prepared is not None and prepared["which"] == which:
        stem = f"rejects-{import_id}-{table}"
        left, right = st.columns(2)
        left.download_button("Download CSV", prepared["csv"], file_name=f"{stem}.csv", mime="text/csv",
                             on_click="ignore", icon=":material/download:", key="data_download_csv")
        right.download_button("Download Excel", prepared["xlsx"], file_name=f"{stem}.xlsx",
                              mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                              on_click="ignore", icon=":material/download:", key="data_download_xlsx")


st.markdown("#### Import history")
try:
    history = list_imports(store.path)
except StoreError as exc:
    log.error("import history unreadable: %s", exc.__class__.__name__)
    st.error("The import history cannot be read from the store.", icon=":material/error:")
    history = None
if history is not None:
    if history.empty:
        st.caption("No imports yet.")
    else:
        st.dataframe(history_table(history), hide_index=True, width="stretch",
                     column_config={"Checksum": st.column_config.TextColumn(
                         help="The file's SHA-256, first 12 characters: an identical file has the same checksum.")})
        st.caption("Newest first, one row per file. Imports that loaded nothing (refused, failed or already loaded) "
                   "are listed too; they did not change the store.")
        rejects_section(history)


# --- data quality ------------------------------------------------------------------------------------

@st.cache_data(ttl=3600, max_entries=8, show_spinner=False)
def _quality(_store: Store, store_key: str) -> pd.DataFrame:
    return quality_checks(_store)


st.markdown("#### Data quality")
checks = _quality(store, ctx.store_key)
st.dataframe(pd.DataFrame({
    "Check": checks["title"],
    "Count": checks["count"],
    "Out of": [f"{total:,} {population}" for total, population in zip(checks["of_total"], checks["population"])],
    "Share %": [count / total * 100 if total else None for count, total in zip(checks["count"], checks["of_total"])],
    "Definition": checks["definition"],
}), hide_index=True, width="stretch",
    column_config={"Share %": st.column_config.NumberColumn(format="%.1f%%"),
                   "Definition": st.column_config.TextColumn(width="large")})
st.caption(f"Over the whole store (data as of {store.meta.data_as_of:%d %B %Y}), whatever the sidebar filters. Counts "
           "only: find the records at source with each definition.")
