"""An automated attacker: collect every number the app and the CLI publish, try to work out counts of 1-10 people.

Written from the documented definitions (Methods page, README), not from ``analysis.disclosure``: the
attacker knows what each published column means and which counts add up, and nothing else.

Collection (:class:`Collector`): for each filter setting, every page through Streamlit's AppTest:
metrics, tables, Markdown/caption/text, the sidebar, the plotly figure data, and the bytes of every
CSV download (captured from the in-memory media store); and the JSON of ``python -m analysis outcomes`` and of
``python -m analysis compare`` (the IOP vs residential comparison).

Facts: every published count becomes ``(setting, quantity, group, qualifiers) -> value`` (or hidden).
Routes tried (:class:`Attacker`), each a linear combination of published numbers:

* a count shown as 1-10 anywhere (tables, metrics, captions, chart text and hover data, CSV, JSON);
* totals minus parts (episodes = in treatment + discharged; discharged = sum of reasons; people =
  at risk + relapsed + censored at a day; the whole program = the sum of its groups), solved to a fixed
  point together with the same count seen in another table, page, origin or output;
* a rate times its base, and a count over its rate (at the precision shown, CSV: four decimals);
* consecutive days or horizons of cumulative counts (relapses, censorings, at risk, horizon passed);
* the two time origins (people followed from admission minus from discharge);
* two filter settings one step apart (the same count in both);
* Kaplan-Meier curves: the number at risk times the size of a step, and numbers at risk between corners;
* interval widths: ``1 / SE^2`` of a hazard ratio (the events of a small group);
* the comparison: relapses per window against relapses by a day, the score histogram's bins against the
  group's people (chart bars and JSON bins), people outside the common support against the group.

A claim is a leak when it is a count of 1 to 10 people; approximate routes (curves, interval widths)
are checked against the true count, which the test computes from the cohort.
"""
from __future__ import annotations

import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

HIDDEN = "hidden"
_PCT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)%\s*$")
_NUM = re.compile(r"^\s*-?\d[\d,]*(?:\.\d+)?\s*$")
_COUNT_TEXT = re.compile(r"(?<![\w.])(\d[\d,]*)\s+(episodes?|people|relapses?|persons?|clients?|discharges?)\b", re.I)


def number(text: object) -> float | str | None:
    """A cell as a number, ``HIDDEN`` ("<11", "suppressed"), or None (text)."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return None if text != text else float(text)
    t = str(text).strip()
    if t.startswith("<") and t[1:].isdigit() or t == "suppressed":
        return HIDDEN
    m = _PCT.match(t)
    if m:
        return float(m.group(1)) / 100
    if _NUM.match(t):
        return float(t.replace(",", ""))
    return None


def plain(value):
    """Plotly's JSON stores numeric arrays as ``{"dtype", "bdata"(base64), "shape"}``: decode to lists."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        import base64

        import numpy as np

        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if value.get("shape"):
            arr = arr.reshape([int(x) for x in str(value["shape"]).split(",")])
        return arr.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------ collection
@dataclass
class Page:
    """What one page showed for one setting."""

    setting: str
    page: str
    tables: list[pd.DataFrame] = field(default_factory=list)
    csvs: dict[str, pd.DataFrame] = field(default_factory=dict)
    csv_headers: dict[str, list[str]] = field(default_factory=dict)
    metrics: list[tuple[str, str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)


def count_numbers(pages: Iterable[Page], payloads: dict) -> int:
    """Every number collected: table and CSV cells, metrics, numbers in texts, chart data, JSON leaves."""
    def leaves(obj) -> int:
        if isinstance(obj, dict):
            return sum(leaves(v) for v in obj.values())
        if isinstance(obj, list):
            return sum(leaves(v) for v in obj)
        return int(isinstance(obj, (int, float)) and not isinstance(obj, bool) or number(obj) is not None)

    n = 0
    for p in pages:
        for frame in [*p.tables, *p.csvs.values()]:
            n += int(sum(frame[c].map(lambda v: number(v) is not None).sum() for c in frame.columns)) if len(frame) else 0
        n += sum(number(v) is not None for _, v in p.metrics)
        n += sum(len(re.findall(r"\d[\d,.]*", t)) for t in p.texts)
        for fig in p.figures:
            n += leaves(fig.get("data", []))
    return n + sum(leaves(p) for p in payloads.values())


def read_csv_download(data: bytes) -> tuple[list[str], pd.DataFrame]:
    text = data.decode("utf-8")
    lines = text.splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    body = "\n".join(ln for ln in lines if not ln.startswith("#"))
    frame = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False) if body.strip() else pd.DataFrame()
    return header, frame


