"""Every chart of the app as a pure plotly builder (no Streamlit, never ``fig.show()``).

Each builder takes a tidy frame produced by the analysis modules (already published: suppressed
where it must be) and returns a ``plotly.graph_objects.Figure``. One module per figure family:

* :mod:`analysis.figures._layout`: palette, group colours and labels, layout, notes, provenance;
* :mod:`analysis.figures.curves`: Kaplan-Meier curves with the risk table, cumulative incidence;
* :mod:`analysis.figures.retention`: time in treatment, completion, discharge reasons, next level of care;
* :mod:`analysis.figures.distributions`: length of stay and hours per week as box plots;
* :mod:`analysis.figures.relapse`: relapse by horizon;
* :mod:`analysis.figures.comparison`: hazard ratios and case-mix balance;
* :mod:`analysis.figures.adjusted`: a weighted comparison's curves, with people and weighted at risk;
* :mod:`analysis.figures.effects`: its absolute differences and hazard ratios (windows, whole period);
* :mod:`analysis.figures.weighting`: its checks, the love plot (balance before/after) and score overlap;
* :mod:`analysis.figures.benchmarks`: estimates against benchmark bands, bands at their horizon;
* :mod:`analysis.figures.trends`: a measure quarter by quarter, with targets;
* :mod:`analysis.figures.risk_table`: the table under a Kaplan-Meier chart (at risk, KMunicate);
* :mod:`analysis.figures.static`: SVG/PDF/PNG export (kaleido, system Chromium) and plotted numbers.

Every builder takes ``compact=True`` for a narrow screen (legend below, wrapped labels).

``from analysis import figures; figures.km_figure(...)`` works for every public name.
"""
from analysis.figures._layout import (
    COMPACT_WIDTH,
    LEVEL_COLORS,
    OKABE_ITO,
    REASON_COLORS,
    add_provenance,
    group_colors,
    group_label,
    to_image_config,
)
from analysis.figures.adjusted import adjusted_km_figure, weighted_risk_rows
from analysis.figures.benchmarks import PLACEMENT_STYLES, benchmark_figure
from analysis.figures.comparison import balance_figure, forest_figure
from analysis.figures.curves import MAX_CURVE_POINTS, cumulative_incidence_figure, km_figure
from analysis.figures.distributions import hours_figure, los_figure
from analysis.figures.effects import contrasts_figure, window_hr_figure
from analysis.figures.relapse import relapse_horizons_figure
from analysis.figures.retention import (
    COMPLETION_BASES,
    completion_figure,
    reason_mix_figure,
    retention_figure,
    sankey_figure,
)
from analysis.figures.risk_table import RISK_TABLE_STYLES
from analysis.figures.static import (
    STATIC_FORMATS,
    TABS,
    close_static_export,
    figure_data,
    find_chromium,
    static_image,
)
from analysis.figures.trends import trend_figure
from analysis.figures.weighting import IMBALANCE_LINE, love_plot_figure, overlap_figure

__all__ = [
    "LEVEL_COLORS", "OKABE_ITO", "REASON_COLORS", "PLACEMENT_STYLES", "group_colors", "group_label",
    "km_figure", "cumulative_incidence_figure", "retention_figure", "completion_figure",
    "reason_mix_figure", "los_figure", "hours_figure", "sankey_figure", "relapse_horizons_figure",
    "forest_figure", "balance_figure", "benchmark_figure", "to_image_config", "add_provenance",
    "COMPACT_WIDTH", "MAX_CURVE_POINTS", "COMPLETION_BASES", "RISK_TABLE_STYLES", "STATIC_FORMATS", "TABS",
    "static_image", "figure_data", "find_chromium", "close_static_export", "trend_figure",
    "adjusted_km_figure", "weighted_risk_rows", "contrasts_figure", "window_hr_figure", "love_plot_figure",
    "overlap_figure", "IMBALANCE_LINE",
]
