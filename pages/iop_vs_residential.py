"""iop_vs_residential page."""
import streamlit as st

st.title("iop_vs_residential")
st.info("Being built.")
