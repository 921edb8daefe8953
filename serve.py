"""The dashboard as it should be run: `streamlit run serve.py` (app.py is the page frame it serves).

Streamlit's own server with the same settings (.streamlit/config.toml and command-line flags), plus a warm-up at
start: ui/warmup.py opens the default page once, so the first visitor after a restart does not wait for the
imports and the figures that every later visitor gets from the caches. `/ready` answers 503 until the warm-up has
finished and 200 after (a readiness probe for a load balancer or a deployment script); `/_stcore/health` answers
as soon as the server is up.
"""

from contextlib import asynccontextmanager

import streamlit as st
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ui.warmup import WarmUp, allowed_host_name, local_url

warm_up = WarmUp(lambda: local_url(st.get_option), host_name_of=lambda: allowed_host_name(st.get_option))


@asynccontextmanager
async def lifespan(_app):
    warm_up.start()
    yield


async def ready(_request) -> PlainTextResponse:
    status, text = warm_up.readiness()
    return PlainTextResponse(text, status_code=status)


app = st.App("app.py", lifespan=lifespan, routes=[Route("/ready", ready)])
