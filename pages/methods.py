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

### Small-cell suppression (CMS cell-size rule)
No count of 1 to {ctx.min_cell - 1} people is shown, nor any count from which one can be worked out, in any table,
chart, download or export. Every number passes one publishing step:
- counts from 1 to {ctx.min_cell - 1} read "<{ctx.min_cell}"; zero is shown;
- where a hidden count could be recomputed from others (a total minus its parts, a rate times its base, the
  counts of two consecutive days, the same count in another table, page or time origin), enough other counts are
  hidden too: they read "suppressed", not "<{ctx.min_cell}", because they are not small;
- every rate, interval, median, curve, test and hazard ratio resting on a hidden count is hidden with it; tests and
  models over several groups leave hidden groups out and say so;
- survival and retention curves are drawn in steps of at least {ctx.min_cell} events (and censorings in steps of 0
  or at least {ctx.min_cell}), so no step shows what happened to a few people on one day, and stop where fewer than
  {ctx.min_cell} remain at risk;
- a filter setting that differs from a wider one (one value added or a filter removed, a date bound moved by a
  month) by fewer than {ctx.min_cell} episodes is refused, and counts that differ from the wider setting by so few
  are hidden; admission dates are applied in whole months.

The threshold is set in the sidebar; it cannot go below 11.

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
