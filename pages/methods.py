"""methods page."""
import streamlit as st

st.title("methods")
st.info("Being built.")
