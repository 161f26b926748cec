"""benchmarks page."""
import streamlit as st

st.title("benchmarks")
st.info("Being built.")
