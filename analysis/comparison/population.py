"""The rows a comparison of two groups uses, and every row left out counted with its reason."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Population", "check_groups_present", "comparison_population", "match_group"]


@dataclass(frozen=True)
class Population:
    """Rows of groups ``a`` and ``b`` usable for the comparison.

    Attributes
    ----------
    data : DataFrame
        The used rows (original index), columns time, event, the covariates, the cluster column (if any)
        and ``in_a`` (bool: the row is in group A).
    exclusions : DataFrame
        ``reason``, ``n`` (episodes, a count of people), one row per reason, in the order applied
        (a row is counted under the first reason that applies).
    n_a, n_b : int
        Episodes used in each group (counts of people).
    """

    data: pd.DataFrame
    exclusions: pd.DataFrame
    n_a: int
    n_b: int


def _columns(data: pd.DataFrame) -> str:
    names = [str(c) for c in data.columns]
    return ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")


def match_group(values: pd.Series, label) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = [c for c in values.cat.categories if c == label or str(c) == str(label)]
        return values.isin(cats).to_numpy()
    return (values.astype(object).eq(label) | values.astype(str).eq(str(label))).to_numpy() & values.notna().to_numpy()


def _coded(rows: pd.DataFrame, covariates: Sequence[str]) -> dict:
    """Text covariates as Categoricals with sorted categories (the order every model reads them in), so the
    strings are factorised once rather than in every model."""
    out = {}
    for c in dict.fromkeys(covariates):
        s = rows[c]
        if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
            if pd.api.types.infer_dtype(s, skipna=False) == "string":
                out[c] = pd.Categorical(s.to_numpy(dtype=object))
    return out


def check_groups_present(data: pd.DataFrame, group_col: str, *groups: tuple) -> None:
    """Raise a sentence naming the column's groups when one of ``(label, mask)`` has no row."""
    for label, mask in groups:
        if not mask.any():
            present = sorted(map(str, pd.unique(data[group_col].dropna())))
            shown = ", ".join(present[:20]) + (", ..." if len(present) > 20 else "")
            raise ValueError(f"No episodes with {group_col} = {label!r} (its groups: {shown}).")


def comparison_population(data: pd.DataFrame, *, group_col: str, a, b, time_col: str, event_col: str,
                          covariates: Sequence[str], cluster_col: str | None = None) -> Population:
    """Select the rows of groups ``a`` and ``b`` with a follow-up time, an event code and every covariate.

    Rows of other groups are not part of the comparison and not counted. Of the rows in ``a`` or ``b``,
    those without a follow-up time (e.g. still in treatment when the origin is discharge) and those with a
    missing covariate (complete-case analysis: the propensity model needs every covariate) are left out
    and counted under their reason.

    Raises
    ------
    ValueError
        A column that does not exist, ``a == b``, a group with no usable rows, or an event code other
        than 0, 1, 2.
    """
    cols = [group_col, time_col, event_col, *covariates] + ([cluster_col] if cluster_col else [])
    missing = [c for c in dict.fromkeys(cols) if c not in data.columns]
    if missing:
        raise ValueError(f"No such column: {', '.join(missing)}. The data has: {_columns(data)}.")
    if group_col in covariates:
        raise ValueError(f"{group_col!r} is the grouping column; it cannot also be a covariate.")
    if str(a) == str(b):
        raise ValueError("The two groups to compare must differ.")
    in_a, in_b = match_group(data[group_col], a), match_group(data[group_col], b)
    check_groups_present(data, group_col, (a, in_a), (b, in_b))
    keep = in_a | in_b
    reasons = []
    no_time = keep & data[time_col].isna().to_numpy()
    reasons.append(("no follow-up time from the chosen origin (e.g. still in treatment)", int(no_time.sum())))
    keep &= ~no_time
    for c in covariates:
        gone = keep & data[c].isna().to_numpy()
        reasons.append((f"missing {c}", int(gone.sum())))
        keep &= ~gone
    if cluster_col:
        gone = keep & data[cluster_col].isna().to_numpy()
        reasons.append((f"missing {cluster_col}", int(gone.sum())))
        keep &= ~gone
    rows = data.loc[keep, list(dict.fromkeys([time_col, event_col, *covariates]
                                              + ([cluster_col] if cluster_col else [])))]
    ev = pd.to_numeric(rows[event_col], errors="coerce")
    if not ev.isin([0, 1, 2]).all():
        raise ValueError(f"The event column {event_col!r} must hold 0 (censored), 1 (relapse) or 2 (death).")
    t = pd.to_numeric(rows[time_col], errors="coerce")
    if t.isna().any() or (t < 0).any():
        raise ValueError(f"The time column {time_col!r} must hold numbers >= 0.")
    rows = rows.assign(in_a=in_a[keep], **_coded(rows, covariates))
    n_a, n_b = int(rows["in_a"].sum()), int((~rows["in_a"]).sum())
    for label, n in ((a, n_a), (b, n_b)):
        if n == 0:
            why = "; ".join(f"{r}: {k:,}" for r, k in reasons if k)
            raise ValueError(f"No episodes of {group_col} = {label!r} have follow-up and every covariate "
                             f"(episodes left out of the comparison, {why}).")
    excl = pd.DataFrame(reasons, columns=["reason", "n"])
    excl.attrs["count_columns"] = ["n"]
    return Population(data=rows, exclusions=excl, n_a=n_a, n_b=n_b)
