"""Who is looking: the signed-in identity and its roles, or the demo's stand-in.

With an identity provider configured (an `[auth]` section in `.streamlit/secrets.toml`), everyone signs in
with `st.login` (OpenID Connect; typically the force's Microsoft Entra ID tenant). Roles come from the ID
token's `roles` claim (Entra app roles whose values are the role names) and from an optional mapping file
of email addresses and groups to roles. Anyone with no role sees nothing but a page saying so.

With no identity provider the app runs in demo mode: a role switcher stands in for sign-in, and the
frame refuses to open any store that does not hold the synthetic demo data.

The functions that decide (`roles_from_claims`, `session_problem`, `load_role_mapping`) are pure, so the
rules are tested without a browser; `current_claims` is the one place that reads `st.user`. Sign-in events go to
the audit trail (`data_access.audit`): a `sign_in` record once per session when a signed-in user is first let in
(if it cannot be written, nobody is let in), and an `access_refused` record when a signed-in user has no role or
an expired session (if that cannot be written, the refusal stands all the same). The admin's
"Who may see what" page changes the mapping file through `save_role_mapping`, which writes it whole, and only
over the version the page read.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import stat
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import streamlit as st
import yaml

from data_access import audit
from ui import access

__all__ = ["Identity", "RoleMapping", "RoleMappingError", "RoleMappingChanged", "ROLE_LABELS",
           "DEFAULT_MAX_SESSION_HOURS", "MAX_ENTRY_CHARS", "auth_settings", "load_role_mapping", "mapping_and_digest",
           "entry_key", "entry_problems", "with_user_roles", "with_group_roles", "mapping_to_yaml",
           "save_role_mapping", "roles_from_claims", "session_problem", "expired_message", "user_name",
           "current_claims", "resolve_identity", "record_refusal", "NO_ROLE"]

log = logging.getLogger(__name__)

ROLE_LABELS = {"board": "Board", "action_group": "Action group", "victim_services": "Victim services",
               "admin": "Administrator"}
DEFAULT_MAX_SESSION_HOURS = 8.0  # one working shift; then the user signs in again
_REQUIRED_AUTH_KEYS = ("redirect_uri", "cookie_secret")
_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class Identity:
    user: str  # email, or the token's subject when it has no email
    roles: tuple[str, ...]  # every role this identity may act as, least privileged first
    demo: bool  # no identity provider: the demo's role switcher decides


@dataclass(frozen=True)
class RoleMapping:
    """Roles granted by email address (lower case) and by group (as the token's `groups` claim names it)."""
    users: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""


class RoleMappingError(Exception):
    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class AuthSettings:
    configured: bool  # an identity provider is set up: sign-in is required
    provider: str | None  # the [auth.<provider>] section to sign in with, or None for [auth] itself
    problems: tuple[str, ...]  # an [auth] section that cannot work, in words
    role_mapping: Path | None
    max_session_hours: float


def _ordered(roles) -> tuple[str, ...]:
    wanted = set(roles)
    return tuple(r for r in access.ROLES if r in wanted)


def auth_settings(secrets: Mapping, app_dir: Path) -> AuthSettings:
    """Read the [auth] and [access] sections of the secrets (a mapping, so tests can pass a dict)."""
    auth = secrets.get("auth") or {}
    settings = secrets.get("access") or {}
    problems: list[str] = []
    provider = None
    if auth:
        problems += [f"[auth] has no {key}" for key in _REQUIRED_AUTH_KEYS if not auth.get(key)]
        providers = [name for name, value in auth.items() if isinstance(value, Mapping)]
        provider = settings.get("provider") or (providers[0] if len(providers) == 1 else None)
        section = auth.get(provider) if provider else auth
        if provider and not isinstance(section, Mapping):
            problems.append(f"[access] provider = {provider!r} but there is no [auth.{provider}] section")
            section = {}
        problems += [f"[auth{'.' + provider if provider else ''}] has no {key}" for key in _PROVIDER_KEYS
                     if not section.get(key)]
    mapping_text = settings.get("role_mapping")
    mapping = Path(mapping_text).expanduser() if mapping_text else None
    if mapping is not None and not mapping.is_absolute():
        mapping = app_dir / mapping
    try:
        hours = float(settings.get("max_session_hours", DEFAULT_MAX_SESSION_HOURS))
    except (TypeError, ValueError):
        hours = -1
    if not 0 < hours <= 24:
        problems.append("[access] max_session_hours must be a number of hours from 0 to 24")
        hours = DEFAULT_MAX_SESSION_HOURS
    return AuthSettings(bool(auth), provider, tuple(problems), mapping, hours)


def load_role_mapping(path: Path) -> RoleMapping:
    """The mapping file (YAML: `users:` email -> roles, `groups:` group -> roles); every problem named."""
    return _parse_role_mapping(_read_mapping_text(path), path.name)


def _read_mapping_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoleMappingError(path.name, ["the file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RoleMappingError(path.name, [f"the file cannot be read ({exc.__class__.__name__})"]) from None


def _is_email(name) -> bool:
    return bool(_EMAIL_RE.match(str(name)))


def _unknown_roles(roles) -> list:
    return [r for r in roles if r not in access.ROLES]


def _parse_role_mapping(text: str, source: str) -> RoleMapping:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise RoleMappingError(source, [f"it is not valid YAML{where}"]) from None
    if not isinstance(raw, Mapping):
        raise RoleMappingError(source, ["expected `users:` and `groups:` sections"])
    problems = [f"unknown section {key!r} (expected users, groups, version)" for key in raw
                if key not in ("users", "groups", "version")]
    parsed: dict[str, dict[str, tuple[str, ...]]] = {}
    for section in ("users", "groups"):
        entries = raw.get(section) or {}
        if not isinstance(entries, Mapping):
            problems.append(f"{section}: expected a list of `name: [role, ...]` entries")
            continue
        parsed[section] = {}
        for name, roles in entries.items():
            roles = [roles] if isinstance(roles, str) else roles
            if not isinstance(roles, list) or not roles:
                problems.append(f"{section} {name!r}: expected a list of roles")
                continue
            unknown = _unknown_roles(roles)
            if unknown:
                problems.append(f"{section} {name!r}: unknown role(s) {', '.join(map(str, unknown))} "
                                f"(roles are {', '.join(access.ROLES)})")
            if section == "users" and not _is_email(name):
                problems.append(f"users {name!r}: not an email address")
            key = str(name).strip().lower() if section == "users" else str(name).strip()
            parsed[section][key] = _ordered(r for r in roles if r in access.ROLES)
    if problems:
        raise RoleMappingError(source, problems)
    return RoleMapping(parsed.get("users", {}), parsed.get("groups", {}), source)


# --- editing the mapping file (the admin's "Who may see what" page) -------------------------------------

MAX_ENTRY_CHARS = 254  # the longest usable email address; the audit trail takes ids of up to 256
DEFAULT_MAPPING_HEADER = (
    "# Who may see what, beside the roles in the sign-in token (see README, \"Sign-in and roles\").\n"
    "# Kept readable only by the dashboard's service account. Roles: board, action_group, victim_services, admin.\n"
    "# Saved by the dashboard's \"Who may see what\" page, which keeps this header but not comments beside entries.\n")
_ENTRY_WORDS = {"users": "Email address", "groups": "Group id"}


class RoleMappingChanged(RoleMappingError):
    """The file is not the version the change was made against: someone else saved it meanwhile."""

    def __init__(self, source: str):
        super().__init__(source, ["the file has changed since it was opened (someone else saved a change, or it was "
                                  "edited on the server), so nothing was written"])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mapping_and_digest(path: Path) -> tuple[RoleMapping, str]:
    """The mapping and the sha256 of the very bytes it was read from: the version a change is made against."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RoleMappingError(path.name, ["the file does not exist"]) from None
    except OSError as exc:
        raise RoleMappingError(path.name, [f"the file cannot be read ({exc.__class__.__name__})"]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RoleMappingError(path.name, ["the file cannot be read (UnicodeDecodeError)"]) from None
    return _parse_role_mapping(text, path.name), _sha256(data)


def entry_key(section: str, name: str) -> str:
    """The name as the mapping keeps it: an email address trimmed and in lower case, a group id trimmed."""
    name = str(name).strip()
    return name.lower() if section == "users" else name


def entry_problems(section: str, name: str, roles) -> list[str]:
    """What is wrong with one entry (section "users" or "groups"), each problem naming its field.

    The same rules as the file's (an email address, known roles), and an entry must also be short enough and
    free of control characters to be named in the audit trail. Empty roles are allowed: they remove the entry."""
    if section not in _ENTRY_WORDS:
        raise ValueError(f"unknown mapping section {section!r}")
    field_name, key = _ENTRY_WORDS[section], entry_key(section, name)
    problems = []
    if not key:
        problems.append(f"{field_name}: enter one.")
    elif len(key) > MAX_ENTRY_CHARS:
        problems.append(f"{field_name}: longer than {MAX_ENTRY_CHARS} characters.")
    elif any(unicodedata.category(c).startswith("C") for c in key):
        problems.append(f"{field_name}: contains a control or invisible formatting character.")
    elif section == "users" and not _is_email(key):
        problems.append(f"{field_name} {key!r}: not an email address (it needs one @ and no spaces).")
    if isinstance(roles, str):
        roles = [roles]
    unknown = _unknown_roles(roles)
    if unknown:
        problems.append(f"Roles: unknown role(s) {', '.join(map(str, unknown))} (roles are {', '.join(access.ROLES)}).")
    return problems


def _with_entry_roles(mapping: RoleMapping, section: str, name: str, roles) -> RoleMapping:
    roles = [roles] if isinstance(roles, str) else list(roles)
    problems = entry_problems(section, name, roles)
    if problems:
        raise RoleMappingError(mapping.source or "the role mapping", problems)
    entries = dict(getattr(mapping, section))
    key = entry_key(section, name)
    if roles:
        entries[key] = _ordered(roles)
    else:
        entries.pop(key, None)
    return replace(mapping, **{section: entries})


def with_user_roles(mapping: RoleMapping, email: str, roles) -> RoleMapping:
    """A copy of the mapping with this email address given exactly these roles (none: the entry removed).
    Raises RoleMappingError naming each field that is wrong."""
    return _with_entry_roles(mapping, "users", email, roles)


def with_group_roles(mapping: RoleMapping, group: str, roles) -> RoleMapping:
    """A copy of the mapping with this group given exactly these roles (none: the entry removed)."""
    return _with_entry_roles(mapping, "groups", group, roles)


def _comment_header(text: str) -> str | None:
    """The file's opening comment lines, kept when it is saved again."""
    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            lines.append(line)
        elif line.strip():
            break
    return "\n".join(lines) + "\n" if lines else None


def mapping_to_yaml(mapping: RoleMapping, header: str | None = None) -> str:
    """The mapping as the file's YAML, in a stable order (entries alphabetical, roles least privileged first),
    after the header (comment lines; the default one if None)."""
    header = DEFAULT_MAPPING_HEADER if header is None else header
    if header and not header.endswith("\n"):
        header += "\n"
    if any(line and not line.startswith("#") for line in header.splitlines()):
        raise ValueError("a mapping file's header must be comment lines")
    body = {"version": 1,
            "users": {key: list(_ordered(mapping.users[key])) for key in sorted(mapping.users)},
            "groups": {key: list(_ordered(mapping.groups[key])) for key in sorted(mapping.groups)}}
    return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=None, allow_unicode=True, width=1000)


_WRITE_REASONS = {
    errno.EACCES: "no permission to write in its folder",
    errno.EPERM: "no permission to write in its folder",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.ENOENT: "its folder does not exist",
}


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """One writer at a time, across threads and processes: an exclusive lock on the folder itself (a lock on
    the file would not do, as each save replaces the file with a new one)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _replace_atomically(target: Path, data: bytes, mode: int) -> None:
    """Write a temporary file beside the target, on disk, then swap it in: readers see the old file or the new."""
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # the rename on disk too; the file itself is already whole
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def save_role_mapping(path: Path, new_mapping: RoleMapping, expected_sha256: str | None) -> str:
    """Write the mapping to its file, whole or not at all, and return the new file's sha256.

    `expected_sha256` is the digest of the version the change was made against (mapping_and_digest), or None
    for a file that does not exist yet. If the file is not that version, RoleMappingChanged is raised and
    nothing is written. A mapping the file's rules would refuse, or a file that cannot be written, raises
    RoleMappingError and changes nothing. The file keeps its permissions (a new one is 0600) and its header.
    """
    target = Path(os.path.realpath(path))  # a symbolic link stays a link to the file it names
    source = target.name
    try:
        with _folder_lock(target.parent):
            try:
                current = target.read_bytes()
                mode = stat.S_IMODE(target.stat().st_mode)
            except FileNotFoundError:
                current, mode = None, 0o600
            if (None if current is None else _sha256(current)) != expected_sha256:
                raise RoleMappingChanged(source)
            header = _comment_header(current.decode("utf-8", errors="replace")) if current is not None else None
            text = mapping_to_yaml(new_mapping, header)
            _parse_role_mapping(text, source)  # never write a file that would stop everyone at sign-in
            data = text.encode("utf-8")
            _replace_atomically(target, data, mode)
    except OSError as exc:
        reason = _WRITE_REASONS.get(exc.errno, exc.strerror or exc.__class__.__name__)
        raise RoleMappingError(source, [f"it could not be written ({reason}); the file is unchanged"]) from None
    return _sha256(data)


def user_name(claims: Mapping) -> str:
    for claim in ("email", "preferred_username", "upn", "sub"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return "unknown user"


def _as_list(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def roles_from_claims(claims: Mapping, mapping: RoleMapping | None = None) -> tuple[str, ...]:
    """Every role the token grants: its `roles` claim, plus the mapping file's entries for its email and
    groups. Anything unrecognised grants nothing (default deny)."""
    granted = set(r for r in _as_list(claims.get("roles")) if r in access.ROLES)
    if mapping is not None:
        for claim in ("email", "preferred_username", "upn"):
            for name in _as_list(claims.get(claim)):
                granted.update(mapping.users.get(name.strip().lower(), ()))
        for group in _as_list(claims.get("groups")):
            granted.update(mapping.groups.get(group, ()))
    return _ordered(granted)


def session_problem(claims: Mapping, now: datetime, max_hours: float) -> str | None:
    """Why this signed-in session must end (older than the maximum age, or its token expired), or None."""
    now_s = now.timestamp()
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, (int, float)):
        return "the sign-in has no issue time"
    if now_s - issued > max_hours * 3600:
        return f"the sign-in is more than {max_hours:g} hours old"
    if isinstance(expires, (int, float)) and now_s >= expires:
        return "the sign-in token has expired"
    return None


def current_claims() -> Mapping | None:
    """The signed-in user's ID-token claims, or None when nobody is signed in. The one place reading st.user."""
    try:
        if not st.user.is_logged_in:
            return None
    except AttributeError:  # no [auth] configured: st.user has no is_logged_in
        return None
    return st.user.to_dict()


def _file_version(path: Path) -> tuple[int, int, int]:
    """Changes whenever the file is replaced or rewritten, even twice within one tick of the file clock."""
    try:
        info = path.stat()
    except OSError:
        return (0, 0, 0)
    return (info.st_mtime_ns, info.st_ino, info.st_size)


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_mapping(path_text: str, version: tuple[int, int, int]) -> RoleMapping:
    return load_role_mapping(Path(path_text))


def expired_message(problem: str, max_hours: float) -> str:
    """What the user is told when session_problem ended their session, in plain words."""
    if problem.endswith("hours old"):
        return f"Your session has expired after {max_hours:g} hours; please sign in again."
    if problem.endswith("has expired"):
        return "Your sign-in has expired; please sign in again."
    return "Your sign-in could not be checked, so it has ended; please sign in again."


NO_ROLE = "none"  # the audit trail's role for a signed-in user refused before acting as any role
_AUDITED_KEY = "_vcd_audited_access"  # session key: the sign-in events already recorded in this session


def _audited() -> set:
    return st.session_state.setdefault(_AUDITED_KEY, set())


def _issued_at(claims: Mapping) -> str | None:
    issued = claims.get("iat")
    if not isinstance(issued, (int, float)) or isinstance(issued, bool):
        return None
    try:
        return datetime.fromtimestamp(issued, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


def record_refusal(audit_db: Path | None, *, user: str, role: str, reason: str, page: str | None = None,
                   detail: Mapping | None = None) -> None:
    """Record an `access_refused` event, once per session for each (user, role, reason, page).

    Never raises: the caller refuses whether or not the record could be written (a refusal grants nothing, so
    a trail that cannot take it must not turn it into access). A record not written is logged, and tried again
    at the next refusal."""
    if audit_db is None:
        return
    seen = _audited()
    key = ("access_refused", user, role, reason, page)
    if key in seen:
        return
    try:
        audit.record(audit_db, user=user, role=role, action="access_refused", page=page,
                     detail={"reason": reason, **(detail or {})})
    except (audit.AuditError, ValueError) as exc:
        log.error("audit record of a refusal (%s) failed: %s", reason, exc.__class__.__name__)
        return
    seen.add(key)


def _record_sign_in(audit_db: Path | None, user: str, roles: tuple[str, ...], claims: Mapping) -> None:
    """Record the sign-in once per session (not at every rerun); stop the run if the trail cannot take it."""
    if audit_db is None:
        return
    issued = _issued_at(claims)
    key = ("sign_in", user, issued)
    seen = _audited()
    if key in seen:
        return
    try:
        # The role is the one the session starts acting as (the least privileged); all of them in the detail.
        audit.record(audit_db, user=user, role=roles[0], action="sign_in",
                     detail={"roles": list(roles), "issued_at": issued})
    except (audit.AuditError, ValueError) as exc:
        log.error("audit record of a sign-in failed: %s", exc.__class__.__name__)
        _stop_with(f"Your sign-in could not be recorded in the audit trail, so the dashboard will not open: every "
                   f"sign-in is recorded first. Ask whoever runs the server to check that the audit file "
                   f"({Path(audit_db).name}) can be written, then reload this page.")
    seen.add(key)


def resolve_identity(settings: AuthSettings, demo_role_key: str, audit_db: Path | None = None) -> Identity:
    """The identity for this run. Stops the run with the sign-in page, or a plain message, when there is none.

    `audit_db` is the audit trail the sign-in events go to (none recorded when it is None)."""
    if not settings.configured:
        return Identity("demo user", access.ROLES, demo=True)
    if settings.problems:
        log.error("sign-in misconfigured: %s", "; ".join(settings.problems))
        _stop_with("Sign-in is configured in `.streamlit/secrets.toml` but cannot work: "
                   + "; ".join(settings.problems) + ". An administrator must correct it.")
    claims = current_claims()
    if claims is None:
        _sign_in_page(settings)
    user = user_name(claims)
    problem = session_problem(claims, datetime.now(timezone.utc), settings.max_session_hours)
    if problem:
        log.info("ending a session: %s", problem)
        record_refusal(audit_db, user=user, role=NO_ROLE, reason="session_expired",
                       detail={"why": problem, "issued_at": _issued_at(claims),
                               "max_session_hours": settings.max_session_hours})
        _expired_page(expired_message(problem, settings.max_session_hours))
    mapping = None
    if settings.role_mapping is not None:
        path = settings.role_mapping
        try:
            mapping = _cached_mapping(str(path), _file_version(path))
        except RoleMappingError as exc:
            log.error("role mapping unusable: %s", exc)
            _stop_with(f"The role mapping file has mistakes, so nobody's role can be decided: "
                       f"{'; '.join(exc.problems)}. An administrator must correct it.")
    roles = roles_from_claims(claims, mapping)
    if not roles:
        log.warning("signed-in user has no role")
        record_refusal(audit_db, user=user, role=NO_ROLE, reason="no_role")
        _no_role_page(user)
    _record_sign_in(audit_db, user, roles, claims)
    return Identity(user, roles, demo=False)


def _stop_with(message: str) -> None:
    st.navigation([st.Page(lambda: st.error(message, icon=":material/error:"), title="Unavailable",
                           url_path="unavailable", default=True)])
    st.error(message, icon=":material/error:")
    st.stop()


def _sign_in_page(settings: AuthSettings) -> None:
    """The only page anyone who is not signed in can reach."""
    def page() -> None:
        st.title("Victims' Code compliance")
        st.write("This dashboard holds information about victims of crime. Sign in with your force account "
                 "to continue.")
        if st.button("Sign in", type="primary", icon=":material/login:"):
            st.login(settings.provider) if settings.provider else st.login()

    st.navigation([st.Page(page, title="Sign in", icon=":material/login:", url_path="sign-in", default=True)]).run()
    st.stop()


def _no_role_page(user: str) -> None:
    def page() -> None:
        st.title("No access yet")
        st.write(f"You are signed in as {user}, but no role in this dashboard has been given to you. Ask the "
                 "dashboard's administrator for the board, action group or victim services role.")
        st.button("Sign out", on_click=st.logout, icon=":material/logout:")

    st.navigation([st.Page(page, title="No access", icon=":material/lock:", url_path="no-access",
                           default=True)]).run()
    st.stop()


def _expired_page(message: str) -> None:
    """Instead of a silent sign-out: say why, and sign out (the identity cookie goes, and the provider's session
    ends) when the user asks to sign in again. Nothing else is shown meanwhile."""
    def page() -> None:
        st.title("Session expired")
        st.info(message, icon=":material/schedule:")
        st.button("Sign in again", on_click=st.logout, icon=":material/login:", type="primary",
                  help="Signs you out, then takes you back to the sign-in page.")

    st.navigation([st.Page(page, title="Session expired", icon=":material/schedule:", url_path="session-expired",
                           default=True)]).run()
    st.stop()


def secrets_mapping() -> Mapping:
    """st.secrets as a plain mapping; an absent or unreadable secrets file reads as empty (demo mode)."""
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except FileNotFoundError:
        return {}
    except Exception:  # noqa: BLE001 - a malformed secrets file: say so in the log, run as if absent
        log.warning("could not read .streamlit/secrets.toml; running without sign-in")
        return {}