def open_details(at) -> int:
    """Open every expander that builds its content only when open (``ui.widgets.details``: keyed ``exp_*``) and
    rerun, so that what a reader can open is attacked too; returns how many were opened."""
    keys = [e.key for e in at.expander if e.key and e.key.startswith("exp_") and not at.session_state[e.key]]
    for key in keys:
        at.session_state[key] = True
    if keys:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return len(keys) + open_details(at)  # an opened one may hold others
    return 0


def svg_texts(url: str) -> list[str]:
    """The text drawn by an SVG image given as a ``data:image/svg+xml;base64,`` URL (none for other images)."""
    import base64
    import xml.etree.ElementTree as ET

    head, _, body = url.partition(",")
    if not head.startswith("data:image/svg+xml"):
        return []
    root = ET.fromstring(base64.b64decode(body) if head.endswith(";base64") else body)
    return [t for t in (" ".join(e.itertext()).strip() for e in root.iter("{http://www.w3.org/2000/svg}text")) if t]


def draw_still_charts_interactive(monkeypatch) -> None:
    """Have still charts (ui/still.py) fall back to interactive charts, whose specs carry every number drawn
    (bar heights and curve steps are not text in an SVG); drawing them costs 0.15 s a figure, and the drawing
    itself is tested in tests/test_still_charts.py."""
    import ui.still

    monkeypatch.setattr(ui.still, "_draw", lambda fig, key: None)


def collect_page(at, setting: str, page: str, media: dict) -> Page:
    out = Page(setting, page)
    open_details(at)
    out.tables = [df.value for df in at.dataframe]
    out.metrics = [(m.label, m.value) for m in at.metric]
    for kind in ("markdown", "caption", "text", "info", "error", "warning", "success", "subheader", "title"):
        out.texts += [str(e.value) for e in at.get(kind)]
    out.texts += [str(e.value) for e in at.sidebar.caption]
    for el in at.get("plotly_chart"):
        out.figures.append(plain(json.loads(el.proto.spec)))
    for el in at.get("image"):  # a still chart: every text it draws (titles, labels, ticks, notes, legend)
        out.texts += [t for url in el.value for t in svg_texts(url)]
    for el in at.get("download_button"):
        url = el.proto.url
        file_id = url.rsplit("/", 1)[-1].split(".")[0]
        data = media.get(file_id)
        if data is None or not str(el.proto.label).startswith("Download CSV"):
            continue
        name = el.key.removeprefix("dl_") if el.key else file_id
        header, frame = read_csv_download(data)
        out.csvs[name] = frame
        out.csv_headers[name] = header
    return out


# ------------------------------------------------------------------------------------------ facts
_GROUP_HEADERS = ("Level of care", "Primary substance", "Age band", "Sex", "Site", "Payer", "Race/ethnicity",
                  "Discharged from")


def _group_col(frame: pd.DataFrame) -> str | None:
    return next((c for c in frame.columns if c in _GROUP_HEADERS), None)


@dataclass
class Facts:
    """Published counts: ``(setting, quantity, group, quals) -> value or HIDDEN``; rates kept apart."""

    counts: dict[tuple, object] = field(default_factory=dict)
    rates: dict[tuple, float] = field(default_factory=dict)
    numbers: int = 0

    def put(self, key: tuple, value) -> None:
        if value is None:
            return
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        self.numbers += 1
        old = self.counts.get(key)
        if old is None or old == HIDDEN:
            self.counts[key] = value

    def rate(self, key: tuple, value) -> None:
        if isinstance(value, float):
            self.numbers += 1
            self.rates.setdefault(key, value)


