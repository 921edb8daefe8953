"""The quarter's downloads on the Board overview: the quarterly compliance return and the board pack.

Each file is recorded in the audit trail when it is prepared, before it is offered (a download button's
file is already in the browser when it is clicked, so that is the last moment a record can come first).
For the board role the return is disclosure-controlled like everything else the board sees.
"""

from __future__ import annotations

import streamlit as st

from metrics import quarterly_return
from metrics.quarterly_return import Quarter
from ui import access, board_view, boardpack, data
from ui.auditing import recorded
from ui.frame import PageContext

__all__ = ["chosen_quarter", "quarter_downloads"]

PAGE_ID = "board_overview"


def chosen_quarter(ctx: PageContext) -> Quarter:
    """A quarter picker (quarters the store covers that had begun by its data date; newest first)."""
    meta = ctx.store.meta
    quarters = [q for q in quarterly_return.quarters_covering(meta.first_month, meta.last_month)
                if q.first_month <= meta.data_as_of]
    default = quarterly_return.latest_complete_quarter(quarters, meta.data_as_of)
    options = [str(q) for q in reversed(quarters)]
    chosen = st.selectbox("Quarter", options, index=options.index(str(default)), key="return_quarter",
                          format_func=lambda text: quarterly_return.parse_quarter(text).describe())
    return quarterly_return.parse_quarter(chosen)


def _return_csv(ctx: PageContext, quarter: Quarter) -> str:
    """The return's CSV text; for the board, with small counts suppressed."""
    if ctx.role == access.BOARD_ROLE:
        frame, _ = quarterly_return.suppressed_return(data.quarterly_counts(ctx, str(quarter)), ctx.catalogue)
        return quarterly_return.return_csv(frame)
    return quarterly_return.return_csv(data.quarterly_return(ctx, str(quarter)))


def _offer(ctx: PageContext, key: str, label: str, what: str, detail: dict, files) -> None:
    """A button that records the download in the audit trail, then the download buttons for `files()`:
    [(label, bytes or text, file name, mime type)]."""
    prepared_key = f"{key}_prepared"
    if st.button(label, key=f"{key}_prepare", icon=":material/download:"):
        if recorded(ctx, "download", PAGE_ID, what, filters=detail):
            try:
                with st.spinner(f"Preparing the {what}…", show_time=True):
                    st.session_state[prepared_key] = (detail, files())
            except (quarterly_return.ReturnError, boardpack.BoardPackError) as exc:
                st.error(str(exc), icon=":material/error:")
    prepared = st.session_state.get(prepared_key)
    if prepared and prepared[0] == detail:
        for number, (button, content, name, mime) in enumerate(prepared[1]):
            st.download_button(button, content, file_name=name, mime=mime, on_click="ignore",
                               icon=":material/file_download:", key=f"{key}_file_{number}")


def quarter_downloads(ctx: PageContext, quarter: Quarter) -> None:
    meta = ctx.store.meta
    about = {"quarter": str(quarter), "store": ctx.store_key, "role": ctx.role}
    left, right = st.columns(2)
    with left:
        st.markdown("**Quarterly compliance return**")

        def return_files():
            return [(f"Save the {quarter} return (CSV)", _return_csv(ctx, quarter),
                     quarterly_return.return_file_name(quarter, meta.data_as_of), "text/csv")]

        _offer(ctx, "return", f"Prepare the {quarter} return", "return", {**about, "file": "return"},
               return_files)
        notes = quarterly_return.check_request(quarter, meta.data_as_of, first_month=meta.first_month,
                                               last_month=meta.last_month, data_as_of=meta.data_as_of)
        suppressed = (" Counts from 1 to 9, and any count that would reveal one, are shown as [c]."
                      if ctx.role == access.BOARD_ROLE else "")
        st.caption(f"What the force sends its Police and Crime Commissioner: one row for each of the "
                   f"{len(ctx.catalogue.entitlements)} entitlements in the catalogue, measured or not, counting "
                   f"entitlements triggered in {quarter.describe()} as of {meta.data_as_of:%d %b %Y}, for the whole "
                   "force (the sidebar filters do not apply). Columns are defined in the README (\"Quarterly "
                   "compliance return\"); `python -m metrics return` writes the same file." + suppressed + " "
                   + " ".join(notes))
    with right:
        st.markdown("**Board pack**")

        def pack_files():
            pack = board_view.board_pack_for(ctx, quarter)
            return [("Save the board pack (HTML)", boardpack.render_html(pack), boardpack.pack_file_name(quarter, "html"),
                     "text/html"),
                    ("Save its tables (XLSX)", boardpack.render_xlsx(pack), boardpack.pack_file_name(quarter, "xlsx"),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]

        _offer(ctx, "boardpack", f"Prepare the board pack for {quarter}", "board pack",
               {**about, "file": "board pack"}, pack_files)
        st.caption(f"For {quarter.describe()}, for the whole force: the 12 rights with their SPC charts, the "
                   "exceptions, every entitlement, referral uptake, victim voice and panel actions, as one HTML file "
                   "that opens offline and prints on A4, and an XLSX workbook of the same tables. Small counts are "
                   "always hidden. `python -m metrics boardpack` makes the same files.")
