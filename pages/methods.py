"""Methods: definitions, time origins, censoring conventions, estimators, suppression, library versions."""
import platform
from importlib import metadata

import pandas as pd
import streamlit as st

from analysis import __version__
from ui.state import context

st.title("Methods")
ctx = context()

st.markdown(f"""
### Definitions
- **Episode**: one admission to one level of care (detox, inpatient, residential, PHP, IOP, OP). A client can have
  several; a pseudonymous `client_id` links them (step-downs).
- **Completion rate**: completed / (discharged - transferred). A transfer continues care elsewhere, so it is
  neither a success nor a failure; the TEDS convention (all discharges in the denominator) is shown beside it.
- **Length of stay**: discharge - admission, in days; episodes still in treatment are counted apart, and enter the
  retention curve as censored.
- **Relapse**: the first recorded return to use after admission.

### Time origins
- **From discharge** (durability after treatment): time from discharge to relapse; a relapse during treatment is an
  event at day 0, so it is not lost. Episodes still in treatment are left out.
- **From admission** (intention to treat): time from admission. A residential stay protects by design while it
  lasts. Every time-to-event figure names its origin; you are now viewing **from {ctx.origin}**.

### Censoring and loss to follow-up
- People who cannot be reached are **censored at their last contact** (the default): they are not counted as
  relapse-free. Death without prior relapse is a **competing event**: censored in Kaplan-Meier, log-rank and Cox
  (cause-specific view) and handled by Aalen-Johansen cumulative incidence.
- The Relapse page also shows the naive share among people reached (what "success rates" of 80-98% usually are)
  and the conservative "lost to follow-up counts as relapse" share, which with "none of the lost relapsed" brackets
  every assumption about the people not reached.

### Estimators and tests
- Proportions: Wilson score 95% intervals; risk difference (Newcombe hybrid score) and ratio (Katz log); chi-square
  or Fisher's exact test.
- Kaplan-Meier with Greenwood variance and log-log ("exponential Greenwood") 95% pointwise intervals, as R
  `survfit(conf.type="log-log")`; numbers at risk count T >= t. Median with the Brookmeyer-Crowley style interval.
- Log-rank test (global; pairwise with Holm adjustment), as R `survdiff`.
- Restricted mean survival time to a stated horizon, with R `survmean`'s standard error.
- Cox proportional hazards with Efron ties, as R `coxph`; proportional-hazards check by the `cox.zph` score test
  (KM time transform).
- Case mix: standardised differences (Austin 2009), |d| > 0.1 flagged.
- Aalen-Johansen cumulative incidence with infinitesimal-jackknife errors, tie-aware (no jitter).
- Estimates agree with R's survival package on reference data sets (see `tests/r/`).

### Small-cell suppression
Counts from 1 to {ctx.min_cell - 1} are shown as "<{ctx.min_cell}" in every table, chart and download (CMS
cell-size rule), as are the rates built on them; in a set of counts adding to a known total the next-smallest count
is hidden too ("suppressed"). Curves stop where fewer than {ctx.min_cell} remain at risk. The threshold is set in
the sidebar; it cannot go below 11.

### Data handling
An uploaded file is kept in this session's memory only, never written to disk, and is gone when the session ends.
Files that carry direct identifiers (names, addresses, phone numbers, e-mail, SSN, record numbers) are refused,
naming the column. Every chart and download carries its provenance: source and content hash, filters, origin,
rows used and excluded, threshold and the analysis version.
""")

st.subheader("Versions")
pkgs = ["streamlit", "pandas", "numpy", "scipy", "statsmodels", "lifelines", "plotly", "pyarrow", "openpyxl"]
rows = [("Continuum (analysis)", __version__), ("Python", platform.python_version())]
for p in pkgs:
    try:
        rows.append((p, metadata.version(p)))
    except metadata.PackageNotFoundError:
        rows.append((p, "not installed"))
st.dataframe(pd.DataFrame(rows, columns=["Library", "Version"]), hide_index=True, key="tbl_versions")
