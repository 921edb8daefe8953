"""Victims' Code compliance dashboard: the frame around every page (store, filters, navigation)."""

import logging

import streamlit as st

from ui import frame

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="Victims' Code compliance", page_icon=":material/balance:", layout="wide")

context = frame.start()
page = st.navigation(frame.navigation_pages(context))
# Each page its own browser title and top-level heading (WCAG 2.4.2 and 1.3.1).
st.set_page_config(page_title=f"{page.title} · Victims' Code compliance")
st.title(page.title, anchor=False)
frame.sidebar_filters(context)
page.run()
