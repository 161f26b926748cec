"""Time the disclosure step (ledger + solver + published views) against the raw analyses it protects.

Run: ``python benchmarks/bench_disclosure.py [--sizes 5000,100000]``. For each size, in one run: the raw
results a publication needs (anchor: the analyses themselves), the ledger, the solver, the published
curves and page views, a filtered view with its wider neighbours, and the ratio of the protection to the
anchor. Also the number of cells, relations and hidden cells.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.cohort import derive_cohort  # noqa: E402
from analysis.disclosure import Publication  # noqa: E402
from analysis.disclosure.ledger import build_ledger  # noqa: E402
from analysis.disclosure.neighbours import wider_settings  # noqa: E402
from analysis.disclosure.raw import compute_raw  # noqa: E402
from analysis.disclosure.solver import protect  # noqa: E402
from analysis.filters import FilterSpec, apply_filters  # noqa: E402
from analysis.loading import load_frame  # noqa: E402
from analysis.synthetic import generate_episodes  # noqa: E402
from analysis.views.overview import overview  # noqa: E402
from analysis.views.retention import retention  # noqa: E402
from analysis.views.time_to_relapse import time_to_relapse  # noqa: E402


def _t(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run(n: int) -> None:
    cohort = derive_cohort(load_frame(generate_episodes(n, seed=3)).episodes)
    raw, t_raw = _t(lambda: compute_raw(cohort, "level_of_care"))
    ledger, t_ledger = _t(lambda: build_ledger(raw))
    plan, t_plan = _t(lambda: protect(ledger, 11))
    pub, t_build = _t(lambda: Publication.build(cohort, by="level_of_care"))
    _, t_views = _t(lambda: (overview(pub, "discharge"), retention(pub), time_to_relapse(pub, "discharge")))
    spec = FilterSpec(sites=("North Clinic",))
    nbs, t_nbs = _t(lambda: wider_settings(cohort, spec))
    _, t_filtered = _t(lambda: Publication.build(apply_filters(cohort, spec), neighbours=nbs))
    hidden = Counter(plan.status.values())
    print(f"{n:>9,} episodes: raw results {t_raw:6.2f} s (anchor) | ledger {t_ledger:5.2f} s | solver {t_plan:5.2f} s "
          f"| protection / anchor {(t_ledger + t_plan) / t_raw:4.2f} | whole publication {t_build:5.2f} s | three page "
          f"views {t_views:5.2f} s | one site with {len(nbs)} wider settings {t_nbs + t_filtered:5.2f} s")
    print(f"{'':>9}  {len(ledger.cells):,} cells ({sum(c.published for c in ledger.cells.values()):,} shown anywhere), "
          f"{len(ledger.relations):,} relations; hidden: {hidden['small']} small, {hidden['protect']} to protect them; "
          f"{plan.rounds} solver rounds")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5000,100000")
    for size in ap.parse_args().sizes.split(","):
        run(int(size))
