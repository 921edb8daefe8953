"""The page frame: which store, who is looking, the shared sidebar filters, and each page's guard.

app.py calls `start()` then `sidebar_filters()` on every run and hands the result to the page
through `page_context()`, which every page calls first. A page script run without the frame
(Streamlit can serve a file in pages/ directly before any session has built the navigation)
finds no context and shows nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import streamlit as st

from data_access.audit import default_audit_path
from data_access.queries import dimension_values
from data_access.schema import SCHEMA_VERSION
from data_access.store import Store, StoreError, open_store
from metrics import contract
from metrics.catalogue import DEFAULT_CATALOGUE_PATH, Catalogue, CatalogueError, load_catalogue
from metrics.filters import DIMENSIONS, Filters, add_months, default_period
from metrics.quarterly_return import (latest_complete_quarter, parse_quarter, quarters_covering,
                                      return_filters)
from ui import access, identity
from ui.display import plain
from ui.hardening import config_problems

__all__ = ["PageContext", "start", "sidebar_filters", "page_context", "navigation_pages", "right_from_url"]

log = logging.getLogger(__name__)

APP_DIR = Path(__file__).resolve().parent.parent
DEMO_CASES, DEMO_MONTHS, DEMO_SEED = 40_000, 24, 7
DEFAULT_PERIOD_MONTHS = 12
_CONTEXT_KEY = "_vcd_page_context"


@dataclass(frozen=True)
class PageContext:
    store: Store
    store_key: str  # identifies the store's contents, for caches: path and build time
    catalogue: Catalogue
    role: str
    user: str  # who is looking, for the audit trail (the signed-in identity, or the demo's stand-in)
    audit_db: Path  # the audit trail's own file (data_access.audit)
    roles: tuple[str, ...] = ()  # every role the identity may act as
    demo: bool = False  # demo mode: no sign-in, the role switcher decides
    filters: Filters | None = None  # set once the sidebar filters have been drawn


def _fail(message: str) -> None:
    """Show a problem in plain words (never a traceback) and stop the run."""
    st.error(message, icon=":material/error:")
    st.stop()


def _configured_store_path(secrets) -> Path | None:
    env = os.environ.get("VCD_STORE")
    if env:
        return Path(env).expanduser()
    store = secrets.get("store") or {}
    path = store.get("path") if hasattr(store, "get") else None
    return Path(path).expanduser() if path else None


def _demo_store_path() -> Path:
    return Path(os.environ.get("VCD_DATA_DIR", APP_DIR / "data")).expanduser() / "demo.duckdb"


@st.cache_resource(show_spinner=False)
def _ensure_demo_store(path_text: str) -> str:
    """Build the small demo store on first start, or when it was built for another schema version."""
    from data_access.demo import build_demo_store

    path = Path(path_text)
    if path.exists():
        try:
            open_store(path).close()
            return path_text
        except StoreError:
            log.info("demo store at %s is unreadable or from another version; rebuilding", path)
    from data_access.__main__ import default_demo_start

    with st.spinner(f"Building the demo store for the first start ({DEMO_CASES:,} synthetic cases); "
                    "this takes a few seconds…", show_time=True):
        build_demo_store(path, cases=DEMO_CASES, start=default_demo_start(DEMO_MONTHS),
                         months=DEMO_MONTHS, seed=DEMO_SEED)
    return path_text


# One entry: when an import or purge replaces the file, the old version's connection is closed, so erased data
# does not stay readable through it.
@st.cache_resource(show_spinner=False, max_entries=1, on_release=lambda store: store.close())
def _open_cached(path_text: str, modified_ns: int) -> Store:
    """One hardened read-only connection per store file version, shared by all sessions."""
    return open_store(path_text)


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_catalogue(path_text: str, modified_ns: int) -> Catalogue:
    """The catalogue, reloaded when the file changes, so a YAML edit shows without a restart."""
    return load_catalogue(path_text)


DEMO_ROLE_KEY = "vcd_demo_role"  # session key of the role switcher (tests set it to act as a role)


def _check_server_settings(production: bool) -> None:
    problems = config_problems(st.get_option, production=production)
    for problem in problems:
        log.warning("server setting: %s", problem)
    if problems and production:
        _fail("The dashboard will not run with unsafe server settings. Correct these in "
              "`.streamlit/config.toml` and restart it:\n\n" + "\n".join(f"- {p}" for p in problems))


_ROLE_WIDGET_KEY = "_vcd_role_choice"


def _role_chosen(roles: tuple[str, ...]) -> None:
    by_label = {identity.ROLE_LABELS[r]: r for r in roles}
    st.session_state[DEMO_ROLE_KEY] = by_label.get(st.session_state.get(_ROLE_WIDGET_KEY), roles[0])


def _acting_role(who: identity.Identity) -> str:
    """The role this run acts as: the only one the identity has, or the one chosen in the sidebar (kept
    under DEMO_ROLE_KEY, so the choice survives page switches and tests can set the role directly)."""
    default = access.DEMO_ROLE if who.demo else who.roles[0]  # signed in: least privileged first
    role = st.session_state.get(DEMO_ROLE_KEY)
    role = role if role in who.roles else default
    st.session_state[DEMO_ROLE_KEY] = role
    return role


def _role_switcher(ctx: PageContext) -> None:
    """Drawn after st.navigation, like the filters: a widget drawn before it changes identity between the
    first run and the next, and the first choice made in it would be lost. Signed in, who is signed in and a
    button to sign out come first."""
    if not ctx.demo:
        st.caption(f"Signed in as {plain(ctx.user)}")
        st.button("Sign out", key="vcd_sign_out", on_click=st.logout, icon=":material/logout:")
    if len(ctx.roles) < 2:
        return
    st.session_state[_ROLE_WIDGET_KEY] = identity.ROLE_LABELS[ctx.role]
    st.selectbox(
        "Demo role" if ctx.demo else "Acting as", [identity.ROLE_LABELS[r] for r in ctx.roles],
        key=_ROLE_WIDGET_KEY, on_change=_role_chosen, args=(ctx.roles,),
        help="Demo mode has no sign-in: choose a role to see the dashboard as that audience does."
        if ctx.demo else "You hold more than one role; each page shows what the chosen role may see.")


def start() -> PageContext:
    """Resolve who is looking, the catalogue, the store and the role for this run; stop with a message if
    any is unusable. Nothing is read from the store before the identity is settled."""
    secrets = identity.secrets_mapping()
    settings = identity.auth_settings(secrets, APP_DIR)
    _check_server_settings(production=settings.configured)
    configured = _configured_store_path(secrets)
    # Sign-in events go to the store's audit trail, which is beside the store: known without opening it.
    audit_db = default_audit_path(configured if configured is not None else _demo_store_path())
    who = identity.resolve_identity(settings, DEMO_ROLE_KEY, audit_db=audit_db)
    catalogue_path = Path(os.environ.get("VCD_CATALOGUE", DEFAULT_CATALOGUE_PATH))
    try:
        catalogue = _load_catalogue(str(catalogue_path), catalogue_path.stat().st_mtime_ns if catalogue_path.exists() else 0)
    except CatalogueError as exc:
        log.error("catalogue invalid: %s", exc)
        _fail(f"The Victims' Code catalogue ({catalogue_path.name}) has mistakes, so no figures can be shown. "
              "Correct these and reload the page:\n\n" + "\n".join(f"- {p}" for p in exc.problems))
    try:
        path = configured if configured is not None else Path(_ensure_demo_store(str(_demo_store_path())))
        version = path.stat().st_mtime_ns if path.exists() else 0
        store = _open_cached(str(path), version)
    except StoreError as exc:
        log.error("store unusable: %s", exc)
        _fail(f"The dashboard cannot open its data store. {exc}")
    except OSError as exc:
        log.error("store unusable: %s", exc.__class__.__name__)
        _fail(f"The dashboard cannot open its data store: {exc.strerror or exc.__class__.__name__}.")
    if store.meta.schema_version != SCHEMA_VERSION:  # pragma: no cover - open_store already refuses
        _fail("The data store was built for another version of the dashboard.")
    if who.demo and not store.meta.is_demo:
        log.error("refused to open a store of real data without sign-in: %s", store.path)
        _fail("This store holds real data, and sign-in is not configured, so the dashboard will not show it. "
              "Configure sign-in (see README, 'Sign-in and roles'), or remove the store setting to run on the "
              "synthetic demo data.")
    role = _acting_role(who)
    if who.demo:
        st.warning(f"**Demo mode: synthetic data, no sign-in.** Every figure comes from generated records for a "
                   f"fictional force modelled on Essex Police; no real victim is described. You are seeing the "
                   f"dashboard as the **{identity.ROLE_LABELS[role]}** role: switch roles in the sidebar.",
                   icon=":material/science:")
    elif store.meta.is_demo:
        st.warning("**Synthetic demonstration data.** Every figure on this page comes from generated records "
                   "for a fictional force modelled on Essex Police; no real victim is described.",
                   icon=":material/science:")
    # The file's modification time as well as its build time: two imports can finish within one second.
    return PageContext(store=store, store_key=f"{store.path}|{store.meta.built_at}|{version}",
                       catalogue=catalogue, role=role, user=f"demo user ({role})" if who.demo else who.user,
                       audit_db=default_audit_path(store.path), roles=who.roles, demo=who.demo)


def navigation_pages(ctx: PageContext) -> list:
    return [st.Page(APP_DIR / p.path, title=p.title, icon=p.icon, default=p.default, url_path=None if p.default else p.page_id)
            for p in access.pages_for(ctx.role)]


@st.cache_data(ttl=3600, max_entries=16, show_spinner=False)
def _dimension_values(_store: Store, store_key: str) -> dict[str, tuple[str, ...]]:
    return dimension_values(_store)


def _month_options(first: date, last: date) -> list[str]:
    months, current = [], first
    while current <= last:
        months.append(f"{current:%Y-%m}")
        current = add_months(current, 1)
    return months


def _month_label(text: str) -> str:
    return date.fromisoformat(text + "-01").strftime("%b %Y")


def _reset_filters(defaults: dict) -> None:
    for key, value in defaults.items():
        st.session_state[key] = value


def _board_quarter(ctx: PageContext) -> PageContext:
    """The board's only choice: a quarter, for the whole force. Free filters would let two views be subtracted
    to reveal a small group (differencing), and the board's questions are force-wide and quarterly."""
    meta = ctx.store.meta
    quarters = [q for q in quarters_covering(meta.first_month, meta.last_month) if q.first_month <= meta.data_as_of]
    default = latest_complete_quarter(quarters, meta.data_as_of)
    options = [str(q) for q in reversed(quarters)]  # newest first
    with st.sidebar:
        _role_switcher(ctx)
        chosen = st.selectbox("Quarter", options, index=options.index(str(default)), key="board_quarter",
                              format_func=lambda text: parse_quarter(text).describe(), bind="query-params")
        st.caption(f"The whole force, with counts from 1 to 9 hidden. Data as of {meta.data_as_of:%d %B %Y}.")
    context = replace(ctx, filters=return_filters(parse_quarter(chosen), meta.data_as_of))
    st.session_state[_CONTEXT_KEY] = context
    return context


