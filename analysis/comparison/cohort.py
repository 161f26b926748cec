"""``compare_cohort``: a comparison on the cohort table for a time origin (what the CLI and the page call)."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.cohort import choose_origin, survival_columns
from analysis.comparison.core import TIME_UNITS, compare_groups
from analysis.comparison.population import _columns, check_groups_present, match_group
from analysis.comparison.result import Comparison
from analysis.validation import TIME_UNITS as DAYS_IN  # days in one unit: week 7, month 30.4375, year 365.25

__all__ = ["compare_cohort"]


def _cluster_codes(cohort: pd.DataFrame, keep: pd.Series, cluster) -> tuple[str | None, np.ndarray | None]:
    """The cluster column and its integer codes on the kept rows (strings factorised once, here); an episode
    without an id counts as its own cluster."""
    col = "client_id" if cluster == "auto" else cluster
    if col is None or (cluster == "auto" and col not in cohort.columns):
        return None, None
    if col not in cohort.columns:
        raise ValueError(f"No such column: {col} (the cluster of the robust variances).")
    codes, uniques = pd.factorize(cohort.loc[keep, col])
    lone = codes < 0  # an episode without a client id is its own cluster
    codes[lone] = len(uniques) + np.arange(int(lone.sum()))
    if cluster == "auto" and len(uniques) == int((~lone).sum()):
        return None, None  # every person has one compared episode: no clustering needed
    return col, codes


def compare_cohort(cohort: pd.DataFrame, *, by: str, a, b, adjust: Sequence[str] = (), origin: str | None = None,
                   cluster: str | None = "auto", time_unit: str = "days",
                   reference_levels: Mapping[str, object] | None = None, origin_reason: str | None = None,
                   **options) -> Comparison:
    """:func:`~analysis.comparison.core.compare_groups` on a cohort table from ``analysis.cohort.derive_cohort``.

    Follow-up is the cohort's time to relapse from ``origin`` (admission or discharge; default as
    ``analysis.cohort.choose_origin``: discharge where the file records it, else admission, and the result
    says why in ``origin_reason``), converted from days
    to ``time_unit`` (1 week = 7 days, 1 month = 30.4375, 1 year = 365.25; Cox models and curves do not
    depend on the unit, horizons and the restricted mean are read in it); ``origin_reason``: the reason for an
    ``origin`` the caller has already chosen (:func:`analysis.cohort.choose_origin` on the whole cohort), so that
    ``cohort`` may be only the compared groups' rows and columns. ``cluster="auto"`` clusters the
    robust variances on ``client_id`` when some person has more than one of the compared episodes (their
    episodes are not independent), else none; None for none, or a column name. Other options go to
    ``compare_groups`` (estimand, trim, tau, horizons, windows, conf_level).
    """
    if time_unit not in TIME_UNITS:
        raise ValueError(f"The time unit must be one of {', '.join(TIME_UNITS)}, not {time_unit!r}.")
    origin, why = (origin, origin_reason) if origin_reason is not None and origin else choose_origin(cohort, origin)
    time_col, event_col = survival_columns(origin)
    missing = [c for c in [by, *adjust] if c not in cohort.columns]
    if missing:
        raise ValueError(f"No such column: {', '.join(missing)}. The data has: {_columns(cohort)}.")
    in_a, in_b = match_group(cohort[by], a), match_group(cohort[by], b)
    check_groups_present(cohort, by, (a, in_a), (b, in_b))
    keep = pd.Series(in_a | in_b, index=cohort.index)
    cluster_col, codes = _cluster_codes(cohort, keep, cluster)
    cols = list(dict.fromkeys([by, time_col, event_col, *adjust]))
    data = cohort[cols] if bool(keep.all()) else cohort.loc[keep, cols]  # (the groups' rows only: no copy)
    if cluster_col:
        data = data.assign(**{cluster_col: codes})
    if time_unit != "days":
        data = data.assign(**{time_col: data[time_col] / DAYS_IN[time_unit]})
    result = compare_groups(data, group_col=by, a=a, b=b, time_col=time_col, event_col=event_col,
                            covariates=list(adjust), reference_levels=reference_levels, cluster_col=cluster_col,
                            time_unit=time_unit, origin=origin, **options)
    return dataclasses.replace(result, origin_reason=why)
