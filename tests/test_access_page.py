"""Who may see what: editing the role mapping file (ui/identity.py) and the admin's page (pages/access.py).

Each change is validated, recorded in the audit trail first, then written whole (temporary file, fsync, rename),
and refused if the file changed since the page was opened."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from hypothesis import given
from hypothesis import strategies as hs
from streamlit.testing.v1 import AppTest

from data_access import audit
from data_access.store import build_store
from helpers import case, ent, sign_in, tables, victim
from ui import access, identity

pytestmark = pytest.mark.app
APP_DIR = Path(__file__).resolve().parent.parent
APP = str(APP_DIR / "app.py")
PAGE = "pages/access.py"
ADMIN = "admin@force.example"
FIXTURE = tables(cases=[case("C1")], victims=[victim("V1")],
                 entitlements=[ent("E1", "r4_referral_to_support_service", "2025-03-03", "2025-03-04")])
HEADER = "# Our force's mapping: ask the ICT service desk before changing it.\n"
MAPPING_TEXT = HEADER + ("version: 1\n"
                         "users:\n  vsm@force.example: [victim_services]\n"
                         "groups:\n  board-members: [board]   # this comment beside an entry is not kept\n")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mapping_file(tmp_path) -> Path:
    path = tmp_path / "config" / "access.yaml"
    path.parent.mkdir()
    path.write_text(MAPPING_TEXT)
    path.chmod(0o640)
    return path


# --- the pure functions and the file ---------------------------------------------------------------------

def test_a_mapping_is_written_in_a_stable_order_and_reads_back_the_same():
    mapping = identity.with_user_roles(identity.RoleMapping(source="access.yaml"), "Zed@Force.example",
                                       ["admin", "board"])
    mapping = identity.with_user_roles(mapping, "amy@force.example", ["action_group"])
    mapping = identity.with_group_roles(mapping, "yes", ["victim_services"])  # a YAML boolean unless quoted
    # Entries alphabetical (amy before zed), roles least privileged first (board before admin), emails in lower
    # case, and the group that YAML would read as true kept as text.
    assert identity.mapping_to_yaml(mapping, header="# mine\n") == (
        "# mine\n"
        "version: 1\n"
        "users:\n"
        "  amy@force.example: [action_group]\n"
        "  zed@force.example: [board, admin]\n"
        "groups:\n"
        "  'yes': [victim_services]\n")
    assert identity._parse_role_mapping(identity.mapping_to_yaml(mapping), "access.yaml") == mapping
    assert identity.mapping_to_yaml(identity.RoleMapping()).startswith(identity.DEFAULT_MAPPING_HEADER)


_emails = hs.from_regex(r"[a-z0-9._%+'-]{1,20}@[a-z0-9-]{1,12}(\.[a-z]{2,6}){1,2}", fullmatch=True)
_groups = (hs.text(hs.characters(blacklist_categories=("C",)), min_size=1, max_size=30)
           .map(str.strip).filter(bool))
_role_sets = hs.sets(hs.sampled_from(access.ROLES), min_size=1)


@given(users=hs.dictionaries(_emails, _role_sets, max_size=5), groups=hs.dictionaries(_groups, _role_sets, max_size=5))
def test_any_valid_mapping_round_trips_through_the_file_format(users, groups):
    mapping = identity.RoleMapping(source="access.yaml")
    for email, roles in users.items():
        mapping = identity.with_user_roles(mapping, email, sorted(roles))
    for group, roles in groups.items():
        mapping = identity.with_group_roles(mapping, group, sorted(roles))
    text = identity.mapping_to_yaml(mapping)
    assert identity._parse_role_mapping(text, "access.yaml") == mapping
    assert identity.mapping_to_yaml(identity._parse_role_mapping(text, "access.yaml")) == text


def test_empty_roles_remove_an_entry_and_the_original_mapping_is_left_alone():
    original = identity.RoleMapping(users={"a@force.example": ("board",)}, groups={"g": ("admin",)}, source="x")
    changed = identity.with_user_roles(original, " A@Force.Example ", ["admin", "action_group"])
    assert changed.users == {"a@force.example": ("action_group", "admin")}
    assert identity.with_user_roles(changed, "a@force.example", []).users == {}
    assert identity.with_group_roles(original, "g", []).groups == {}
    assert identity.with_group_roles(original, "nobody", []) == original  # nothing to remove
    assert original.users == {"a@force.example": ("board",)} and original.groups == {"g": ("admin",)}


@pytest.mark.parametrize("section, name, roles, problems", [
    ("users", "not-an-email", ["board"],
     ["Email address 'not-an-email': not an email address (it needs one @ and no spaces)."]),
    ("users", "a b@force.example", ["board"],
     ["Email address 'a b@force.example': not an email address (it needs one @ and no spaces)."]),
    ("users", "   ", ["board"], ["Email address: enter one."]),
    ("groups", "", [], ["Group id: enter one."]),
    ("users", "a@force.example", ["board", "superuser"],
     ["Roles: unknown role(s) superuser (roles are board, action_group, victim_services, admin)."]),
    ("groups", "g" * 255, ["board"], ["Group id: longer than 254 characters."]),
    ("groups", "board\x00members", ["board"], ["Group id: contains a control or invisible formatting character."]),
    ("users", "bad", ["chair"], ["Email address 'bad': not an email address (it needs one @ and no spaces).",
                                 "Roles: unknown role(s) chair (roles are board, action_group, victim_services, "
                                 "admin)."]),
])
def test_each_wrong_field_is_named(section, name, roles, problems):
    assert identity.entry_problems(section, name, roles) == problems
    change = identity.with_user_roles if section == "users" else identity.with_group_roles
    with pytest.raises(identity.RoleMappingError) as caught:
        change(identity.RoleMapping(source="access.yaml"), name, roles)
    assert caught.value.problems == problems


def test_good_entries_have_no_problems():
    assert identity.entry_problems("users", "Someone.Else@Force.Police.uk", ["admin"]) == []
    assert identity.entry_problems("groups", "8f1c2d3e-0000-0000-0000-000000000000", []) == []


def test_a_save_writes_the_new_mapping_keeps_the_header_and_permissions_and_returns_the_digest(mapping_file):
    mapping, digest = identity.mapping_and_digest(mapping_file)
    assert digest == sha256(mapping_file)
    new_digest = identity.save_role_mapping(
        mapping_file, identity.with_user_roles(mapping, "new@force.example", ["board"]), digest)
    assert new_digest == sha256(mapping_file)
    assert mapping_file.read_text() == (HEADER + "version: 1\nusers:\n  new@force.example: [board]\n"
                                        "  vsm@force.example: [victim_services]\ngroups:\n  board-members: [board]\n")
    assert stat.S_IMODE(mapping_file.stat().st_mode) == 0o640
    assert sorted(p.name for p in mapping_file.parent.iterdir()) == ["access.yaml"]  # no temporary file left


def test_a_new_file_is_created_readable_only_by_its_owner(tmp_path):
    path = tmp_path / "access.yaml"
    permissive = os.umask(0)  # a umask that would leave a plain new file readable by everyone
    try:
        identity.save_role_mapping(path, identity.with_group_roles(identity.RoleMapping(), "g1", ["board"]), None)
    finally:
        os.umask(permissive)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert identity.load_role_mapping(path).groups == {"g1": ("board",)}


def test_a_change_made_against_an_old_version_is_refused_and_nothing_is_written(mapping_file):
    mapping, digest = identity.mapping_and_digest(mapping_file)
    someone_else = MAPPING_TEXT + "  analysts: [action_group]\n"
    mapping_file.write_text(someone_else)
    with pytest.raises(identity.RoleMappingChanged) as caught:
        identity.save_role_mapping(mapping_file, identity.with_user_roles(mapping, "x@force.example", ["board"]),
                                   digest)
    assert "the file has changed since it was opened" in str(caught.value)
    assert mapping_file.read_text() == someone_else
    with pytest.raises(identity.RoleMappingChanged):  # "create it" when it already exists
        identity.save_role_mapping(mapping_file, mapping, None)
    assert mapping_file.read_text() == someone_else


def test_two_saves_against_the_same_version_at_once_let_exactly_one_through(mapping_file):
    mapping, digest = identity.mapping_and_digest(mapping_file)
    start, outcomes = threading.Barrier(2), []

    def save(email):
        start.wait()
        try:
            identity.save_role_mapping(mapping_file, identity.with_user_roles(mapping, email, ["board"]), digest)
            outcomes.append(("saved", email))
        except identity.RoleMappingChanged:
            outcomes.append(("refused", email))

    threads = [threading.Thread(target=save, args=(e,)) for e in ("one@force.example", "two@force.example")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(kind for kind, _ in outcomes) == ["refused", "saved"]
    winner = next(email for kind, email in outcomes if kind == "saved")
    assert set(identity.load_role_mapping(mapping_file).users) == {"vsm@force.example", winner}


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(mapping_file, monkeypatch):
    mapping, digest = identity.mapping_and_digest(mapping_file)

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(identity.RoleMappingError) as caught:
        identity.save_role_mapping(mapping_file, identity.with_user_roles(mapping, "x@force.example", ["board"]),
                                   digest)
    assert caught.value.problems == ["it could not be written (the disk is full); the file is unchanged"]
    assert mapping_file.read_text() == MAPPING_TEXT
    assert sorted(p.name for p in mapping_file.parent.iterdir()) == ["access.yaml"]


def test_a_mapping_the_file_rules_would_refuse_is_never_written(mapping_file):
    _, digest = identity.mapping_and_digest(mapping_file)
    broken = identity.RoleMapping(users={"not-an-email": ("admin",)})  # built by hand, past with_user_roles
    with pytest.raises(identity.RoleMappingError) as caught:
        identity.save_role_mapping(mapping_file, broken, digest)
    assert "'not-an-email': not an email address" in str(caught.value)
    assert mapping_file.read_text() == MAPPING_TEXT


def test_a_symbolic_link_to_the_file_stays_a_link(mapping_file):
    link = mapping_file.parent / "linked.yaml"
    link.symlink_to(mapping_file)
    mapping, digest = identity.mapping_and_digest(link)
    identity.save_role_mapping(link, identity.with_group_roles(mapping, "board-members", []), digest)
    assert link.is_symlink() and identity.load_role_mapping(mapping_file).groups == {}


# --- the page --------------------------------------------------------------------------------------------

@pytest.fixture
def real_store(tmp_path) -> Path:
    """A store of (pretend) real data, one per test so that each has its own audit trail."""
    return build_store(tmp_path / "store" / "real.duckdb", FIXTURE, data_as_of=date(2025, 3, 31), is_demo=False,
                       source="test")


def open_page(monkeypatch, store: Path, *, direct: bool = True) -> AppTest:
    monkeypatch.setenv("VCD_STORE", str(store))
    at = AppTest.from_file(str(APP_DIR / PAGE) if direct else APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def as_admin(monkeypatch, mapping: Path | None, email: str = ADMIN) -> None:
    sign_in(monkeypatch, "admin", email=email,
            secrets={"access": {"role_mapping": str(mapping)}} if mapping is not None else None)


def widget(items, label):
    return next(w for w in items if w.label == label)


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success", "text")
             for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def audit_events(store: Path):
    return audit.read_events(audit.default_audit_path(store), role="admin", action="role_mapping_change")


def add_entry(at: AppTest, kind: str, name: str, roles: list[str]) -> AppTest:
    widget(at.radio, "Kind of entry").set_value(kind)
    widget(at.text_input, "Email address or group id").set_value(name)
    widget(at.multiselect, "Roles").set_value(roles)
    widget(at.button, "Save").click()
    at.run()
    assert not at.exception
    return at


def test_the_page_shows_where_roles_come_from_what_each_may_see_and_the_mapping(monkeypatch, real_store, mapping_file):
    as_admin(monkeypatch, mapping_file)
    at = open_page(monkeypatch, real_store)
    text = texts(at)
    assert "The sign-in token's `roles` claim" in text and "The mapping file" in text
    assert "acting as **Administrator**" in text and "1 person and 1 group given roles by the file" in text
    for role in access.ROLES:
        assert f"**{identity.ROLE_LABELS[role]}** (`{role}` in the token and the file)" in text
    assert "Audit trail, Who may see what." in text and "Not the lists of individual victims." in text
    (entries,) = (frame.value for frame in at.dataframe)
    assert entries.values.tolist() == [["Person (email address)", "vsm@force.example", "Victim services"],
                                       ["Group (id in the token's groups claim)", "board-members", "Board"]]


def test_an_added_entry_is_recorded_then_saved_and_gives_the_role_at_the_next_run(monkeypatch, real_store,
                                                                                 mapping_file):
    as_admin(monkeypatch, mapping_file)
    at = add_entry(open_page(monkeypatch, real_store), "users", "New.Person@Force.example", ["action_group"])
    assert identity.load_role_mapping(mapping_file).users == {"new.person@force.example": ("action_group",),
                                                              "vsm@force.example": ("victim_services",)}
    assert mapping_file.read_text().startswith(HEADER)
    assert "Saved: ` new.person@force.example ` now has the roles Action group (before: none)" in texts(at)
    events = audit_events(real_store)
    assert len(events) == 1
    event = events.iloc[0]
    assert (event["user"], event["role"], event["category"], event["page"]) == (ADMIN, "admin", "alteration", "access")
    assert event["ids"] == ["new.person@force.example"]
    assert event["detail"]["roles_before"] == [] and event["detail"]["roles_after"] == ["action_group"]
    assert event["detail"]["entry"] == "user"

    # The new person signs in with no role in their token: the file gives them the action group's pages.
    seen = []
    real_navigation = st.navigation
    monkeypatch.setattr(st, "navigation", lambda pages, *a, **k: seen.append([p.title for p in pages])
                        or real_navigation(pages, *a, **k))
    sign_in(monkeypatch, email="new.person@force.example",
            secrets={"access": {"role_mapping": str(mapping_file)}})
    at = open_page(monkeypatch, real_store, direct=False)
    assert seen[-1] == [p.title for p in access.pages_for("action_group")]
    assert at.session_state["vcd_demo_role"] == "action_group"


def test_an_entry_is_changed_and_removed(monkeypatch, real_store, mapping_file):
    as_admin(monkeypatch, mapping_file)
    at = open_page(monkeypatch, real_store)
    widget(at.selectbox, "Entry").set_value(("users", "vsm@force.example")).run()
    roles = widget(at.multiselect, "Roles")
    assert roles.value == ["victim_services"]
    roles.set_value(["action_group", "victim_services"])
    widget(at.button, "Save").click()
    at.run()
    assert identity.load_role_mapping(mapping_file).users == {"vsm@force.example": ("action_group", "victim_services")}
    widget(at.selectbox, "Entry").set_value(("groups", "board-members")).run()
    widget(at.multiselect, "Roles").set_value([])
    widget(at.button, "Save").click()
    at.run()
    assert identity.load_role_mapping(mapping_file).groups == {}
    assert "the entry for ` board-members ` was removed (it gave Board)" in texts(at)
    details = [d for d in audit_events(real_store)["detail"]]  # newest first
    assert [(d["entry"], d["name"], d["roles_before"], d["roles_after"]) for d in details] == [
        ("group", "board-members", ["board"], []),
        ("user", "vsm@force.example", ["victim_services"], ["action_group", "victim_services"])]


def test_a_name_with_markdown_in_it_is_shown_as_typed(monkeypatch, real_store, mapping_file):
    as_admin(monkeypatch, mapping_file)
    at = add_entry(open_page(monkeypatch, real_store), "groups", "team `x` *bold* <b>", ["board"])
    # A code span fenced by more backticks than any run in the name: nothing in it is Markdown, HTML or a link.
    assert "Saved: `` team `x` *bold* <b> `` now has the roles Board" in texts(at)
    assert "signed in as ` admin@force.example `" in texts(at)
    assert identity.load_role_mapping(mapping_file).groups["team `x` *bold* <b>"] == ("board",)


def test_a_bad_email_is_refused_with_the_field_named_and_nothing_written(monkeypatch, real_store, mapping_file):
    as_admin(monkeypatch, mapping_file)
    before = mapping_file.read_bytes()
    at = add_entry(open_page(monkeypatch, real_store), "users", "not an email", ["board"])
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "Not saved; nothing was changed" in errors[0]
    assert "Email address 'not an email'\\: not an email address" in errors[0]
    assert mapping_file.read_bytes() == before
    assert audit_events(real_store).empty


def test_when_the_audit_trail_cannot_record_the_change_the_file_is_not_changed(monkeypatch, real_store, mapping_file):
    as_admin(monkeypatch, mapping_file)
    before = mapping_file.read_bytes()
    at = open_page(monkeypatch, real_store)

    def refuse(*args, **kwargs):
        raise audit.AuditError("the disk is full")

    monkeypatch.setattr("data_access.audit.record", refuse)
    add_entry(at, "groups", "analysts", ["action_group"])
    assert "could not record this change of role mapping, so it was not done" in texts(at)
    assert mapping_file.read_bytes() == before


def test_a_save_that_fails_after_the_record_is_recorded_as_not_saved(monkeypatch, real_store, mapping_file):
    as_admin(monkeypatch, mapping_file)
    at = open_page(monkeypatch, real_store)

    def disk_full(*args):
        raise identity.RoleMappingError("access.yaml", ["it could not be written (the disk is full); the file is "
                                                        "unchanged"])

    monkeypatch.setattr("ui.identity.save_role_mapping", disk_full)
    add_entry(at, "groups", "analysts", ["action_group"])
    assert "**Not saved.** The mapping file (access\\.yaml): it could not be written \\(the disk is full\\)" in texts(at)
    assert mapping_file.read_text() == MAPPING_TEXT
    details = list(audit_events(real_store)["detail"])  # newest first: the attempt, then that it failed
    assert details[0] == {"entry": "group", "name": "analysts", "saved": False,
                          "reason": "it could not be written (the disk is full); the file is unchanged"}
    assert details[1]["roles_after"] == ["action_group"] and len(details) == 2


def test_a_change_to_a_file_someone_else_saved_meanwhile_is_refused(monkeypatch, real_store, mapping_file):
    as_admin(monkeypatch, mapping_file)
    at = open_page(monkeypatch, real_store)
    someone_else = MAPPING_TEXT + "  analysts: [action_group]\n"
    mapping_file.write_text(someone_else)
    add_entry(at, "users", "x@force.example", ["board"])
    assert "your change was **not saved**" in texts(at)
    assert mapping_file.read_text() == someone_else
    assert audit_events(real_store).empty
    # After reloading, the same change goes through against the current version.
    widget(at.button, "Reload the entries").click()
    at.run()
    add_entry(at, "users", "x@force.example", ["board"])
    mapping = identity.load_role_mapping(mapping_file)
    assert mapping.users["x@force.example"] == ("board",) and mapping.groups["analysts"] == ("action_group",)


def test_with_no_mapping_file_configured_editing_is_not_offered(monkeypatch, real_store):
    as_admin(monkeypatch, None)
    at = open_page(monkeypatch, real_store)
    assert "No mapping file is configured" in texts(at) and "role_mapping" in texts(at)
    assert not [b for b in at.button if b.label == "Save"] and not at.dataframe


def test_demo_mode_explains_the_switcher_and_shows_no_mapping(monkeypatch, tmp_path, mapping_file):
    store = build_store(tmp_path / "demo.duckdb", FIXTURE, data_as_of=date(2025, 3, 31), is_demo=True, source="test")
    monkeypatch.setattr("ui.identity.secrets_mapping", lambda: {"access": {"role_mapping": str(mapping_file)}})
    monkeypatch.setenv("VCD_STORE", str(store))
    at = AppTest.from_file(str(APP_DIR / PAGE), default_timeout=120)
    at.session_state["vcd_demo_role"] = "admin"
    at.run()
    assert not at.exception
    assert "Demo mode: no sign-in" in texts(at) and "*Demo role* switcher" in texts(at)
    assert "vsm@force.example" not in texts(at) and not at.dataframe
    assert "**Administrator** (`admin` in the token and the file)" in texts(at)
    assert not [b for b in at.button if b.label == "Save"]


@pytest.mark.parametrize("role", [r for r in access.ROLES if r != "admin"])
def test_other_roles_neither_see_the_page_nor_open_it_directly(monkeypatch, real_store, mapping_file, role):
    seen = []
    real_navigation = st.navigation
    monkeypatch.setattr(st, "navigation", lambda pages, *a, **k: seen.append([p.title for p in pages])
                        or real_navigation(pages, *a, **k))
    sign_in(monkeypatch, role, secrets={"access": {"role_mapping": str(mapping_file)}})
    open_page(monkeypatch, real_store, direct=False)
    assert seen and "Who may see what" not in seen[-1]
    at = open_page(monkeypatch, real_store)
    assert [e.value for e in at.error] == ["You do not have access to this page."]
    assert not at.dataframe and "vsm@force.example" not in texts(at)
