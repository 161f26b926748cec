"""time_to_relapse page."""
import streamlit as st

st.title("time_to_relapse")
st.info("Being built.")
