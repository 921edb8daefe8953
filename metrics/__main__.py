"""`python -m metrics docs [--check]`: write docs/catalogue.md from metrics/catalogue.yaml (or check it is current)."""

from __future__ import annotations

import argparse
import sys
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metrics")
    commands = parser.add_subparsers(dest="command", required=True)
    docs = commands.add_parser("docs", help="write docs/catalogue.md from the catalogue")
    docs.add_argument("--check", action="store_true", help="only check that docs/catalogue.md is current")
    args = parser.parse_args(argv)
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
