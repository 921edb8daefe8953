"""The repository keeps its promises: README commands, CI, generated docs, layout rules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from metrics import contract
from metrics.__main__ import catalogue_markdown
from metrics.catalogue import default_catalogue
from ui.access import PAGES

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\n(.+?)\n```", section)


def test_readme_gives_exactly_two_setup_commands_run_and_test():
    commands = readme_commands()
    assert len(commands) == 2
    run, test = commands
    assert "pip install -r requirements.txt" in run and "streamlit run serve.py" in run
    assert "pip install -r requirements-dev.txt" in test and "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_requirements_are_pinned():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r")):
                assert re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[0-9][0-9A-Za-z.]*", line), f"{name}: {line!r} is not pinned"


def test_docs_catalogue_is_generated_from_the_current_yaml():
    assert (ROOT / "docs" / "catalogue.md").read_text() == catalogue_markdown(default_catalogue()), \
        "docs/catalogue.md is out of date: run `python -m metrics docs`"


def test_every_measured_entitlement_is_documented_with_its_numerator_and_denominator():
    doc = (ROOT / "docs" / "catalogue.md").read_text()
    for ent in default_catalogue().measured_entitlements:
        assert f"`{ent.code}`" in doc and ent.numerator in doc and ent.denominator in doc


@pytest.mark.parametrize("name", [n for n in contract.__all__ if n.isupper()])
def test_every_contract_value_is_in_the_data_contract_document(name):
    doc = (ROOT / "docs" / "data-contract.md").read_text()
    if name == "VICTIM_TYPES":  # derived, not exported
        return
    for value in getattr(contract, name):
        assert f"`{value}`" in doc, f"{name} value {value!r} missing from docs/data-contract.md"


@pytest.mark.parametrize("spec", PAGES, ids=lambda s: s.page_id)
def test_every_page_guards_itself_first_with_its_own_id(spec):
    tree = ast.parse((ROOT / spec.path).read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, "id", getattr(node.func, "attr", None)) == "page_context"]
    assert calls, f"{spec.path} never calls page_context"
    first_statement = next(n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom, ast.Expr)))
    assert any(c in ast.walk(first_statement) for c in calls), f"{spec.path}: page_context must be the first statement"
    assert calls[0].args[0].value == spec.page_id


def test_only_page_scripts_live_in_pages():
    scripts = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py")}
    assert scripts == {spec.path for spec in PAGES}


@pytest.mark.parametrize("folder", ["pages", "ui", "metrics"])
def test_only_data_access_touches_duckdb(folder):
    for path in (ROOT / folder).rglob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+duckdb", source, re.M), f"{path} imports duckdb"
        if folder == "pages":
            assert not re.search(r"\bSELECT\b|\.execute\(|\.query\(", source), f"{path} contains SQL"


def test_no_page_renders_raw_html():
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]:
        source = path.read_text()
        assert "unsafe_allow_html=True" not in source and "st.html(" not in source, path
