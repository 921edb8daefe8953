"""Who may see what (administrators only): where roles come from, what each role may see, and the mapping file of
email addresses and groups to roles, with a form to change it. Each change is recorded in the audit trail first."""

import logging
import re

import pandas as pd
import streamlit as st

from data_access import audit
from ui import access, display, identity
from ui.auditing import recorded
from ui.frame import APP_DIR, page_context

ctx = page_context("access")
PAGE_ID = "access"
log = logging.getLogger("pages.access")

ROLE_DESCRIPTIONS = {
    "board": "Force-wide figures, one quarter at a time, with small counts hidden (and anything that would give one "
             "away). No breakdown by district, team or group of victims; no rows about individual victims.",
    "action_group": "Figures for any period, broken down by command area, district, team and group of victims, "
                    "and the Explore pivot. No rows about individual victims.",
    "victim_services": "Everything the action group sees, plus the lists of individual victims (overdue updates, "
                       "missed or late entitlements) and the SQL box, each look recorded in the audit trail; "
                       "records feedback panels, findings and actions.",
    "admin": "The figures pages and the SQL box, imports and data quality (Data), the audit trail, and this page. "
             "Not the lists of individual victims.",
}
SECTION_WORDS = {"users": "Person (email address)", "groups": "Group (id in the token's groups claim)"}
NEW_ENTRY = ("new", "")
_OPENED = "access_opened_digest"  # the file version (sha256) this session's changes are made against
_REVISION = "access_revision"  # bumped after a save or a reload, so the form starts afresh
_OUTCOME = "access_outcome"  # the last save's result, shown after the rerun that resets the form
CHANGED_MESSAGE = ("The mapping file has changed since you opened this page (someone else saved a change, or it "
                   "was edited on the server), so your change was **not saved**. Reload the entries, check them, "
                   "and make your change again.")
HOW_TO_CONFIGURE = ("To give roles by email address or group as well, copy `config/access.example.yaml` to "
                    "`config/access.yaml`, list the entries, make the file readable and writable only by the "
                    "dashboard's service account, and set `role_mapping = \"config/access.yaml\"` under `[access]` "
                    "in `.streamlit/secrets.toml` (README, \"Sign-in and roles\"). This page then shows the file and "
                    "offers a form to change it.")


def literal(text) -> str:
    """A name as an inline code span: shown exactly as typed, never as Markdown, and an email never as a link."""
    text = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def roles_text(roles) -> str:
    return ", ".join(identity.ROLE_LABELS[r] for r in roles) or "none"


def where_roles_come_from(mapping_path) -> None:
    st.subheader("Where roles come from", anchor=False)
    if ctx.demo:
        st.info("**Demo mode: no sign-in.** The role is chosen with the *Demo role* switcher in the sidebar, so "
                "anyone who opens the demo can act as any role. The sign-in token's roles and the mapping file "
                "apply only once sign-in is configured (README, \"Sign-in and roles\"); until then the mapping is "
                "neither shown nor changed here.", icon=":material/science:")
        if mapping_path is not None:
            st.caption(f"A mapping file is named in `[access] role_mapping`: {display.plain(mapping_path)}.")
        return
    st.markdown(f"You are signed in as {literal(ctx.user)}, with the roles {roles_text(ctx.roles)}, "
                f"acting as **{identity.ROLE_LABELS[ctx.role]}**.")
    st.markdown("A user holds every role from either source; someone with several acts as the least privileged "
                "until they choose another in the sidebar.\n"
                "1. **The sign-in token's `roles` claim**: Entra app roles whose values are the role names below, "
                "assigned to users or groups in Entra. Read when the user signs in, so a change there applies at "
                "their next sign-in.\n"
                "2. **The mapping file**: email addresses and groups given roles. Read at every click, so a change "
                "saved here applies at the user's next click.")
    if mapping_path is None:
        st.info(f"**No mapping file is configured**: roles come only from the sign-in token. {HOW_TO_CONFIGURE}",
                icon=":material/info:")
    else:
        st.caption(f"Mapping file: {display.plain(mapping_path)}")


