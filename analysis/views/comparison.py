"""The IOP vs residential page (any two groups): case mix, naive comparison, Cox-adjusted hazard ratio.

Both groups must be visible (their sizes shown). The case-mix shares rest on the counts of each
level in each group; a Cox term of a covariate level rests on the people and relapses in that level
among the two groups (hidden when either, or its complement, is 1 to ``min_cell - 1``); the group's
hazard ratio rests on both groups' sizes; the number of relapses in the caption on both totals.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.casemix import standardized_differences
from analysis.cohort import survival_columns
from analysis.cox import CoxResult, fit_cox
from analysis.disclosure import Publication, PublishedCount, PublishedTable, TableSpec, ref
from analysis.disclosure.cells import cell_id
from analysis.disclosure.raw import CASEMIX_COLUMNS
from analysis.views.common import km_hidden, km_refs
from analysis.views.time_to_relapse import logrank_visible

__all__ = ["Comparison", "comparison", "comparable_groups"]


@dataclass(frozen=True, eq=False)
class Comparison:
    a: object
    b: object
    balance: PublishedTable
    km: pd.DataFrame
    at_risk: PublishedTable
    naive: PublishedTable
    logrank_p: float | None
    cox_terms: PublishedTable
    ph_test: PublishedTable
    cox_n: PublishedCount
    cox_events: PublishedCount
    cox: CoxResult
    main_hr: dict | None


def comparable_groups(pub: Publication, origin: str) -> list:
    """Groups whose number of people followed from the origin is shown (the population compared)."""
    return pub.groups(pub.by, origin)


def _balance(pub: Publication, a, b, origin: str, covariates: Sequence[str]) -> PublishedTable:
    data = pub.raw.survival_data[(pub.by, origin)]
    bal = standardized_differences(pub.raw.cohort.loc[data.index], by=pub.by, groups=[a, b],
                                   covariates=list(covariates))
    bal = bal.assign(level=bal["level"].astype(str))
    stats_a, stats_b = [], []
    for r in bal.itertuples():
        if r.kind == "share" and r.variable in CASEMIX_COLUMNS:
            stats_a.append([ref("covariate", variable=r.variable, value=r.level, group=a, origin=origin),
                            ref("covariate_n", variable=r.variable, group=a, origin=origin)])
            stats_b.append([ref("covariate", variable=r.variable, value=r.level, group=b, origin=origin),
                            ref("covariate_n", variable=r.variable, group=b, origin=origin)])
        else:
            stats_a.append([ref("followed", group=a, origin=origin)])
            stats_b.append([ref("followed", group=b, origin=origin)])
    # refs differ per row: publish row by row through one spec per distinct reference set
    parts = []
    for i in range(len(bal)):
        row = bal.iloc[[i]]
        parts.append(pub.table(TableSpec("case_mix", row, pub.by, group_col=None,
                                         stats={"value_a": [_fix(r, pub.by) for r in stats_a[i]],
                                                "value_b": [_fix(r, pub.by) for r in stats_b[i]],
                                                "smd": [_fix(r, pub.by) for r in stats_a[i] + stats_b[i]]},
                                         plain=("variable", "level", "kind", "imbalanced"))))
    if not parts:
        return pub.table(TableSpec("case_mix", bal, pub.by, group_col=None,
                                   stats={"value_a": [], "value_b": [], "smd": []},
                                   plain=("variable", "level", "kind", "imbalanced")))
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    status = pd.concat([p.status for p in parts], ignore_index=True)
    return type(parts[0])("case_mix", frame, status, parts[0].kinds, pub.min_cell)


def _fix(r, by):
    """A reference to a named group of the grouping column (the table itself has no group column)."""
    return type(r)(r.measure, r.quals, r.group, by)


def _cox_rows(pub: Publication, a, b, origin: str, covariates: Sequence[str]) -> pd.DataFrame:
    time_col, event_col = survival_columns(origin)
    c = pub.raw.cohort
    cols = list(dict.fromkeys([time_col, event_col, pub.by, *covariates]))
    rows = c.loc[c[time_col].notna() & c[pub.by].isin([a, b]), cols]
    return rows


def _term_hidden(rows: pd.DataFrame, event_col: str, term: str, by: str, min_cell: int) -> bool:
    """A categorical term rests on the people and relapses of its level (and of the rest)."""
    if "[" not in term or not term.endswith("]"):
        return False
    var, level = term[:-1].split("[", 1)
    if var == by or var not in rows.columns:
        return False
    col = rows[var].astype(object).map(lambda v: None if v is None or v != v else str(v))
    inside = (col == level).to_numpy()
    relapse = (rows[event_col] == 1).to_numpy()
    for n in (inside.sum(), (~inside).sum(), (inside & relapse).sum(), (~inside & relapse).sum()):
        if 1 <= n < min_cell:
            return True
    return False


def comparison(pub: Publication, a, b, origin: str, covariates: Sequence[str]) -> Comparison:
    """Everything the comparison page shows for groups ``a`` (compared) and ``b`` (reference), published."""
    visible = comparable_groups(pub, origin)
    for g in (a, b):
        if g not in visible:
            raise ValueError(f"The group {g!r} is hidden (fewer than {pub.min_cell} people, or protecting a "
                             "small count); choose another.")
    by = pub.by
    balance = _balance(pub, a, b, origin, covariates)
    km = pub.km(origin)
    km = km[km["group"].isin([a, b])].copy()
    km["group"] = km["group"].cat.remove_unused_categories()
    at = pub.at_risk_table(origin, (0, 90, 180, 365))
    at = at.rows(at.frame["group"].isin([a, b]).to_numpy())
    # naive table: episodes, completion, relapse by 365 days
    comp = pub.raw.completion.get(by)
    rel = pub.raw.relapse[(by, origin)]
    r365 = rel[rel["horizon_days"] == 365].set_index(rel[rel["horizon_days"] == 365]["group"].astype(object))
    frame = pd.DataFrame({"group": [a, b]})
    frame["n"] = [pub.ledger.value(cell_id("followed", by, g, origin=origin)) for g in (a, b)]
    if comp is not None:
        cc = comp.set_index(comp["group"].astype(object))
        frame["completion"] = [cc.loc[g, "completion_rate"] for g in (a, b)]
    frame["relapse"] = [r365["km_relapse"].get(g, np.nan) for g in (a, b)]
    hide = km_hidden(pub, by, origin, [a, b], [365, 365])
    naive = pub.table(TableSpec("naive_comparison", frame, by, counts={"n": ("followed", {"origin": origin})},
                                stats={"completion": [ref("reason", reason="completed"), ref("basis")],
                                       "relapse": km_refs(origin, 365)}, hide={"relapse": hide}))
    _, pairs, _ = logrank_visible(pub, origin)
    pr = pairs[((pairs["group_a"] == a) & (pairs["group_b"] == b)) | ((pairs["group_a"] == b) & (pairs["group_b"] == a))]
    p = float(pr["p"].iloc[0]) if len(pr) else None
    # Cox on the two groups
    time_col, event_col = survival_columns(origin)
    rows = _cox_rows(pub, a, b, origin, covariates)
    res = fit_cox(rows, time_col=time_col, event_col=event_col, group_col=by, reference=b,
                  covariates=list(covariates), groups=[b, a])
    terms = res.terms.copy()
    term_hide = np.array([_term_hidden(rows, event_col, t, by, pub.min_cell) for t in terms["term"]])
    cols = [c for c in ("coef", "se", "hr", "lower", "upper", "z", "p") if c in terms.columns]
    both = [ref("followed", origin=origin, group=a, by=by), ref("followed", origin=origin, group=b, by=by)]
    cox_terms = pub.table(TableSpec("cox_terms", terms, by, group_col=None, stats={c: both for c in cols},
                                    hide={c: term_hide for c in cols}, plain=("term",)))
    ph = res.ph_test.copy()
    ph_hide = np.array([any(_term_hidden(rows, event_col, t, by, pub.min_cell) for t in terms["term"]
                            if t.split("[")[0] == term) for term in ph["term"]])
    ph_table = pub.table(TableSpec("ph_test", ph, by, group_col=None,
                                   stats={c: both for c in ("chisq", "df", "p") if c in ph.columns},
                                   hide={c: ph_hide for c in ("chisq", "df", "p")}, plain=("term",)))
    n_shown = all(pub.shown(cell_id("followed", by, g, origin=origin)) for g in (a, b))
    ev = [cell_id("relapses_total", by, g, origin=origin) for g in (a, b)]
    ev_shown = all(pub.shown(c) for c in ev)
    main = cox_terms.frame[cox_terms.frame["term"] == f"{by}[{a}]"]
    main_hr = None
    if len(main) and not np.isnan(main["hr"].iloc[0]):
        main_hr = {k: float(main[k].iloc[0]) for k in ("hr", "lower", "upper", "p")}
    return Comparison(a, b, balance, km, at, naive, p, cox_terms, ph_table,
                      PublishedCount(float(res.n) if n_shown else None, "shown" if n_shown else "protect"),
                      PublishedCount(float(res.n_events) if ev_shown else None, "shown" if ev_shown else "protect"),
                      res, main_hr)