#: (csv name prefix, column header) -> quantity; the origin comes from the setting
_COUNT_COLUMNS: dict[tuple[str, str], str] = {
    ("completion", "Episodes"): "episodes", ("completion", "Still in treatment"): "in_treatment",
    ("completion", "Discharged"): "discharged", ("completion", "Transferred"): "transferred",
    ("completion", "Completed"): "completed", ("overview_key_figures", "Episodes"): "episodes",
    ("length_of_stay", "Discharged"): "discharged", ("hours", "Episodes with hours"): "with_hours",
    ("step_down", "Discharges"): "step_discharges", ("step_down", "Stepped down within 30 days"): "step_downs",
    ("relapse_by_horizon", "People"): "people", ("median_from", "People"): "people", ("rmst_from", "People"): "people",
}


def facts_from_pages(pages: Iterable[Page], origin_of: dict[str, str]) -> Facts:
    f = Facts()
    for p in pages:
        o = origin_of[p.setting]
        s = p.setting
        for name, frame in p.csvs.items():
            if name == "cmp_at_risk" and not frame.empty and "Group" in frame.columns:
                for _, row in frame.iterrows():  # the adjusted curves' people at risk after the day
                    f.put((s, "at_risk_after", row["Group"], (o, int(float(row["Day"])))),
                          number(row["At risk after the day"]))
            if name == "cmp_windows" and not frame.empty:  # relapses per window and people entering it, per group
                for col in frame.columns:
                    if not col.startswith("Relapses, "):
                        continue
                    grp = col.removeprefix("Relapses, ")
                    for _, row in frame.iterrows():
                        lo, hi = int(float(row["From day"])), int(float(row["To day"]))
                        ev, ar = number(row[col]), number(row[f"At risk at the start, {grp}"])
                        if lo == 0:
                            f.put((s, "relapsed_by", grp, (o, hi)), ev)
                            f.put((s, "people", grp, o), ar)
                        else:
                            f.put((s, "window_events", grp, (o, lo, hi)), ev)
                            f.put((s, "at_risk_after", grp, (o, lo)), ar)
            g = _group_col(frame)
            if g is None or frame.empty:
                continue
            for _, row in frame.iterrows():
                grp = row[g]
                for (prefix, header), q in _COUNT_COLUMNS.items():
                    if name.startswith(prefix) and header in frame.columns:
                        origin = o if q == "people" else ""
                        f.put((s, q, grp, origin), number(row[header]))
                if name == "discharge_reasons":
                    f.put((s, "reason", grp, row["Discharge reason"]), number(row["Episodes"]))
                    f.put((s, "discharged", grp, ""), number(row["Discharged in group"]))
                    f.rate((s, "reason_share", grp, row["Discharge reason"]), number(row["Share"]))
                if name == "completion":
                    f.rate((s, "completion_rate", grp, ""), number(row["Completion rate"]))
                    f.rate((s, "completion_all", grp, ""), number(row["Completion, all discharges (TEDS)"]))
                if name == "length_of_stay":
                    for d in (30, 90):
                        f.rate((s, "los_share", grp, d), number(row[f"> {d} days"]))
                if name == "hours":
                    f.rate((s, "meeting_share", grp, ""), number(row.get("Scheduled at ASAM minimum")))
                if name == "step_down":
                    f.rate((s, "step_rate", grp, ""), number(row["Step-down rate"]))
                if name.startswith("at_risk_from"):
                    o2 = name.removeprefix("at_risk_from_")
                    d = int(float(row["Day"]))
                    f.put((s, "at_risk_after", grp, (o2, d)), number(row["At risk after the day"]))
                    f.put((s, "relapsed_by", grp, (o2, d)), number(row["Relapsed by the day"]))
                    f.put((s, "censored_by", grp, (o2, d)), number(row["Censored by the day"]))
                if name == "relapse_by_horizon":
                    h = int(float(row["Horizon (days)"]))
                    f.put((s, "eligible", grp, (o, h)), number(row["Horizon passed"]))
                    f.put((s, "reached", grp, (o, h)), number(row["Reached"]))
                    f.rate((s, "reach", grp, (o, h)), number(row["Reach"]))
                    f.rate((s, "naive", grp, (o, h)), number(row["Naive (among reached)"]))
                if name == "retention_days":
                    d = int(float(row["Day"]))
                    f.put((s, "enrolled_after", grp, d), number(row["Still enrolled after the day"]))
                if name == "trends":  # quarterly trends: discharges (and people followed) per quarter
                    q, m = row["Quarter"], str(row["Measure"])
                    g2 = "*" if grp == "Whole program" else grp
                    if m.startswith("Relapse"):
                        f.put((s, "q_followed", g2, q), number(row["Discharges"]))
                    else:
                        f.put((s, "q_discharged", g2, q), number(row["Discharges"]))
                        if m.startswith("Completion"):
                            f.rate((s, "q_completion", g2, q), number(row["Estimate"]))
                if name == "naive_comparison":
                    col = next(c for c in frame.columns if c.startswith("People followed from"))
                    f.put((s, "people", grp, o), number(row[col]))
            if name == "case_mix" and not frame.empty:  # shares among the people followed of each group
                for col in frame.columns:
                    if col.endswith(" (mean or share)"):
                        grp = col.removesuffix(" (mean or share)")
                        for _, row in frame.iterrows():
                            f.rate((s, "casemix_share", grp, (row["Characteristic"], row["Level"])), number(row[col]))
        for label, value in p.metrics:
            if label == "Episodes":
                f.put((s, "episodes", "*", ""), number(value))
    return f