def role_definitions() -> None:
    st.subheader("What each role may see", anchor=False)
    st.markdown("\n".join(
        f"- **{identity.ROLE_LABELS[role]}** (`{role}` in the token and the file): {ROLE_DESCRIPTIONS[role]} "
        f"*Pages:* {', '.join(spec.title for spec in access.pages_for(role))}." for role in access.ROLES))


def mapping_table(mapping: identity.RoleMapping) -> None:
    rows = [(SECTION_WORDS[section], name, roles_text(roles)) for section in ("users", "groups")
            for name, roles in sorted(getattr(mapping, section).items())]
    if not rows:
        st.caption("The file has no entries: every role comes from the sign-in token.")
        return
    people, groups = len(mapping.users), len(mapping.groups)
    st.caption(f"{people:,} {'person' if people == 1 else 'people'} and {groups:,} group{'' if groups == 1 else 's'} "
               "given roles by the file, alphabetically.")
    # Names are shown as plain text cells, never as Markdown.
    st.dataframe(pd.DataFrame(rows, columns=["Entry", "Email address or group id", "Roles"]), hide_index=True,
                 width="stretch", column_config={c: st.column_config.TextColumn(c) for c in
                                                 ("Entry", "Email address or group id", "Roles")})


def _record_not_saved(section: str, key: str, reason: str) -> None:
    """The change was recorded before the save was tried; say on the trail that it did not happen."""
    try:
        audit.record(ctx.audit_db, user=ctx.user, role=ctx.role, action="role_mapping_change", page=PAGE_ID,
                     ids=[key], detail={"entry": section[:-1], "name": key, "saved": False, "reason": reason})
    except (audit.AuditError, ValueError) as exc:
        log.error("could not record that a role mapping change was not saved: %s", exc.__class__.__name__)


def _done(message: str, new_digest: str, path) -> None:
    st.session_state[_OPENED] = {str(path): new_digest}
    st.session_state[_OUTCOME] = message
    st.session_state[_REVISION] = st.session_state.get(_REVISION, 0) + 1
    st.rerun()


def save_entry(path, opened_digest: str, section: str, name: str, roles: list[str]) -> None:
    problems = identity.entry_problems(section, name, roles)
    if problems:
        st.error("Not saved; nothing was changed:\n\n" + "\n".join(f"- {display.plain(p)}" for p in problems),
                 icon=":material/error:")
        return
    key = identity.entry_key(section, name)
    try:
        current, digest = identity.mapping_and_digest(path)
    except identity.RoleMappingError as exc:
        st.error("The mapping file cannot be read, so nothing was changed: "
                 + display.plain("; ".join(exc.problems)) + ".", icon=":material/error:")
        return
    if digest != opened_digest:  # checked again, under a lock, by save_role_mapping
        st.error(CHANGED_MESSAGE, icon=":material/sync_problem:")
        return
    before = getattr(current, section).get(key, ())
    after = tuple(r for r in access.ROLES if r in roles)
    if before == after:
        st.info(f"Nothing to save: {literal(key)} " + (f"already has exactly the roles {roles_text(after)}."
                                                             if after else "has no entry to remove."),
                icon=":material/info:")
        return
    change = identity.with_user_roles if section == "users" else identity.with_group_roles
    new_mapping = change(current, key, after)
    detail = {"entry": section[:-1], "name": key, "roles_before": list(before), "roles_after": list(after),
              "file": path.name, "file_sha256_before": digest}
    if not recorded(ctx, "role_mapping_change", PAGE_ID, "change of role mapping", ids=[key], detail=detail):
        return
    try:
        new_digest = identity.save_role_mapping(path, new_mapping, opened_digest)
    except identity.RoleMappingChanged:
        _record_not_saved(section, key, "the file had changed since it was opened")
        st.error(CHANGED_MESSAGE, icon=":material/sync_problem:")
        return
    except identity.RoleMappingError as exc:
        _record_not_saved(section, key, "; ".join(exc.problems))
        st.error(f"**Not saved.** The mapping file ({display.plain(path.name)}): "
                 + display.plain("; ".join(exc.problems)) + ".", icon=":material/error:")
        return
    log.info("role mapping changed by %s", ctx.role)
    who = literal(key)
    message = (f"Saved: {who} now has the roles {roles_text(after)} (before: {roles_text(before)})." if after
               else f"Saved: the entry for {who} was removed (it gave {roles_text(before)}).")
    message += " It applies at their next click; roles their sign-in token gives them are not affected."
    if section == "users" and key == ctx.user.strip().lower() and "admin" in before and "admin" not in after:
        message += (" You removed your own administrator role from the file: unless your sign-in token gives it "
                    "to you, you lose this page at your next click.")
    _done(message, new_digest, path)


