"""Who may see which page. One registry drives both the navigation and each page's own check.

Roles arrive with sign-in (a later issue); until then every session is treated as the demo's
victim services role, and the same checks run, so adding sign-in changes who the user is, not
how pages are guarded.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ROLES", "BOARD_ROLE", "PageSpec", "PAGES", "DEMO_ROLE", "pages_for", "may_view", "page_spec"]

ROLES = ("board", "action_group", "victim_services", "admin")
DEMO_ROLE = "victim_services"
_EVERYONE = frozenset(ROLES)
# Pages that break figures down by district, team and victim group: the action group's tools. The board sees
# the force-wide quarter, with small numbers suppressed, on its overview instead.
_BREAKDOWN_ROLES = frozenset({"action_group", "victim_services", "admin"})
BOARD_ROLE = "board"


@dataclass(frozen=True)
class PageSpec:
    page_id: str  # stable id the page passes to its guard
    path: str  # the script, relative to app.py
    title: str  # navigation label and page heading
    icon: str  # Material icon shown in the navigation
    roles: frozenset[str]  # roles that may open the page
    default: bool = False  # the page served at "/"


PAGES: tuple[PageSpec, ...] = (
    PageSpec("board_overview", "pages/board_overview.py", "Board overview", ":material/dashboard:", _EVERYONE, default=True),
    PageSpec("rights_compliance", "pages/rights_compliance.py", "Rights compliance", ":material/fact_check:",
             _BREAKDOWN_ROLES),
    PageSpec("keeping_informed", "pages/keeping_informed.py", "Keeping victims informed", ":material/forum:",
             _BREAKDOWN_ROLES),
    PageSpec("referral_uptake", "pages/referral_uptake.py", "Referral uptake", ":material/diversity_1:", _EVERYONE),
    PageSpec("victim_voice", "pages/victim_voice.py", "Victim voice", ":material/record_voice_over:", _EVERYONE),
    PageSpec("feedback_panels", "pages/feedback_panels.py", "Feedback panels", ":material/groups:", _EVERYONE),
    PageSpec("explore", "pages/explore.py", "Explore", ":material/query_stats:", frozenset({"action_group", "victim_services", "admin"})),
    PageSpec("data", "pages/data.py", "Data", ":material/database:", frozenset({"admin"})),
    PageSpec("audit_trail", "pages/audit_trail.py", "Audit trail", ":material/policy:", frozenset({"admin"})),
    PageSpec("access", "pages/access.py", "Who may see what", ":material/admin_panel_settings:", frozenset({"admin"})),
)


def page_spec(page_id: str) -> PageSpec:
    for spec in PAGES:
        if spec.page_id == page_id:
            return spec
    raise KeyError(f"no page {page_id!r}")


def may_view(role: str | None, page_id: str) -> bool:
    """Default-deny: an unknown role or page may see nothing."""
    try:
        return role in page_spec(page_id).roles
    except KeyError:
        return False


def pages_for(role: str | None) -> tuple[PageSpec, ...]:
    return tuple(p for p in PAGES if role in p.roles)