def sidebar_filters(ctx: PageContext) -> PageContext:
    """Draw the shared filters (kept in the URL so a view can be shared) and return the context with them."""
    if ctx.role == access.BOARD_ROLE:
        return _board_quarter(ctx)
    meta = ctx.store.meta
    months = _month_options(meta.first_month, meta.last_month)
    first, last = default_period(meta.first_month, meta.last_month, meta.data_as_of, DEFAULT_PERIOD_MONTHS)
    default_period_value = (f"{first:%Y-%m}", f"{last:%Y-%m}")
    options = _dimension_values(ctx.store, ctx.store_key)
    defaults = {"period": default_period_value, **{name: [] for name in DIMENSIONS}}
    with st.sidebar:
        _role_switcher(ctx)
        st.header("Filters", anchor=False)
        if len(months) > 1:
            period = st.select_slider("Period", options=months,
                                      value=default_period_value, format_func=_month_label, key="period",
                                      bind="query-params",
                                      help="Entitlements count in the month they were triggered; measures from "
                                           "the contact log, in the month the crime was reported. By default the "
                                           "last month is left out while its entitlements are still being delivered.")
        else:
            period = (months[0], months[0])
            st.caption(f"Period: {_month_label(months[0])}")
        selections = {}
        for name in ("command_area", "district", "offence_group", "victim_type"):
            selections[name] = _dimension_filter(name, options[name])
        with st.expander("Victim characteristics", expanded=any(st.session_state.get(n) for n in
                                                                 ("age_band", "sex", "ethnicity", "disability"))):
            for name in ("age_band", "sex", "ethnicity", "disability"):
                selections[name] = _dimension_filter(name, options[name])
        st.button("Clear filters", on_click=_reset_filters, args=(defaults,), icon=":material/filter_alt_off:")
        st.caption(f"Data as of {meta.data_as_of:%d %B %Y}. Only what had happened by then is counted.")
    filters = Filters(
        first_month=date.fromisoformat(period[0] + "-01"),
        last_month=date.fromisoformat(period[1] + "-01"),
        as_of=meta.data_as_of,
        selections={k: tuple(v) for k, v in selections.items()},
    )
    context = replace(ctx, filters=filters)
    st.session_state[_CONTEXT_KEY] = context
    return context


