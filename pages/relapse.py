"""relapse page."""
import streamlit as st

st.title("relapse")
st.info("Being built.")