def change_form(path, mapping: identity.RoleMapping, opened_digest: str) -> None:
    st.subheader("Add, change or remove an entry", anchor=False)
    st.caption("Choose an entry, or a new one, and the roles it gives; no roles removes the entry. Each change is "
               "recorded in the audit trail (who, when, the entry, its roles before and after) before it is saved. "
               "If someone else saved the file after you opened this page, your change is refused.")
    revision = st.session_state.get(_REVISION, 0)
    entries = [(section, name) for section in ("users", "groups") for name in sorted(getattr(mapping, section))]
    choice = st.selectbox("Entry", [NEW_ENTRY, *entries], key=f"access_entry_{revision}",
                          format_func=lambda e: "New entry" if e == NEW_ENTRY else
                          f"{'Person' if e[0] == 'users' else 'Group'}: {e[1]}")
    with st.form(f"access_form_{revision}_{choice[0]}_{choice[1]}", border=True):
        if choice == NEW_ENTRY:
            section = st.radio("Kind of entry", ["users", "groups"], format_func=SECTION_WORDS.get, horizontal=True,
                               key=f"access_kind_{revision}")
            name = st.text_input("Email address or group id", key=f"access_name_{revision}", max_chars=320,
                                 help="An email address as the user signs in with it (any case), or a group's id "
                                      "exactly as the token's groups claim gives it (for Entra, the object id).")
            current = ()
        else:
            section, name = choice
            st.text(f"{SECTION_WORDS[section]}: {name}")  # as typed, never as Markdown
            current = getattr(mapping, section)[name]
        roles = st.multiselect("Roles", list(access.ROLES), default=list(current), format_func=identity.ROLE_LABELS.get,
                               key=f"access_roles_{revision}_{choice[0]}_{choice[1]}",
                               help="Leave empty to remove the entry.")
        submitted = st.form_submit_button("Save", type="primary", icon=":material/save:", key="access_save")
    if submitted:
        save_entry(path, opened_digest, section, name, roles)


def mapping_file(path) -> None:
    st.subheader("The mapping file", anchor=False)
    try:
        mapping, digest = identity.mapping_and_digest(path)
    except identity.RoleMappingError as exc:
        st.error("The mapping file cannot be used: " + display.plain("; ".join(exc.problems)) + ". Correct it on "
                 "the server.", icon=":material/error:")
        return
    opened = st.session_state.setdefault(_OPENED, {})
    opened_digest = opened.setdefault(str(path), digest)
    if opened_digest != digest:
        st.warning("The mapping file has changed since you opened this page (someone else saved a change, or it was "
                   "edited on the server). The entries below are the current ones; reload before changing any.",
                   icon=":material/sync_problem:")
        if st.button("Reload the entries", icon=":material/refresh:"):
            opened[str(path)] = digest
            st.session_state[_REVISION] = st.session_state.get(_REVISION, 0) + 1
            st.rerun()
    outcome = st.session_state.pop(_OUTCOME, None)
    if outcome:
        st.success(outcome, icon=":material/check_circle:")
    mapping_table(mapping)
    change_form(path, mapping, opened_digest)


st.caption("Who may see what: the roles, where they come from, and the mapping file of email addresses and groups "
           "to roles. Only administrators see this page; the sidebar's filters do not apply here.")
settings = identity.auth_settings(identity.secrets_mapping(), APP_DIR)
where_roles_come_from(settings.role_mapping)
role_definitions()
if not ctx.demo and settings.role_mapping is not None:
    mapping_file(settings.role_mapping)