def _dimension_filter(name: str, values: tuple[str, ...]) -> list[str]:
    dim = DIMENSIONS[name]
    return st.multiselect(dim.label, options=list(values), format_func=contract.label, key=name,
                          placeholder="All", bind="query-params")


def page_context(page_id: str) -> PageContext:
    """Every page's first call: the run's context if this role may see the page; otherwise stop.

    Streamlit can run a script in pages/ without app.py (before any session has built the
    navigation, and in AppTest). The page then frames itself here, with the same store, role and
    filters, so it is checked exactly as it would be inside the navigation.
    """
    context = st.session_state.pop(_CONTEXT_KEY, None)
    if context is None or context.filters is None:
        base = start()
        # Registering the role's navigation replaces Streamlit's list of every file in pages/, and from
        # now on the server routes every page through app.py. The page itself carries on below.
        st.navigation(navigation_pages(base))
        context = sidebar_filters(base)
        st.session_state.pop(_CONTEXT_KEY, None)
    if not access.may_view(context.role, page_id):
        log.warning("role %s refused page %s", context.role, page_id)
        if not context.demo:  # in demo mode anyone may act as any role: a refusal there is not a security event
            identity.record_refusal(context.audit_db, user=context.user, role=context.role, reason="page_not_allowed",
                                    page=page_id)
        st.error("You do not have access to this page.", icon=":material/lock:")
        st.stop()
    return context


DEFAULT_RIGHT = 4


def right_from_url(catalogue: Catalogue, key: str = "right") -> int:
    """A right chosen in a selectbox and kept in the URL as ?right=N (ignored unless it is 1 to 12)."""
    numbers = [r.number for r in catalogue.rights]
    state_key = f"{key}_choice"
    if state_key not in st.session_state:
        raw = st.query_params.get(key, "")
        st.session_state[state_key] = int(raw) if raw.isdigit() and int(raw) in numbers else DEFAULT_RIGHT
    number = st.selectbox("Right", numbers, key=state_key,
                          format_func=lambda n: f"Right {n}: {catalogue.right(n).short_title}")
    st.query_params[key] = str(number)
    return number

