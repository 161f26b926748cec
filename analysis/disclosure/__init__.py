"""Disclosure control at one boundary: every number that leaves ``analysis`` for a person passes here.

The design (docs/architecture.md, "Disclosure"):

1. :mod:`~analysis.disclosure.raw` computes the raw results of one cohort, grouping and threshold,
   for both time origins and at three scopes (whole program, levels of care, the grouping column).
2. :mod:`~analysis.disclosure.ledger` registers every count of people those results can show, with
   the exact linear relations between them (totals and parts, cumulative days, partitions).
3. :mod:`~analysis.disclosure.solver` decides which counts to hide: counts of 1 to ``min_cell - 1``,
   then complementary cells so that none can be recomputed (checked by linear algebra,
   :mod:`~analysis.disclosure.audit`).
4. :class:`~analysis.disclosure.publication.Publication` holds that plan; views publish tables through
   it (:mod:`~analysis.disclosure.tables`: statistics rest on counts and are hidden with them) and
   curves on safe time grids (:mod:`~analysis.disclosure.curves`).
5. :mod:`~analysis.disclosure.format` renders published tables for screens and CSV files.

Filter settings are compared with their wider neighbours (:mod:`~analysis.disclosure.neighbours`).
"""
from analysis.disclosure.format import LEGEND, Col, fmt_ci, fmt_p, group_text, render
from analysis.disclosure.publication import DisclosureRefused, Neighbour, Publication, PublishedCount
from analysis.disclosure.tables import PublishedTable, Ref, TableSpec, ref

__all__ = ["Publication", "PublishedCount", "PublishedTable", "TableSpec", "Ref", "ref", "Col", "render",
           "DisclosureRefused", "Neighbour", "LEGEND", "fmt_ci", "fmt_p", "group_text"]
