"""Warming the server up before its first visitor (serve.py): one session of its own, over loopback.

Without it, the first person to open the dashboard after a restart waits about a second longer than anyone after
them: the server imports pandas, DuckDB, Plotly and the app's modules, and works out the Board overview's figures,
during that person's first run (docs/performance.md). The warm-up opens the default page once, the way a browser
does (Streamlit's protocol over its WebSocket), so the imports are done and the shared caches hold the default
view's figures when the first person arrives.

With sign-in configured the warm-up session is not signed in, so it stops at the sign-in page: the frame's modules
are loaded (pandas and DuckDB among them), but the figures are worked out by the first person signed in. It writes nothing to the audit trail (a visit
without sign-in is not recorded). A warm-up that fails is logged and changes nothing: the server serves as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

__all__ = ["ProtocolSession", "local_url", "allowed_host_name", "warm_up", "WarmUp"]

log = logging.getLogger(__name__)

RERUN_TIMEOUT_S = 120.0  # generous: the first run may build the demo store, or open a large one
SERVER_WAIT_S = 120.0  # how long to wait for the server to answer its health check


class ProtocolSession:
    """One Streamlit session over its WebSocket, as a browser opens it: ask for a run, read what it draws.

    `on_element(element)` sees every element the run draws (a streamlit.proto Element)."""

    def __init__(self, url: str, timeout_s: float = RERUN_TIMEOUT_S,
                 on_element: Callable[[object], None] | None = None, host_name: str | None = None):
        """`host_name`: the name the session gives as its Host and Origin, while connecting to `url`'s address
        (a server that accepts only its public name, server.allowedHosts, reached over loopback)."""
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.on_element = on_element
        self.host_name = host_name
        self.ws = None

    async def __aenter__(self) -> "ProtocolSession":
        import websockets

        address = urlsplit(self.url)
        origin, connect_to = self.url, {}
        if self.host_name:
            origin = urlunsplit(address._replace(netloc=f"{self.host_name}:{address.port}"))
            connect_to = {"host": address.hostname, "port": address.port}  # only where the TCP connection goes
        self.ws = await asyncio.wait_for(websockets.connect(
            origin.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"], origin=origin,
            max_size=None, open_timeout=self.timeout_s, **connect_to), self.timeout_s)
        return self

    async def __aexit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 10)

    async def send_rerun(self, widget_states: dict[str, list[str]] | None = None) -> float:
        """Ask for a run of the default page, with multiselect widgets set (widget id -> values)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        message = BackMsg()
        message.rerun_script.query_string = ""
        for widget_id, values in (widget_states or {}).items():
            state = message.rerun_script.widget_states.widgets.add()
            state.id = widget_id
            state.string_array_value.data.extend(values)
        began = time.perf_counter()
        await self.ws.send(message.SerializeToString())
        return began

    async def finish(self, began: float) -> tuple[float, list[str]]:
        """Seconds from `began` to the server's "script finished", and the problems the page showed (an
        exception, or an error box)."""
        from streamlit.proto.Alert_pb2 import Alert
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        problems = []
        while True:
            message = ForwardMsg()
            message.ParseFromString(await asyncio.wait_for(self.ws.recv(), self.timeout_s))
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                which = element.WhichOneof("type")
                if which == "exception" or (which == "alert" and element.alert.format == Alert.ERROR):
                    problems.append(which)
                if self.on_element is not None:
                    self.on_element(element)
            elif kind == "script_finished":
                return time.perf_counter() - began, problems

    async def rerun(self, widget_states: dict[str, list[str]] | None = None) -> tuple[float, list[str]]:
        return await self.finish(await self.send_rerun(widget_states))


def local_url(get_option: Callable[[str], object]) -> str | None:
    """The server's own address on loopback, from its settings; None when it serves TLS only (the warm-up then
    does not run: it would have to skip checking the certificate)."""
    if get_option("server.sslCertFile"):
        return None
    address = str(get_option("server.address") or "127.0.0.1")
    if address in ("0.0.0.0", "::", ""):  # listening everywhere: loopback is among them
        address = "127.0.0.1"
    host = f"[{address}]" if ":" in address else address
    base = str(get_option("server.baseUrlPath") or "").strip("/")
    return f"http://{host}:{get_option('server.port')}" + (f"/{base}" if base else "")


def allowed_host_name(get_option: Callable[[str], object]) -> str | None:
    """The first host name in server.allowedHosts without a wildcard (the server refuses a session whose Host is
    not allowed, loopback included), or None when any host is allowed."""
    for pattern in get_option("server.allowedHosts") or ():
        pattern = str(pattern).strip()
        if pattern and "*" not in pattern:
            return pattern
    return None


def _wait_until_healthy(url_of: Callable[[], str | None], wait_s: float) -> str | None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        url = url_of()
        if url is None:
            return None
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return url
        time.sleep(0.2)
    return None


def warm_up(url_of: Callable[[], str | None], wait_s: float = SERVER_WAIT_S, host_name: str | None = None) -> bool:
    """Wait for the server to answer at `url_of()` (read again until it answers: the port is settled at start),
    then open its default page once in a session of its own, as `host_name` if given. True if the page was drawn
    without a problem; every failure is logged, never raised."""
    began = time.perf_counter()
    try:
        if url_of() is None:
            log.warning("warm-up skipped: the server serves TLS itself (server.sslCertFile)")
            return False
        url = _wait_until_healthy(url_of, wait_s)
        if url is None:
            log.warning("warm-up skipped: the server did not answer on loopback within %.0f s", wait_s)
            return False

        async def visit() -> tuple[float, list[str]]:
            async with ProtocolSession(url, host_name=host_name) as session:
                return await session.rerun()

        seconds, problems = asyncio.run(visit())
    except Exception as error:  # the warm-up is a courtesy: it must never take the server down
        log.warning("warm-up failed (%s); the first visitor will wait for what it would have done",
                    type(error).__name__)
        return False
    if problems:
        log.warning("warm-up: the default page showed %s; the first visitor will see it too", ", ".join(problems))
        return False
    log.info("warm-up: the default page drawn in %.2f s (%.2f s after start-up)", seconds,
             time.perf_counter() - began)
    return True


class WarmUp:
    """warm_up in a daemon thread, so the server starts serving at once, and whether it has finished (serve.py's
    /ready: 503 until then). A visitor arriving during the warm-up is served, and waits for the same cached
    figures, worked out once."""

    def __init__(self, url_of: Callable[[], str | None], wait_s: float = SERVER_WAIT_S,
                 host_name_of: Callable[[], str | None] = lambda: None):
        self.url_of, self.wait_s, self.host_name_of = url_of, wait_s, host_name_of
        self.finished = threading.Event()
        self.succeeded = False

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="vcd-warm-up", daemon=True)
        thread.start()
        return thread

    def readiness(self) -> tuple[int, str]:
        """(HTTP status, text) for a readiness probe: 503 while the warm-up runs, 200 once it has finished,
        whether or not it succeeded (a failed warm-up leaves the server as able to serve as it was)."""
        return (200, "ready\n") if self.finished.is_set() else (503, "warming up\n")

    def _run(self) -> None:
        try:
            self.succeeded = warm_up(self.url_of, self.wait_s, self.host_name_of())
        finally:
            self.finished.set()
