"""Victims' Code compliance dashboard: the frame around every page (store, filters, navigation)."""

import logging

import streamlit as st

from data_access.store import StoreError
from ui import frame

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="Victims' Code compliance", page_icon=":material/balance:", layout="wide")

context = frame.start()
page = st.navigation(frame.navigation_pages(context))
# Each page its own browser title and top-level heading (WCAG 2.4.2 and 1.3.1).
st.set_page_config(page_title=f"{page.title} · Victims' Code compliance")
st.title(page.title, anchor=False)
frame.sidebar_filters(context)
try:
    page.run()
except StoreError as exc:  # a query stopped (too slow, out of memory): say so; the next run starts afresh
    logging.getLogger("app").error("%s could not be drawn: %s", page.title, exc)
    st.error(f"Part of this page could not be drawn: {exc}. Nothing was changed; change the filters or reload "
             "the page to try again.", icon=":material/error:")