def facts_from_json(f: Facts, setting: str, payload: dict, label) -> None:
    """The JSON's counts, under the same names as the app's (``label`` turns a group code into its label)."""
    o = payload["origin"]
    f.put((setting, "episodes", "*", ""), payload.get("n_episodes") if payload.get("n_episodes") is not None else HIDDEN)
    for g in payload["groups"]:
        grp = label(g["group"])
        f.put((setting, "people", grp, o), g["n"] if g["n"] is not None else HIDDEN)
        f.put((setting, "events_total", grp, o), g["events"] if g["events"] is not None else HIDDEN)
        for srow in g["survival"]:
            key = (o, srow["day"])
            for q, k in (("at_risk_after", "at_risk"), ("relapsed_by", "events"), ("censored_by", "censored")):
                f.put((setting, q, grp, key), srow[k] if srow[k] is not None else HIDDEN)
        for r in g["relapse"]:
            key = (o, r["horizon_days"])
            for q, k in (("eligible", "n_eligible"), ("reached", "n_reached"), ("relapsed_eligible", "n_relapsed")):
                f.put((setting, q, grp, key), r[k] if r[k] is not None else HIDDEN)
            if r["reach"] is not None:
                f.rate((setting, "reach", grp, key), float(r["reach"]))
            if r["naive_rate"] is not None:
                f.rate((setting, "naive", grp, key), float(r["naive_rate"]))


def facts_from_compare_json(f: Facts, setting: str, payload: dict, label) -> None:
    """The counts of ``python -m analysis compare --json`` under the app's names (people, at risk after a day,
    relapses by a day / in a window), and the score histogram's bins and the people outside the support."""
    o = payload["origin"]
    unit = payload["time_unit"][:-1]
    for g, n in payload["n"].items():
        f.put((setting, "people", label(g), o), n if n is not None else HIDDEN)
    for r in payload["weighted_survival"]:
        f.put((setting, "at_risk_after", label(r["group"]), (o, r[unit])),
              r["at_risk"] if r["at_risk"] is not None else HIDDEN)
    for w in payload["window_hr"]:
        lo, hi = w[f"from_{unit}"], w[f"to_{unit}"]
        for g, ev in w["events"].items():
            key = (setting, "relapsed_by", label(g), (o, hi)) if lo == 0 else (setting, "window_events", label(g),
                                                                                (o, lo, hi))
            f.put(key, ev if ev is not None else HIDDEN)
        for g, ar in w["at_risk"].items():
            key = (setting, "people", label(g), o) if lo == 0 else (setting, "at_risk_after", label(g), (o, lo))
            f.put(key, ar if ar is not None else HIDDEN)
    p = payload["propensity"]
    for g, n in p["outside_support_by_group"].items():
        f.put((setting, "outside_support", label(g), o), n if n is not None else HIDDEN)
    for h in p["histogram"]:
        f.put((setting, "score_bin", label(h["group"]), (o, h["bin_lower"])), h["n"] if h["n"] is not None else HIDDEN)


