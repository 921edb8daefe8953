"""The warm-up at server start (serve.py, ui/warmup.py): the first visitor after a restart gets the default page
from the caches, a failed warm-up changes nothing, and /ready says when it has finished.

The server tests start `streamlit run serve.py` on loopback (tests/browser.py launch_app; no browser needed) and
read its log. That the visitor was served from the caches is shown by the Board overview's figures being worked
out once in the log, by the warm-up, not again for the visitor: no timing is asserted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.exceptions import InvalidStatus

from browser import build_demo_store, free_port, launch_app
from ui.warmup import ProtocolSession, WarmUp, allowed_host_name, local_url, warm_up

FIGURES_WORKED_OUT = "working out the Board overview's figures"
WARMED = "warm-up: the default page drawn"


def options(**values):
    defaults = {"server.sslCertFile": None, "server.address": None, "server.port": 8501,
                "server.baseUrlPath": "", "server.allowedHosts": []}
    defaults.update({key.replace("_", "."): value for key, value in values.items()})
    return defaults.__getitem__


# ---------------------------------------------------------------------------------------------- where to connect


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, "http://127.0.0.1:8501"),
    ({"server_address": "0.0.0.0", "server_port": 8600}, "http://127.0.0.1:8600"),
    ({"server_address": "::"}, "http://127.0.0.1:8501"),
    ({"server_address": "::1"}, "http://[::1]:8501"),
    ({"server_address": "10.1.2.3", "server_baseUrlPath": "/victims/"}, "http://10.1.2.3:8501/victims"),
    ({"server_sslCertFile": "/etc/dashboard/cert.pem"}, None),  # TLS only: not warmed (it would skip the check)
])
def test_local_url_is_the_servers_own_address_on_loopback(settings, expected):
    assert local_url(options(**settings)) == expected


@pytest.mark.parametrize(("hosts", "expected"), [
    ([], None),
    (["*"], None),
    (["*.force.example"], None),
    (["*.force.example", " dashboard.force.example ", "other.example"], "dashboard.force.example"),
])
def test_the_warm_up_gives_the_first_allowed_host_name(hosts, expected):
    assert allowed_host_name(options(server_allowedHosts=hosts)) == expected


# ---------------------------------------------------------------------------------------------- failing safely


def test_a_server_that_never_answers_is_logged_and_not_raised(caplog):
    with caplog.at_level(logging.WARNING, logger="ui.warmup"):
        assert warm_up(lambda: f"http://127.0.0.1:{free_port()}", wait_s=0.6) is False
    assert "did not answer" in caplog.text


def test_a_tls_only_server_is_not_warmed(caplog):
    with caplog.at_level(logging.WARNING, logger="ui.warmup"):
        assert warm_up(lambda: None) is False
    assert "warm-up skipped" in caplog.text


def test_readiness_is_503_until_the_warm_up_finishes_then_200_even_if_it_failed():
    release = threading.Event()

    def url_of():  # the warm-up waits here until the test lets it go on, to a port where nothing listens
        release.wait(30)
        return f"http://127.0.0.1:{free_port()}"

    warm = WarmUp(url_of, wait_s=0.3)
    thread = warm.start()
    assert warm.readiness() == (503, "warming up\n")
    release.set()
    thread.join(30)
    assert not thread.is_alive()
    assert warm.succeeded is False
    assert warm.readiness() == (200, "ready\n")


# ---------------------------------------------------------------------------------------------- a real server


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warmup-store")
    return build_demo_store(folder), folder


def _log(server) -> str:
    return server.log_path.read_text(errors="replace")


def _open_default_page(url: str, host_name: str | None = None) -> list[str]:
    """The problems the default page showed, opened in a session of the test's own."""
    async def visit():
        async with ProtocolSession(url, timeout_s=90, host_name=host_name) as session:
            return await session.rerun()

    # In a thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(visit())).result()[1]


def test_the_first_visitor_gets_the_default_page_from_the_warmed_caches(demo_store):
    store, folder = demo_store
    # The server accepts only its public name, as in production: the warm-up reaches it over loopback under it.
    server = launch_app(store, folder, extra_args=("--server.allowedHosts=dashboard.force.example",))
    try:
        with urllib.request.urlopen(server.url + "/ready", timeout=10) as response:
            assert (response.status, response.read()) == (200, b"ready\n")
        assert WARMED in _log(server), server.log_tail()
        assert _log(server).count(FIGURES_WORKED_OUT) == 1, server.log_tail()

        assert _open_default_page(server.url, host_name="dashboard.force.example") == []
        log = _log(server)
        assert log.count(FIGURES_WORKED_OUT) == 1, "the visitor's page was worked out again:\n" + server.log_tail()
        assert "Traceback" not in log
        with pytest.raises(InvalidStatus, match="403"):  # loopback's own name is refused: the host name let it in
            _open_default_page(server.url)
    finally:
        server.stop()


def test_a_warm_up_that_meets_a_broken_store_changes_nothing(demo_store, tmp_path):
    _, folder = demo_store
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"this is not a DuckDB file")
    server = launch_app(broken, folder)
    try:
        log = _log(server)
        assert "warm-up: the default page showed" in log, server.log_tail()  # said in the log, not raised
        with urllib.request.urlopen(server.url + "/ready", timeout=10) as response:
            assert response.status == 200  # ready: it serves exactly as it would have without the warm-up
        with urllib.request.urlopen(server.url + "/_stcore/health", timeout=10) as response:
            assert response.status == 200
        problems = _open_default_page(server.url)
        assert problems == ["alert"]  # the visitor gets the same plain message about the store, not a traceback
        assert "Traceback" not in _log(server)
    finally:
        server.stop()

