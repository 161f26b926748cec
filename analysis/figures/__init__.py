"""Every chart of the app as a pure plotly builder (no Streamlit, never ``fig.show()``).

Each builder takes a tidy frame produced by the analysis modules (already published: suppressed
where it must be) and returns a ``plotly.graph_objects.Figure``. One module per figure family:

* :mod:`analysis.figures._layout`: palette, group colours and labels, layout, notes, provenance;
* :mod:`analysis.figures.curves`: Kaplan-Meier curves with the risk table, cumulative incidence;
* :mod:`analysis.figures.retention`: time in treatment, completion, discharge reasons, stays, hours, flows;
* :mod:`analysis.figures.relapse`: relapse by horizon;
* :mod:`analysis.figures.comparison`: hazard ratios and case-mix balance;
* :mod:`analysis.figures.benchmarks`: estimates against benchmark bands.

``from analysis import figures; figures.km_figure(...)`` works for every public name.
"""
from analysis.figures._layout import (
    LEVEL_COLORS,
    OKABE_ITO,
    REASON_COLORS,
    add_provenance,
    group_colors,
    group_label,
    to_image_config,
)
from analysis.figures.benchmarks import PLACEMENT_STYLES, benchmark_figure
from analysis.figures.comparison import balance_figure, forest_figure
from analysis.figures.curves import cumulative_incidence_figure, km_figure
from analysis.figures.relapse import relapse_horizons_figure
from analysis.figures.retention import (
    completion_figure,
    hours_figure,
    los_figure,
    reason_mix_figure,
    retention_figure,
    sankey_figure,
)

__all__ = [
    "LEVEL_COLORS", "OKABE_ITO", "REASON_COLORS", "PLACEMENT_STYLES", "group_colors", "group_label",
    "km_figure", "cumulative_incidence_figure", "retention_figure", "completion_figure",
    "reason_mix_figure", "los_figure", "hours_figure", "sankey_figure", "relapse_horizons_figure",
    "forest_figure", "balance_figure", "benchmark_figure", "to_image_config", "add_provenance",
]
