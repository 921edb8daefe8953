"""Streamlit building blocks shared by app.py and the pages: frame, access, charts, display."""