# ------------------------------------------------------------------------------------------ attack
@dataclass
class Claim:
    route: str
    what: str
    value: float
    truth: float | None = None

    @property
    def small(self) -> bool:
        v = round(self.value)
        return abs(self.value - v) < 0.02 and 1 <= v <= 10


class Attacker:
    """Runs every route over the facts, the raw pages and the JSON; ``leaks`` are claims of 1-10 people."""

    def __init__(self, facts: Facts, pages: list[Page], truth=None, payloads: dict | None = None):
        self.f = facts
        self.pages = pages
        self.payloads = payloads or {}
        self.truth = truth  # callable(kind, **info) -> true count or None
        self.tried = 0
        self.claims: list[Claim] = []

    # -- helpers
    def _val(self, key):
        v = self.f.counts.get(key)
        return v if isinstance(v, float) else None

    def claim(self, route: str, what: str, value: float, truth: float | None = None, *, approx: bool = False) -> None:
        """Record one combination; a leak if it is 1-10 (approximate routes: and equal to the true count)."""
        self.tried += 1
        if value is None or value != value:
            return
        c = Claim(route, what, float(value), truth)
        if approx and (truth is None or round(truth) != round(value) or abs(value - round(value)) > 0.5):
            return
        if (approx and 1 <= round(value) <= 10) or c.small:
            self.claims.append(c)

    # -- routes
    def direct(self) -> None:
        """Counts shown as 1-10 in tables, CSV, metrics, texts, chart data, JSON facts."""
        for key, v in self.f.counts.items():
            if isinstance(v, float):
                self.claim("shown", str(key), v)
        for p in self.pages:
            for t in p.texts:
                for m in _COUNT_TEXT.finditer(t):
                    self.claim("text", f"{p.setting}/{p.page}: {t[:60]}", float(m.group(1).replace(",", "")))
            for name, lines in p.csv_headers.items():
                for ln in lines:
                    for m in re.finditer(r"(\d[\d,]*) (?:used|excluded)", ln):
                        self.claim("csv header", f"{p.setting}/{name}: {ln}", float(m.group(1).replace(",", "")))
            for fig in p.figures:
                for tr in fig.get("data", []):
                    where = f"{p.setting}/{p.page}/{tr.get('name')}"
                    if tr.get("type") == "sankey":
                        for v in tr.get("link", {}).get("value", []) or []:
                            self.claim("sankey", where, float(v))
                    texts = tr.get("text") if isinstance(tr.get("text"), list) else []
                    if str(tr.get("name", "")).endswith("at risk"):
                        for item in texts:
                            for m in re.finditer(r"\d[\d,]*", str(item)):
                                self.claim("chart text", where, float(m.group().replace(",", "")))
                    for row in tr.get("customdata", []) or []:
                        for item in row if isinstance(row, list) else [row]:
                            if isinstance(item, str) and re.fullmatch(r"\d[\d,]*", item.strip()):  # count texts
                                self.claim("chart hover", where, float(item.replace(",", "")))
                    if tr.get("mode") in ("lines", "markers") and tr.get("customdata"):
                        for row in tr["customdata"]:  # KM and horizon charts carry the number at risk third
                            if isinstance(row, list) and len(row) >= 3 and isinstance(row[2], (int, float)):
                                self.claim("chart at risk", where, float(row[2]))

    def _relations(self):
        """Sum relations over fact keys (total, parts), per setting and group, from the definitions."""
        by = defaultdict(dict)
        for key, _v in self.f.counts.items():
            s, q, g, quals = key
            by[(s, g)][(q, quals)] = key
        for (s, g), have in by.items():
            yield (s, "episodes", g, ""), [(s, "in_treatment", g, ""), (s, "discharged", g, "")]
            reasons = [k for (q, _), k in have.items() if q == "reason"]
            if reasons:
                yield (s, "discharged", g, ""), reasons
            for (q, quals), k in have.items():
                if q == "window_events":
                    o, lo, hi = quals
                    yield (s, "relapsed_by", g, (o, hi)), [(s, "relapsed_by", g, (o, lo)), k]
                if q == "at_risk_after":
                    people = (s, "people", g, quals[0])
                    yield people, [k, (s, "relapsed_by", g, quals), (s, "censored_by", g, quals)]
            # quarters: a group's discharges (people followed from discharge) are the sum of its quarters'; the
            # people followed of a quarter are among its discharges (the rest were not followed)
            for q, total in (("q_discharged", (s, "discharged", g, "")), ("q_followed", (s, "people", g, "discharge"))):
                parts = [k for (qq, _), k in have.items() if qq == q]
                if parts:
                    yield total, parts
            for (q, quarter), k in have.items():
                if q == "q_discharged":
                    yield k, [(s, "q_followed", g, quarter), (s, "q_not_followed", g, quarter)]
        # whole program = sum of groups (groups of the level-of-care column)
        settings = {k[0] for k in self.f.counts}
        for s in settings:
            for q in ("episodes", "in_treatment", "discharged"):
                parts = [k for k in self.f.counts if k[0] == s and k[1] == q and k[2] not in ("*",)
                         and not isinstance(k[2], tuple)]
                if parts:
                    yield (s, q, "*", ""), parts
            for q in ("q_discharged", "q_followed"):  # a quarter's whole program = the sum of its groups
                quarters = {k[3] for k in self.f.counts if k[0] == s and k[1] == q}
                for quarter in quarters:
                    parts = [k for k in self.f.counts if k[0] == s and k[1] == q and k[3] == quarter and k[2] != "*"]
                    if parts:
                        yield (s, q, "*", quarter), parts

    def solve(self) -> None:
        """Totals minus parts, to a fixed point (each newly derived count is a claim)."""
        rels = list(self._relations())
        changed = True
        while changed:
            changed = False
            for total, parts in rels:
                keys = [total, *parts]
                vals = [self._val(k) for k in keys]
                unknown = [k for k, v in zip(keys, vals, strict=True) if v is None and k in self.f.counts]
                missing = [k for k, v in zip(keys, vals, strict=True) if v is None and k not in self.f.counts]
                self.tried += 1
                if len(unknown) == 1 and not missing:
                    known = {k: v for k, v in zip(keys, vals, strict=True) if v is not None}
                    if unknown[0] == total:
                        value = sum(known[k] for k in parts)
                    else:
                        value = known[total] - sum(known[k] for k in parts if k != unknown[0])
                    self.f.counts[unknown[0]] = value
                    self.claim("total minus parts", str(unknown[0]), value)
                    changed = True
                elif not unknown and len(missing) == 0:
                    continue
                elif not unknown and len(missing) == 1:  # a part no table shows: the remainder
                    known = {k: v for k, v in zip(keys, vals, strict=True) if v is not None}
                    m = missing[0]
                    value = sum(known[k] for k in parts) if m == total else known[total] - sum(
                        known[k] for k in parts if k != m)
                    self.claim("remainder", str(m), value)

    def rates(self) -> None:
        """A rate times its base, a count over its rate: integers consistent with the precision shown."""
        def solve_numerator(rate, base, what):
            if rate is None or base is None:
                return
            lo, hi = (rate - 5e-5) * base, (rate + 5e-5) * base
            ints = [k for k in range(math.ceil(lo), math.floor(hi) + 1)]
            self.tried += 1
            if len(ints) == 1:
                self.claim("rate x base", what, float(ints[0]))
                self.claim("rate x base (complement)", what + " complement", base - ints[0])

        for key, r in self.f.rates.items():
            s, q, g, quals = key
            if q == "reason_share":
                solve_numerator(r, self._val((s, "discharged", g, "")), f"{key}")
            elif q == "completion_all":
                solve_numerator(r, self._val((s, "discharged", g, "")), f"{key}")
            elif q == "q_completion":
                solve_numerator(r, self._val((s, "q_discharged", g, quals)), f"{key}")
            elif q == "los_share":
                solve_numerator(r, self._val((s, "discharged", g, "")), f"{key}")
            elif q == "meeting_share":
                solve_numerator(r, self._val((s, "with_hours", g, "")), f"{key}")
            elif q == "step_rate":
                solve_numerator(r, self._val((s, "step_discharges", g, "")), f"{key}")
            elif q == "reach":
                solve_numerator(r, self._val((s, "eligible", g, quals)), f"{key} reached")
            elif q == "naive":
                solve_numerator(r, self._val((s, "reached", g, quals)), f"{key} relapsed")
            elif q == "casemix_share":
                origin = next((k[3] for k in self.f.counts if k[0] == s and k[1] == "people" and k[2] == g), None)
                solve_numerator(r, self._val((s, "people", g, origin)) if origin else None, f"{key}")
            elif q == "completion_rate":
                c, d, t = (self._val((s, k, g, "")) for k in ("completed", "discharged", "transferred"))
                if c is not None and r:
                    lo, hi = c / (r + 5e-5), c / max(r - 5e-5, 1e-12)
                    ints = list(range(math.ceil(lo), math.floor(hi) + 1))
                    self.tried += 1
                    if len(ints) == 1 and d is not None:
                        self.claim("count over rate", f"{key} transferred", d - ints[0])

    def consecutive(self) -> None:
        """Cumulative counts at consecutive days / horizons; at risk between days."""
        series = defaultdict(list)
        for key, v in self.f.counts.items():
            s, q, g, quals = key
            if q in ("relapsed_by", "censored_by", "at_risk_after", "eligible", "enrolled_after") and isinstance(v, float):
                origin, day = (quals if isinstance(quals, tuple) else ("", quals))
                series[(s, q, g, origin)].append((day, v))
        for key, pts in series.items():
            pts.sort()
            for (d1, v1), (d2, v2) in zip(pts, pts[1:], strict=False):
                self.claim("consecutive days", f"{key} {d1}->{d2}", abs(v2 - v1))
            s, q, g, origin = key
            if q == "eligible":  # people followed minus those whose horizon has passed
                people = self._val((s, "people", g, origin))
                if people is not None:
                    self.claim("people minus horizon passed", str(key), people - pts[0][1])
        for key, v in self.f.counts.items():
            s, q, g, quals = key
            if q == "reached" and isinstance(v, float):
                el = self._val((s, "eligible", g, quals))
                if el is not None:
                    self.claim("horizon passed minus reached", str(key), el - v)

    def origins(self, pairs: list[tuple[str, str]]) -> None:
        """People followed from admission minus people followed from discharge (= still in treatment + ...),
        in one setting and across the two settings that differ by the origin only."""
        for s_discharge, s_admission in [*pairs, *[(s, s) for s in {k[0] for k in self.f.counts}]]:
            for key, v in list(self.f.counts.items()):
                s, q, g, o = key
                if s == s_admission and q == "people" and o == "admission" and isinstance(v, float):
                    other = self._val((s_discharge, "people", g, "discharge"))
                    if other is not None:
                        self.claim("two origins", f"{key} vs {s_discharge}", v - other)

    def filters(self, pairs: list[tuple[str, str]]) -> None:
        """The same count under two settings one step apart."""
        for wide, narrow in pairs:
            for key, v in self.f.counts.items():
                if key[0] != narrow or not isinstance(v, float):
                    continue
                other = self._val((wide, *key[1:]))
                if other is not None:
                    self.claim("two filter settings", f"{key} vs {wide}", other - v)

    def curves(self) -> None:
        """KM traces: at risk times the step (relapses between corners) and at risk between corners."""
        for p in self.pages:
            for fig in p.figures:
                for tr in fig.get("data", []):
                    cd = tr.get("customdata")
                    x, y = tr.get("x"), tr.get("y")
                    if not (cd and x and y) or tr.get("mode") != "lines" or not isinstance(cd[0], list) or len(cd[0]) < 3:
                        continue
                    pts = [(float(a), float(b), float(c[2])) for a, b, c in zip(x, y, cd, strict=False)
                           if b is not None and c[2] is not None and not isinstance(c[2], str)]
                    for (t1, y1, n1), (t2, y2, n2) in zip(pts, pts[1:], strict=False):
                        if y2 == y1 and n2 == n1:
                            continue
                        self.claim("at risk between corners", f"{p.setting}/{p.page}/{tr.get('name')} {t1}-{t2}", n1 - n2)
                        s1 = 1 - y1
                        if s1 > 0:
                            est = n1 * (1 - (1 - y2) / s1)
                            truth = self.truth("events_between", setting=p.setting, page=p.page, trace=tr.get("name"),
                                               start=t1, end=t2) if self.truth and est < 10.6 else None
                            self.claim("step x at risk", f"{p.setting}/{p.page}/{tr.get('name')} {t1}-{t2}", est,
                                       truth, approx=True)

    def histograms(self) -> None:
        """Score histograms: people of a group minus its shown bins (the hidden bins together), from the overlap
        chart's bars and from the JSON's bins; every bar shown."""
        for p in self.pages:
            if p.page != "iop_vs_residential":
                continue
            origin = next((k[3] for k in self.f.counts if k[0] == p.setting and k[1] == "people"), None)
            for fig in p.figures:
                for tr in fig.get("data", []):
                    if tr.get("type") != "bar" or not isinstance(tr.get("y"), list):
                        continue
                    ys = [abs(float(v)) for v in tr["y"] if v is not None]
                    for v in ys:
                        self.claim("histogram bar", f"{p.setting}/{tr.get('name')}", v)
                    people = self._val((p.setting, "people", tr.get("name"), origin))
                    if people is not None:
                        self.claim("people minus shown bins", f"{p.setting}/{tr.get('name')}", people - sum(ys))
        bins = defaultdict(list)
        for (s, q, g, quals), v in self.f.counts.items():
            if q == "score_bin":
                bins[(s, g, quals[0])].append(v)
        for (s, g, o), vals in bins.items():
            people = self._val((s, "people", g, o))
            shown = [v for v in vals if isinstance(v, float)]
            if people is not None and len(shown) < len(vals):
                self.claim("people minus shown bins", f"{s}/json {g}", people - sum(shown))
            out = self._val((s, "outside_support", g, o))
            if out is not None and people is not None:
                self.claim("people minus outside support", f"{s}/json {g}", people - out)

    def intervals(self) -> None:
        """1 / SE^2 of every hazard ratio shown with its interval (CSV and JSON)."""
        for p in self.pages:
            for name, frame in p.csvs.items():
                if not name.startswith("cox_terms") or frame.empty:
                    continue
                for _, row in frame.iterrows():
                    lo, hi = number(row.get("95% CI lower")), number(row.get("95% CI upper"))
                    if isinstance(lo, float) and isinstance(hi, float) and lo > 0 and hi > lo:
                        se = math.log(hi / lo) / (2 * 1.959964)
                        est = 1 / se ** 2
                        truth = self.truth("term_events", setting=p.setting, term=row.get("Term")) if (
                            self.truth and est < 10.6) else None
                        self.claim("interval width", f"{p.setting}/{name} {row.get('Term')}", est, truth, approx=True)
        for setting, payload in self.payloads.items():
            for t in (payload.get("cox") or {}).get("terms", []):
                if t["lower"] and t["upper"] and t["upper"] > t["lower"] > 0:
                    est = 1 / (math.log(t["upper"] / t["lower"]) / (2 * 1.959964)) ** 2
                    truth = self.truth("term_events", setting=setting, term=t["term"]) if (
                        self.truth and est < 10.6) else None
                    self.claim("interval width", f"{setting}/json {t['term']}", est, truth, approx=True)

    def run(self, filter_pairs: list[tuple[str, str]], origin_pairs: list[tuple[str, str]] = ()) -> list[Claim]:
        self.direct()
        self.solve()
        self.rates()
        self.solve()
        self.consecutive()
        self.origins(list(origin_pairs))
        self.filters(filter_pairs)
        self.curves()
        self.histograms()
        self.intervals()
        return self.claims
