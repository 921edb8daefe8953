"""`python -m metrics docs [--check]`: write docs/catalogue.md from metrics/catalogue.yaml (or check it is current).
`python -m metrics return --db PATH --quarter 2025Q3 [--as-of YYYY-MM-DD] --out FILE.csv`: write the quarterly
compliance return (README, "Quarterly compliance return").
`python -m metrics boardpack --db PATH --quarter 2025Q3 [--as-of YYYY-MM-DD] --out DIR`: write the board pack,
DIR/board-pack-2025Q3.html and .xlsx (README, "Board pack"). Exit codes: 0 = done, 1 = docs out of date,
2 = refused (bad arguments, no store, a quarter the store does not hold, a file that cannot be written)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

from metrics.catalogue import Catalogue, CatalogueError, default_catalogue

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "catalogue.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def catalogue_markdown(catalogue: Catalogue) -> str:
    """The catalogue as a Markdown document, one section per right."""
    out = [
        "# The Victims' Code catalogue",
        "",
        "Generated from `metrics/catalogue.yaml` by `python -m metrics docs`; do not edit by hand "
        "(a test fails when this file is out of date).",
        "",
        f"{catalogue.code_title}. {catalogue.caveat}",
        "",
        "Source confidence: " + "; ".join(f"**{k.replace('_', ' ')}**: {v.rstrip('.')}" for k, v in catalogue.confidence_levels.items()),
        "",
    ]
    for right in catalogue.rights:
        out += [f"## Right {right.number}: {right.title}", ""]
        if right.not_measured_note:
            out += [f"*{right.not_measured_note}*", ""]
        measured = right.measured_entitlements
        if measured:
            out += ["| Code | Entitlement | Timescale | Applies to | Numerator | Denominator | Confidence |",
                    "|---|---|---|---|---|---|---|"]
            for e in measured:
                who = catalogue.applies_to[e.applies_to] + (f": {e.applies_to_note}" if e.applies_to_note else "")
                timescale = catalogue.timescale_sentence(e) + (f" {e.timescale_note}" if e.timescale_note else "")
                out.append(f"| `{e.code}` | {_cell(e.description)} | {_cell(timescale)} | {_cell(who)} | "
                           f"{_cell(e.numerator)} | {_cell(e.denominator)} | {e.confidence.replace('_', ' ')} |")
            out.append("")
        unmeasured = [e for e in right.entitlements if not e.measured]
        if unmeasured:
            out += ["Not measured from records:", ""]
            out += [f"- `{e.code}` {e.label}: {e.not_measured_reason}" for e in unmeasured]
            out.append("")
    if catalogue.contact_measures and catalogue.contact_log:
        log = catalogue.contact_log
        out += ["## Measures from the contact log", "",
                "Computed from `contacts`, shown beside the right named, and not added into any right's rate. "
                f"Settings: first contact standard {log.initial_contact_standard_working_days} working day(s); "
                f"default update frequency {log.default_update_frequency_days} days where none was agreed; "
                f"working hours {log.working_hours[0]} to {log.working_hours[1]}; contacts counting as updates: "
                f"{', '.join(f'`{k}`' for k in log.update_kinds)}.", "",
                "| Code | Measure | Right | Numerator | Denominator | Period | Note |", "|---|---|---|---|---|---|---|"]
        for m in catalogue.contact_measures:
            out.append(f"| `{m.code}` | {_cell(m.description)} | {m.related_right} | {_cell(m.numerator)} | "
                       f"{_cell(m.denominator)} | {_cell(m.period)} | {_cell(m.note or '')} |")
        out.append("")
    return "\n".join(out)


def write_atomically(path: Path, text: str) -> None:
    """Write text to path through a temporary file in the same folder and os.replace, so a reader sees the
    old file or the whole new one, and a failed write leaves the old file (or none) and no temporary file."""
    if not path.parent.is_dir():
        raise OSError(f"the folder {path.parent} does not exist")
    if path.is_dir():
        raise OSError(f"{path} is a folder")
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=path.parent,
                                         prefix=f".{path.name}.", suffix=".part", delete=False)
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _as_of(text: str | None) -> date | None:
    from metrics.quarterly_return import ReturnError

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReturnError(f"--as-of {text!r} is not a date: write it as YYYY-MM-DD.") from None


def _write_return(args: argparse.Namespace) -> int:
    # Imported here so that `docs` needs neither DuckDB nor the store.
    from data_access.queries import compliance_counts
    from data_access.store import StoreError, open_store
    from metrics.quarterly_return import (ReturnError, check_request, compliance_return, parse_quarter,
                                          return_csv, return_filters)

    try:
        quarter = parse_quarter(args.quarter)
        as_of = _as_of(args.as_of)
        catalogue = default_catalogue()
        store = open_store(args.db)
    except (ReturnError, StoreError, CatalogueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        meta = store.meta
        as_of = as_of or meta.data_as_of
        notes = check_request(quarter, as_of, first_month=meta.first_month, last_month=meta.last_month,
                              data_as_of=meta.data_as_of)
        frame = compliance_return(compliance_counts(store, catalogue, return_filters(quarter, as_of)), catalogue)
        write_atomically(Path(args.out), return_csv(frame))
    except (ReturnError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"error: could not write {args.out}: {reason}. Nothing was written.", file=sys.stderr)
        return 2
    finally:
        store.close()
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.out}: the compliance return for {quarter.describe()}, as of {as_of:%Y-%m-%d}, "
          f"{len(frame)} entitlements")
    return 0


def _write_boardpack(args: argparse.Namespace) -> int:
    """The board pack for a quarter, for the whole force: both files written whole, or neither changed."""
    from data_access.store import StoreError, open_store
    from metrics.disclosure import DisclosurePolicy
    from metrics.quarterly_return import ReturnError, parse_quarter
    from ui.boardpack import (BoardPackError, build_board_pack, load_board_targets, pack_file_name, render_html,
                              render_xlsx)

    folder = Path(args.out)
    try:
        quarter = parse_quarter(args.quarter)
        as_of = _as_of(args.as_of)
        if not folder.is_dir():
            raise ReturnError(f"--out {args.out}: there is no such folder; create it first.")
        policy = DisclosurePolicy.load()  # VCD_SUPPRESSION_THRESHOLD, or 10
        catalogue = default_catalogue()
        store = open_store(args.db)
    except (ReturnError, StoreError, CatalogueError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        targets, problems = load_board_targets(catalogue)
        pack = build_board_pack(store, catalogue, quarter, as_of=as_of, targets=targets, target_problems=problems,
                                policy=policy)
        files = {folder / pack_file_name(quarter, "html"): render_html(pack).encode("utf-8"),
                 folder / pack_file_name(quarter, "xlsx"): render_xlsx(pack)}
        _replace_together(files)
    except (ReturnError, BoardPackError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: could not write the board pack in {folder}: {exc.strerror or exc}. Nothing was changed.",
              file=sys.stderr)
        return 2
    finally:
        store.close()
    for note in pack.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {' and '.join(str(p) for p in files)}: the board pack for {quarter.describe()}, as of "
          f"{pack.filters.as_of:%Y-%m-%d}; {pack.suppression.cells_hidden} small or revealing counts hidden")
    return 0


def _replace_together(files: dict[Path, bytes]) -> None:
    """Write every file to a temporary file beside it, then move them all into place: a failure while writing
    leaves every old file as it was and no temporary file behind."""
    written: list[tuple[str, Path]] = []
    umask = os.umask(0)
    os.umask(umask)
    try:
        for path, content in files.items():
            with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=f".{path.name}.", suffix=".part",
                                             delete=False) as handle:
                written.append((handle.name, path))
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(handle.name, 0o666 & ~umask)  # as an ordinary new file, not the temporary file's 0600
        for temporary, path in written:
            os.replace(temporary, path)
    finally:
        for temporary, _ in written:
            Path(temporary).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metrics")
    commands = parser.add_subparsers(dest="command", required=True)
    docs = commands.add_parser("docs", help="write docs/catalogue.md from the catalogue")
    docs.add_argument("--check", action="store_true", help="only check that docs/catalogue.md is current")
    ret = commands.add_parser(
        "return", help="write the quarterly compliance return as CSV",
        description="Write the quarterly compliance return: one row per catalogue entitlement, for the whole force, "
                    "counting entitlements triggered in the quarter. Columns are defined in the README.")
    ret.add_argument("--db", required=True, help="path of the store file (opened read-only)")
    ret.add_argument("--quarter", required=True, help="the quarter, as YYYYQn: 2025Q3 is July to September 2025")
    ret.add_argument("--as-of", help="count what had happened by this date, YYYY-MM-DD; it decides what is not yet "
                                     "due (default: the store's data date, data_as_of, the date the data was "
                                     "extracted; see `python -m data_access info`)")
    ret.add_argument("--out", required=True, help="the CSV file to write (replaced whole, or left as it was)")
    pack = commands.add_parser(
        "boardpack", help="write the board pack (HTML and XLSX) for a quarter",
        description="Write the board pack for a quarter, for the whole force: DIR/board-pack-YYYYQn.html (one "
                    "self-contained file: opens offline, prints on A4) and DIR/board-pack-YYYYQn.xlsx (the same "
                    "tables). Small counts are always suppressed (threshold: VCD_SUPPRESSION_THRESHOLD, default 10).")
    pack.add_argument("--db", required=True, help="path of the store file (opened read-only)")
    pack.add_argument("--quarter", required=True, help="the quarter, as YYYYQn: 2025Q3 is July to September 2025")
    pack.add_argument("--as-of", help="count what had happened by this date, YYYY-MM-DD (default: the store's data "
                                      "date)")
    pack.add_argument("--out", required=True, help="the folder to write the two files in (it must exist)")
    args = parser.parse_args(argv)
    if args.command == "return":
        return _write_return(args)
    if args.command == "boardpack":
        return _write_boardpack(args)
    try:
        text = catalogue_markdown(default_catalogue())
    except CatalogueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is out of date: run `python -m metrics docs`", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
