"""Raw results shared between filter settings (ui.raw_memo): the same plan and cells as without sharing."""
import pytest

from analysis.disclosure import Publication
from analysis.disclosure import publication as publication_module
from analysis.disclosure.neighbours import wider_settings
from analysis.filters import FilterSpec, apply_filters
from ui.raw_memo import RawStore, rows_key, sharing
from ui.state import load_dataset, sample_path


@pytest.fixture(scope="module")
def sample():
    p = sample_path()
    return load_dataset(p.read_bytes(), p.name, None, is_sample=True)


def _build(ds, spec, memo=None):
    cohort = ds.cohort
    return Publication.build(apply_filters(cohort, spec), by="level_of_care", min_cell=11,
                             neighbours=wider_settings(cohort, spec), memo=memo)


def test_shared_neighbours_give_the_same_publication(sample):
    store = RawStore()
    detox, iop = FilterSpec(levels=("detox",)), FilterSpec(levels=("iop",))
    memo = sharing(store, sample.key)
    first = _build(sample, detox, memo)
    assert (store.hits, store.misses) == (0, 7)  # the view and its 6 wider settings
    second = _build(sample, iop, memo)
    # iop alone was a neighbour of detox (and detox of iop, and the other 4 levels of both): only "every level
    # but iop" is new
    assert (store.hits, store.misses) == (6, 8)
    for spec, shared in ((detox, first), (iop, second)):
        plain = _build(sample, spec)
        assert shared.plan.status == plain.plan.status
        assert shared.ledger.cells.keys() == plain.ledger.cells.keys()
        assert all(shared.ledger.cells[k].value == plain.ledger.cells[k].value for k in plain.ledger.cells)
        assert shared.neighbour_labels == plain.neighbour_labels
        assert [len(r.cohort) for r in shared.neighbour_raw] == [len(r.cohort) for r in plain.neighbour_raw]
    assert any(s == "protect" for s in second.plan.status.values())  # the neighbours' check did its work


def test_no_sharing_without_the_memo_and_keys_by_dataset(sample):
    store = RawStore()
    rows = apply_filters(sample.cohort, FilterSpec(levels=("op",)))
    a = publication_module.compute_raw(rows, "level_of_care")
    b = publication_module.compute_raw(rows, "level_of_care")
    assert a is not b and len(store) == 0
    c = sharing(store, "dataset one").compute_raw(rows, "level_of_care")
    # another file's rows with the same numbers are not the same rows
    d = sharing(store, "dataset two").compute_raw(rows, "level_of_care")
    assert c is not d and len(store) == 2
    assert sharing(store, "dataset one").compute_raw(rows, "level_of_care") is c


def test_store_keeps_at_most_its_rows(sample):
    store = RawStore(max_entries=10, max_rows=3000)
    memo = sharing(store, sample.key)
    for level in ("detox", "iop", "op", "residential"):
        memo.compute_raw(apply_filters(sample.cohort, FilterSpec(levels=(level,))), "level_of_care")
    assert store.rows <= 3000 and 1 <= len(store) < 4


def test_rows_key_names_the_rows(sample):
    c = sample.cohort
    assert rows_key(c.iloc[:10]) == rows_key(c.iloc[:10].copy())
    assert rows_key(c.iloc[:10]) != rows_key(c.iloc[1:11])
    assert rows_key(c.set_index(c.index.astype(str))) is None  # not row numbers: nothing is shared
