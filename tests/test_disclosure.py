"""The disclosure step: ledger, solver, published tables, safe curves, wider filter settings.

The solver's guarantees are checked independently of its own linear algebra: for every hidden count of
1-10, two linear programs (scipy HiGHS) find the smallest and largest value it can take given every
shown count and every relation (counts >= 0). If they are equal the count could be worked out.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog

from analysis.cohort import derive_cohort
from analysis.disclosure import Col, Publication, TableSpec, ref, render
from analysis.disclosure.cells import Ledger, cell_id
from analysis.disclosure.curves import safe_corners
from analysis.disclosure.neighbours import wider_settings
from analysis.disclosure.solver import PROTECT, SHOWN, SMALL, protect
from analysis.filters import FilterSpec
from analysis.loading import load_episodes

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"


def value_range(ledger: Ledger, status: dict, target) -> tuple[float, float]:
    """Smallest and largest value of ``target`` consistent with the shown cells and the relations (LP)."""
    unknown = sorted(c for c, cell in ledger.cells.items()
                     if (cell.published and status.get(c) != SHOWN) or (not cell.published and cell.value != 0))
    idx = {c: i for i, c in enumerate(unknown)}
    rows, rhs = [], []
    for rel in ledger.relations:
        if not any(c in idx for c in rel):
            continue
        row = np.zeros(len(unknown))
        b = 0.0
        for c, k in rel.items():
            if c in idx:
                row[idx[c]] += k
            else:
                b -= k * ledger.cells[c].value
        rows.append(row)
        rhs.append(b)
    cost = np.zeros(len(unknown))
    cost[idx[target]] = 1.0
    kw = dict(A_eq=np.array(rows), b_eq=np.array(rhs), bounds=[(0, None)] * len(unknown), method="highs")
    lo = linprog(cost, **kw)
    hi = linprog(-cost, **kw)
    assert lo.status == 0 and hi.status == 0
    return lo.fun, -hi.fun


def test_primary_hides_1_to_10_keeps_zero_and_11():
    led = Ledger()
    for name, v in (("a", 0), ("b", 1), ("c", 10), ("d", 11)):
        led.add(cell_id("n", "g", name), v)
    plan = protect(led, 11)
    assert [plan.status[cell_id("n", "g", x)] for x in "abcd"] == [SHOWN, SMALL, SMALL, SHOWN]


def test_one_small_part_of_a_shown_total_hides_the_smallest_other_part():
    # 588 episodes = 1 in treatment + 587 discharged (the example): hiding 1 alone gives it back
    led = Ledger()
    e, i, d = (led.add(cell_id(m, "loc", "detox"), v) for m, v in (("episodes", 588), ("in_treatment", 1),
                                                                    ("discharged", 587)))
    led.add_sum(e, [i, d])
    plan = protect(led, 11)
    assert plan.status[i] == SMALL and plan.status[e] == SHOWN and plan.status[d] == PROTECT
    lo, hi = value_range(led, plan.status, i)
    assert lo == 0 and hi == 588


def test_union_of_hidden_parts_must_not_be_small():
    led = Ledger()
    parts = [led.add(cell_id("reason", "loc", "x", reason=r), v) for r, v in (("died", 3), ("jail", 4), ("other", 30),
                                                                              ("done", 200))]
    led.add_sum(led.add(cell_id("discharged", "loc", "x"), 237), parts)
    plan = protect(led, 11)
    hidden = [c for c in parts if plan.status[c] != SHOWN]
    assert sum(led.value(c) for c in hidden) >= 11  # 3 + 4 = 7 would be a count of 7 people
    assert plan.status[parts[2]] == PROTECT and plan.status[parts[3]] == SHOWN  # 30 chosen, not 200


def test_two_way_table_with_margins_hides_a_rectangle_and_nothing_is_pinned():
    led = Ledger()
    vals = {("a", "x"): 3, ("a", "y"): 40, ("a", "z"): 50, ("b", "x"): 20, ("b", "y"): 30, ("b", "z"): 25}
    for g in "ab":
        cells = [led.add(cell_id("r", "loc", g, reason=r), vals[(g, r)]) for r in "xyz"]
        led.add_sum(led.add(cell_id("d", "loc", g), sum(vals[(g, r)] for r in "xyz")), cells)
    for r in "xyz":
        total = led.add(cell_id("r", reason=r), vals[("a", r)] + vals[("b", r)], level=0)
        led.add_sum(total, [cell_id("r", "loc", g, reason=r) for g in "ab"])
    plan = protect(led, 11)
    hidden = [c for c, s in plan.status.items() if s != SHOWN]
    assert len(hidden) == 4  # the fewest possible: a rectangle of reasons, or both rows' reason x and totals
    for c in hidden:
        lo, hi = value_range(led, plan.status, c)
        assert hi - lo >= 10, c.text()


def test_consecutive_days_between_shown_rows_are_protected():
    # relapses by day 30 / 90 / 180: 40, 45, 80 -> 5 relapses between day 30 and 90 must not be derivable
    led = Ledger()
    chain = [led.add(cell_id("relapsed", "loc", "g", day=d), v) for d, v in ((30, 40), (90, 45), (180, 80))]
    led.add_chain(chain, "between")
    plan = protect(led, 11)
    shown = [c for c in chain if plan.status[c] == SHOWN]
    values = [led.value(c) for c in shown]
    assert all(b - a == 0 or b - a >= 11 for a, b in zip(values, values[1:], strict=False))
    assert len(shown) == 2


def test_hidden_count_pinned_through_other_relations_is_freed():
    # in_treatment hidden with episodes, but episodes = followed from admission (shown) would pin it again
    led = Ledger()
    e, i, d = (led.add(cell_id(m, "loc", "g"), v) for m, v in (("episodes", 100), ("in_treatment", 2),
                                                                ("discharged", 98)))
    f = led.add(cell_id("followed", "loc", "g", origin="admission"), 100, cost=30)
    led.add_sum(e, [i, d])
    led.add_sum(e, [f], remainder=cell_id("not_followed", "loc", "g"))
    plan = protect(led, 11)
    lo, hi = value_range(led, plan.status, i)
    assert hi > lo
    assert plan.status[f] != SHOWN or plan.status[e] == SHOWN  # one of the two names of 100 goes with it


def test_cells_that_are_derivable_anyway_are_shown():
    # total 60 = a 5 + b 25 + c 30, and b = b1 12 + b2 13 is shown elsewhere: hiding b (the smallest) protects
    # nothing, so c is hidden instead and b, pinned by b1 + b2 anyway, is shown
    led = Ledger()
    a, b, c = (led.add(cell_id("n", "g", x), v) for x, v in (("a", 5), ("b", 25), ("c", 30)))
    b1, b2 = led.add(cell_id("m", "g", "b1"), 12), led.add(cell_id("m", "g", "b2"), 13)
    led.add_sum(led.add(cell_id("t", "g", "all"), 60), [a, b, c])
    led.add_sum(b, [b1, b2])
    plan = protect(led, 11)
    assert plan.status[a] == SMALL and plan.status[b] == SHOWN and plan.status[c] == PROTECT
    lo, hi = value_range(led, plan.status, a)
    assert hi - lo >= 11


def test_ledger_refuses_two_values_for_one_count_and_false_relations():
    led = Ledger()
    led.add(cell_id("n", "g", "a"), 5)
    with pytest.raises(ValueError, match="two values"):
        led.add(cell_id("n", "g", "a"), 6)
    led.add(cell_id("t", "g", "a"), 9)
    with pytest.raises(ValueError, match="does not hold"):
        led.add_sum(cell_id("t", "g", "a"), [cell_id("n", "g", "a")])


@pytest.fixture(scope="module")
def sample():
    return derive_cohort(load_episodes(SAMPLE).episodes)


@pytest.fixture(scope="module")
def sample_pub(sample):
    return Publication.build(sample, by="level_of_care")


def test_sample_publication_pins_no_small_count(sample_pub):
    """Every hidden count of 1-10 in the whole sample publication keeps a range (LP, independent check)."""
    pub = sample_pub
    small = [c for c, s in pub.plan.status.items() if s == SMALL]
    assert len(small) >= 20
    for c in small:
        lo, hi = value_range(pub.ledger, pub.plan.status, c)
        assert hi - lo > 0.5, c.text()


def test_published_table_hides_statistics_with_their_counts(sample_pub):
    comp = sample_pub.raw.completion["level_of_care"]
    rate = [ref("reason", reason="completed"), ref("basis")]
    pt = sample_pub.table(TableSpec("c", comp, "level_of_care",
                                    counts={"n_in_treatment": "in_treatment", "n_completed": ("reason", {"reason": "completed"})},
                                    stats={"completion_rate": rate}, plain=()))
    assert list(pt.frame.columns) == ["group", "n_in_treatment", "n_completed", "completion_rate"]  # rest dropped
    detox = pt.frame["group"] == "detox"
    assert pt.status.loc[detox, "n_in_treatment"].item() == SMALL and np.isnan(pt.frame.loc[detox, "n_in_treatment"].item())
    shown = render(pt, {"group": Col("Level", "group"), "n_in_treatment": Col("In treatment", "count")})
    assert shown.loc[detox.to_numpy(), "In treatment"].item() == "<11"
    with pytest.raises(ValueError, match="not in the ledger"):
        sample_pub.table(TableSpec("bad", comp, "level_of_care", counts={"n_completed": "no_such_measure"}))
    wrong = comp.assign(n_completed=comp["n_completed"] + 1)
    with pytest.raises(ValueError, match="the ledger has"):
        sample_pub.table(TableSpec("bad", wrong, "level_of_care",
                                   counts={"n_completed": ("reason", {"reason": "completed"})}))


def test_protected_but_not_small_reads_suppressed_not_lt11(sample_pub):
    comp = sample_pub.raw.completion["level_of_care"]
    pt = sample_pub.table(TableSpec("c", comp, "level_of_care", counts={"n_episodes": "episodes"}))
    text = render(pt, {"group": Col("Level", "group"), "n_episodes": Col("Episodes", "count")})
    hidden = pt.status["n_episodes"] == PROTECT
    assert hidden.any()
    assert set(text.loc[hidden.to_numpy(), "Episodes"]) == {"suppressed"}  # 588 episodes is not "<11"


def test_safe_corners_by_hand():
    # 40 people; one relapse a day on days 1..12, 11 relapses on day 20, 5 censored on day 3
    times = np.array([*range(1, 13), 20], dtype=float)
    events = np.array([1] * 12 + [11], dtype=float)
    censored = np.zeros(13)
    censored[2] = 5
    # day 11: 11 relapses since day 0 (a corner); day 12 adds 1 (not a corner, and then the 11 of day 20
    # follow with 12 since the corner: fine); the censorings do not matter between corners
    assert safe_corners(times, events, censored, 40, anchors=[], min_cell=11) == [11.0, 20.0]
    # after day 20 only 40 - 23 - 5 = 12 remain at risk: a corner needs >= 11 at risk after it
    censored[2] = 7
    assert safe_corners(times, events, censored, 40, anchors=[], min_cell=11) == [11.0]
    # an anchor (a shown day of the at-risk table) is a corner; the corner before it leaves 0 or >= 11 to it
    assert safe_corners(times, events, np.zeros(13), 40, anchors=[12], min_cell=11) == [12.0, 20.0]


def test_published_km_equals_the_exact_estimate_at_its_corners(sample_pub, sample):
    km = sample_pub.km("discharge")
    raw = sample_pub.raw.km[("level_of_care", "discharge")]
    for g, part in km.groupby("group", observed=True):
        exact = raw[raw["group"] == g]
        t = exact["time"].to_numpy()
        for r in part.iloc[1:].itertuples():
            i = np.searchsorted(t, r.time, side="right") - 1
            assert r.survival == pytest.approx(exact["survival"].iloc[i], abs=1e-12)
        steps = part["n_event"].to_numpy()[1:]
        assert ((steps == 0) | (steps >= 11)).all()
        exits = -np.diff(part["n_at_risk"].to_numpy())
        assert ((exits == 0) | (exits >= 11)).all()  # at risk between corners: no count of 1-10 either
        assert (part["n_at_risk"] >= 11).all()


def test_wider_settings_one_step_away(sample):
    spec = FilterSpec(levels=("iop",), co_occurring=True)
    nbs = wider_settings(sample, spec)
    labels = [nb.label for nb in nbs]
    assert "the same view without the level of care filter" in labels
    assert "the same view with level of care detox added" in labels
    assert "the same view without the co-occurring filter" in labels
    detox = next(nb for nb in nbs if nb.label.endswith("detox added"))
    expected = ((sample["level_of_care"] == "detox") & (sample["co_occurring"] == True)).sum()  # noqa: E712
    assert len(detox.added) == expected
    assert wider_settings(sample, FilterSpec()) == []


def test_a_view_a_few_episodes_from_a_wider_one_is_refused(sample):
    from analysis.disclosure import DisclosureRefused
    from analysis.disclosure.publication import Neighbour

    with pytest.raises(DisclosureRefused, match="fewer than 11"):
        Publication.build(sample.iloc[5:], neighbours=[Neighbour("all episodes", sample.iloc[:5])])


def test_counts_that_differ_little_from_a_wider_setting_are_hidden(sample):
    iop = sample[sample["level_of_care"] == "iop"]
    added = sample[sample["level_of_care"] == "detox"]  # 1 detox episode in treatment
    from analysis.disclosure.publication import Neighbour

    pub = Publication.build(iop, neighbours=[Neighbour("IOP and detox", added)])
    assert pub.status(cell_id("in_treatment")) != SHOWN  # 16 - 15 = 1 would give the detox one away
    plain = Publication.build(iop)
    assert plain.status(cell_id("in_treatment")) == SHOWN


def test_linear_audit_by_hand_and_its_null_spaces_reused():
    """t = a + b and u = b (hand-worked): with t and u shown, a and b are pinned down; with u hidden too,
    three unknowns in two relations move together (none is pinned). Null spaces kept between audits are reused:
    the same blocks again add none, and answer the same."""
    from analysis.disclosure.audit import LinearAudit
    from analysis.disclosure.cells import CellId

    a, b, t, u = (CellId(m, "*", "all") for m in "abtu")
    rels = [{t: 1, a: -1, b: -1}, {u: 1, b: -1}]
    kept: dict = {}
    two = LinearAudit(rels, {a, b}, set(), kept)
    assert sorted(two.determined([a, b])) == [a, b]
    three = LinearAudit(rels, {a, b, u}, set(), kept)
    assert three.determined([a, b, u]) == []
    n_kept = len(kept)
    assert n_kept == 2  # one block of each audit
    again = LinearAudit(rels, {a, b, u}, set(), kept)
    assert len(kept) == n_kept and again.determined([a, b, u]) == [] and again.free == three.free


def test_retention_curves_left_out_are_named(sample_pub):
    """A retention curve starts from the group's number of episodes: where that is hidden the curve is left out,
    and the view names the group (the page says so) instead of a chart that silently lacks it."""
    from analysis.views.retention import retention

    view = retention(sample_pub)
    groups = list(sample_pub.raw.retention_km["level_of_care"]["group"].cat.categories)
    drawn = list(view.retention_curve["group"].cat.remove_unused_categories().cat.categories)
    hidden = [g for g in groups if not sample_pub.shown(cell_id("episodes", "level_of_care", g))]
    assert view.retention_not_drawn == hidden and set(drawn) | set(hidden) == set(groups)
    assert drawn and hidden  # the sample: IOP drawn; the other levels' episodes hide a few still in treatment
    first = view.retention_curve.groupby("group", observed=True)["n_at_risk"].first()
    assert all(first[g] == sample_pub.ledger.value(cell_id("episodes", "level_of_care", g)) for g in drawn)


def test_a_day_0_anchor_before_the_first_relapse_is_the_start_row():
    """From admission nobody may relapse on day 0: the forced day-0 anchor then lies before the curve's first time.
    It used to take the curve's last row (index -1), publishing a day-0 corner with nobody at risk and the final
    survival, so every drawn curve stopped at day 0 (UIS from admission, a real cohort: an empty chart)."""
    import pandas as pd

    from analysis.disclosure.curves import publish_km
    from analysis.survival import km_by_group

    # 40 people: 11 relapse on day 5, 11 on day 20, 18 censored on day 50 (counts of at least 11: every time safe)
    data = pd.DataFrame({"group": ["a"] * 3, "time": [5.0, 20.0, 50.0], "event": [1, 1, 0], "n": [11, 11, 18]})
    km = km_by_group(data, time_col="time", event_col="event", group_col="group", weight_col="n")
    out = publish_km(km, followed={"a": 40.0}, anchors={"a": [0, 30]}, min_cell=11)
    # by hand: S(5) = 29/40, S(20) = 29/40 * 18/29 = 18/40, flat to day 30 (the anchor); day 50 leaves nobody at risk
    assert out["time"].tolist() == [0.0, 5.0, 20.0, 30.0]
    assert out["n_at_risk"].tolist() == [40.0, 29.0, 18.0, 18.0]
    assert out["n_event"].tolist() == [0.0, 11.0, 11.0, 0.0]
    assert out["survival"].tolist() == pytest.approx([1.0, 29 / 40, 18 / 40, 18 / 40], abs=1e-12)


def test_uis_from_admission_publishes_whole_curves():
    """The UIS cohort (time to return to drug use, from admission): each arm's published curve has its corners."""
    from analysis.engine.load import open_engine

    res = open_engine(str(ROOT / "tests" / "data" / "real_cohorts" / "uis.csv"), by="TREAT")
    try:
        pub = Publication.build(res.engine.counts(), by="TREAT")
        km = pub.km("admission", "TREAT")
    finally:
        res.close()
    for _, k in km.groupby("group", observed=True):
        assert len(k) > 10 and (k["n_event"] >= 0).all() and (k["n_censor"] >= 0).all()
        assert k["survival"].is_monotonic_decreasing and k["n_at_risk"].iloc[1] > 0
