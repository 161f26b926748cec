"""retention page."""
import streamlit as st

st.title("retention")
st.info("Being built.")
