"""The server settings a dashboard over victim data must run with, checked at start-up.

With sign-in configured (production), a wrong setting stops the app with a message naming it; in demo
mode the same problems are only logged, so the demo still starts on a laptop.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["MAX_UPLOAD_MB", "config_problems"]

MAX_UPLOAD_MB = 200  # the largest monthly export a force sends; Streamlit refuses bigger bodies (HTTP 413)

# (option, the value it must have, why) - see docs/security.md and security-and-reliability.md 2.3
_EXACT = (
    ("browser.gatherUsageStats", False, "usage statistics must not leave the force's network"),
    ("client.showErrorDetails", "none", "error details can quote victim data"),
    ("client.disableDataExport", True, "a table's own CSV button and copying are not audited: every download of "
                                       "data must go through the page's audited buttons"),
    ("server.enableCORS", True, "cross-origin requests must be refused"),
    ("server.enableXsrfProtection", True, "forms and uploads need XSRF protection"),
    ("server.enableStaticServing", False, "no files may be served from the app folder"),
    ("server.enableAgentApi", False, "the agent API would expose data without sign-in"),
)


def config_problems(get_option: Callable[[str], object], *, production: bool) -> list[str]:
    """Every setting that is wrong, in words ("server.enableCORS is False; it must be True: ...")."""
    problems = []
    for name, wanted, why in _EXACT:
        value = get_option(name)
        if value != wanted:
            problems.append(f"{name} is {value!r}; it must be {wanted!r} ({why})")
    upload = get_option("server.maxUploadSize")
    if not isinstance(upload, int) or not 0 < upload <= MAX_UPLOAD_MB:
        problems.append(f"server.maxUploadSize is {upload!r}; it must be from 1 to {MAX_UPLOAD_MB} (MB)")
    if get_option("server.trustedUserHeaders"):
        problems.append("server.trustedUserHeaders is set; it must be empty (a proxy that fails to strip the "
                        "headers would let anyone claim any identity)")
    if get_option("server.unsafeMetricsUserAttributes"):
        problems.append("server.unsafeMetricsUserAttributes is set; it must be empty (it publishes user details "
                        "on the unauthenticated metrics endpoint)")
    if production:
        for name, why in (("server.corsAllowedOrigins", "the force's own address, so other sites cannot connect"),
                          ("server.allowedHosts", "the force's host name, against DNS rebinding")):
            if not get_option(name):
                problems.append(f"{name} is empty; set it to {why}")
    return problems
