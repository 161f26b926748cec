"""Data: sample or upload, column mapping with reasons, column roles and types, time unit, validation report."""
import pandas as pd
import streamlit as st

from analysis.columns import TYPES, columns_frame
from analysis.export import to_csv_bytes
from analysis.mapping import FIELD_LABELS, MappingSpec, guess_grouping, spec_from_json, spec_to_json
from analysis.schema import FIELDS
from analysis.validation import TIME_UNITS
from ui.data_source import render_source, source_labels
from ui.state import context, load_dataset, sample_dataset, sample_path, set_dataset
from ui.text import md
from ui.widgets import details, page_guard

st.title("Data")
ctx = context()
ds = ctx.dataset
ss = st.session_state

NOT_MAPPED = "(not in file)"
GUESSED = "(as guessed: 1 / yes / true)"
DATE_ORDER_LABELS = {None: "(told from the values)", "dmy": "day first (DD/MM/YYYY)", "mdy": "month first (MM/DD/YYYY)"}
FORMATS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "parquet": "application/octet-stream"}
_LEAVE_WARNING = """<script>
window.parent.addEventListener("beforeunload", function (e) { e.preventDefault(); e.returnValue = ""; });
</script>"""


def _reload(upload: dict | None, spec: MappingSpec) -> None:
    """Load the session's upload (or the sample) again with a new mapping spec, then redraw."""
    options = dict(column_types=spec.types or None, time_unit=spec.time_unit, event_value=spec.event_value,
                   date_order=spec.date_order)
    if upload is not None:
        upload["spec"] = spec
        ss.setdefault("_specs_by_columns", {})[upload["columns"]] = spec  # reused for a file with these columns
        set_dataset(load_dataset(upload["data"], upload["name"], spec.columns, is_sample=False, by=spec.by,
                                 drop_columns=tuple(upload.get("drop", ())),
                                 keep_columns=tuple(upload.get("keep", ())), **options))
    else:
        p = sample_path()
        set_dataset(load_dataset(p.read_bytes(), p.name, spec.columns, is_sample=True, **options))
    if spec.by:
        ss["_pending_by"] = spec.by  # the sidebar picks it up before drawing its widget
    st.rerun()


def _new_upload(data: bytes, name: str) -> None:
    """A new file: load it with fresh guesses, or with the mapping chosen for a file with the same columns."""
    first = load_dataset(data, name, None, is_sample=False)
    columns = tuple(map(str, first.result.raw.columns)) if first.result.raw is not None else ()
    upload = {"name": name, "size": len(data), "data": data, "columns": columns, "spec": None}
    ss["upload"] = upload
    remembered = ss.get("_specs_by_columns", {}).get(columns)
    if remembered is not None and columns:
        ss["_remembered"] = name
        _reload(upload, remembered)
    ss.pop("_remembered", None)
    raw = first.result.raw
    grouping = None if first.result.ok or raw is None else guess_grouping(raw, first.result.mapping)
    if grouping is not None:  # a trial's file has no level of care: grouped by its arm at once (another can be chosen)
        ss["_guessed_by"] = (name, *grouping)
        _reload(upload, MappingSpec(columns={}, by=grouping[0]))
    set_dataset(first)
    st.rerun()


def _first_rows(ds) -> pd.DataFrame:
    """The episode table's first rows: the upload's, or a server-side source's from its engine (every column)."""
    if ds.result.episodes is not None or ds.engine is None:
        return ds.result.episodes if ds.result.episodes is not None else ds.cohort
    from ui.compute import engine_lock

    with engine_lock(ds):
        return ds.engine.preview(20)


def _preview(frame: pd.DataFrame) -> pd.DataFrame:
    """The first rows with spreadsheet row numbers (header = row 1) and dates shown as dates."""
    out = frame.head(20).copy()
    out.attrs = {}
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.date
    out.index = pd.Index(out.index + 2, name="Row")
    return out


with page_guard("The data page"):
    st.markdown("Continuum analyses **de-identified treatment episodes**, one row per episode. "
                "An uploaded file stays in this browser session's memory only: it is never written to disk "
                "and is gone when the session ends (reloading the page loses it).")
    served = source_labels()  # (engine) a --data source and the databases of .streamlit/secrets.toml
    options = ["Bundled sample cohort", "Upload a file", *served]
    choice = st.radio("Dataset", options, key="data_source", horizontal=True,
                      index=0 if ds.is_sample else options.index(ss.get("_served", served[0] if served and
                                                                          ds.key.startswith("server|") else
                                                                          "Upload a file")))
    if choice in served:
        opened = render_source(choice)
        if opened is not None and opened.key != ds.key:
            ss["_served"] = choice
            ss.pop("upload", None)
            set_dataset(opened)
            st.rerun()
    elif choice == "Bundled sample cohort":
        if not ds.is_sample:
            set_dataset(sample_dataset())
            ss.pop("upload", None)
            ss.pop("_served", None)
            st.rerun()
        st.caption(f"Synthetic sample: {sample_dataset().result.report.n_rows_read:,} episodes, "
                   "generated by `python -m analysis sample` (no real person).")
    else:
        up = st.file_uploader("Episode file (CSV, Excel .xlsx or Parquet)", type=list(FORMATS), key="episodes")
        if up is not None:
            data = up.getvalue()
            if ss.get("upload", {}).get("name") != up.name or ss.get("upload", {}).get("size") != len(data):
                _new_upload(data, up.name)
        elif not ds.is_sample:
            st.caption(f"Loaded: {md(ds.label)}. Upload another file to replace it.")
        else:
            st.info("Choose a file to analyse. Until then the pages show the sample cohort.")
    if not ds.is_sample:
        st.iframe(_LEAVE_WARNING, height=1)  # the browser asks before a reload loses the upload
        if ss.get("_remembered") and ss.get("_remembered") == ss.get("upload", {}).get("name"):
            st.caption("The mapping chosen earlier in this session for a file with the same columns was applied.")
        guessed = ss.get("_guessed_by")
        if guessed and guessed[0] == ss.get("upload", {}).get("name") and ds.result.by == guessed[1]:
            st.info(f"Grouped by **{md(guessed[1])}**: {md(guessed[2])}. Choose another column under "
                    "*Group episodes by* below.")

    result = ds.result
    rep = result.report
    token = (ds.content_hash or "sample")[:8]
    ss["_map_token"] = token
    # ---------------------------------------------------------------- identifier refusal / fatal
    if rep.fatal:
        st.error(f"File rejected: {md(rep.fatal)}")  # the identifier guard's refusal names the column(s)
    upload = ss.get("upload") if not ds.is_sample else None
    if upload is not None and result.identifiers:  # (h12a) drop the refused column(s) and go on
        refused = list(dict.fromkeys(f.column for f in result.identifiers))
        if st.button(f"Drop {md(', '.join(repr(c) for c in refused))} and load again", key="drop_identifiers"):
            upload["drop"] = [*upload.get("drop", []), *refused]
            _reload(upload, upload.get("spec") or MappingSpec({}))
    left_out = list(result.screen.free_text) if result.screen is not None else []
    if upload is not None and (left_out or upload.get("keep")):  # (h12a) free text is left out unless kept
        kept = list(upload.get("keep", []))
        keep = st.multiselect("Keep free-text columns (left out by default: free text can name people)",
                              left_out + kept, default=kept, key="keep_free_text")
        if sorted(keep) != sorted(kept):
            upload["keep"] = keep
            _reload(upload, upload.get("spec") or result.spec())

    # ---------------------------------------------------------------- mapping editor
    if result.raw is not None:
        st.subheader("Column mapping")
        st.caption("Which column of the file holds each field Continuum understands. The guesses come from the "
                   "column names, checked against the content (the reasons are listed below). To unmap a field "
                   f"that was guessed wrongly, choose **{NOT_MAPPED}** (on the command line: `--map FIELD=`).")
        file_cols = [str(c) for c in result.raw.columns]
        current = dict(result.mapping)
        infos = {i.source: i for i in result.columns}
        with st.form("mapping_form"):
            cols = st.columns(3)
            chosen = {}
            opts = [NOT_MAPPED, *file_cols]
            for i, f in enumerate(FIELDS):
                default = current.get(f.name, NOT_MAPPED)
                chosen[f.name] = cols[i % 3].selectbox(
                    FIELD_LABELS.get(f.name, f.name), opts, index=opts.index(default) if default in opts else 0,
                    key=f"map_{f.name}_{token}", help=f"{f.name}: {f.description}")
            c1, c2, c3 = st.columns(3)
            units = list(TIME_UNITS)
            unit = c1.selectbox("Durations are in", units, index=units.index(result.time_unit),
                                key=f"map_time_unit_{token}",
                                help="Unit of the time to relapse and length of stay in the file. Results are "
                                     "reported in it.")
            relapse_col = current.get("relapsed")
            values = ([] if relapse_col is None else
                      sorted(result.raw[relapse_col].dropna().astype(str).str.strip().unique().tolist())[:10])
            event_opts = [GUESSED, *values]
            now = result.event_value if result.event_value in values else GUESSED
            event = c2.selectbox("Value that means a relapse", event_opts, index=event_opts.index(now),
                                 key=f"map_event_{token}",
                                 help="Flip it when 1 means censored (e.g. a CENSOR column), or for a status "
                                      "coded 1/2.")
            group_opts = ["level_of_care", *[c for c in file_cols if c not in current.values()]]
            prev_by = result.by or "level_of_care"
            group_by = c3.selectbox(
                "Group episodes by", group_opts, index=group_opts.index(prev_by) if prev_by in group_opts else 0,
                key=f"map_group_by_{token}",
                help="Level of care by default. A file without a level of care can be analysed by another "
                     "column instead, such as a study arm or a site.")
            orders = list(DATE_ORDER_LABELS)
            date_order = c1.selectbox(
                "Dates written as", orders, format_func=DATE_ORDER_LABELS.get,
                index=orders.index(result.date_order), key=f"map_date_order_{token}",
                help="For dates like 03/04/2023. Told from the values by default (14/03/2023 can only be day "
                     "first); the validation report says which order was used.")
            st.markdown("**How each column is read** (change a type to override what its content suggests)")
            table = columns_frame(result.columns)
            table["used_as"] = table["used_as"].map(lambda v: FIELD_LABELS.get(v, v) if isinstance(v, str) else v)
            edited = st.data_editor(
                table, key=f"types_{token}", hide_index=True, disabled=["column", "used_as", "role", "levels",
                                                                        "missing", "why"],
                column_config={"type": st.column_config.SelectboxColumn("Type", options=list(TYPES),
                                                                        required=True),
                               "column": "Column in the file", "used_as": "Used as", "role": "Role",
                               "levels": "Values", "missing": "Missing", "why": "Why this type"})
            submitted = st.form_submit_button("Apply mapping", type="primary")
        if submitted:
            mapping = {k: (v if v != NOT_MAPPED else "") for k, v in chosen.items()}  # "" unmaps the field
            types = dict(result.column_types)
            for r in edited.itertuples():
                info = infos.get(r.column)
                if info is not None and info.role != "canonical" and (r.type != info.type or r.column in types):
                    types[r.column] = r.type
            src = ss.get("upload") if not ds.is_sample else None
            _reload(src, MappingSpec(mapping, types, unit, None if event == GUESSED else event,
                                     None if group_by == "level_of_care" else group_by, date_order))
        with st.expander("Why each column was guessed (and guesses not made)"):
            for g in result.guesses:
                st.markdown(("- " if g.made else "- *not guessed:* ") + f"**{g.field}** ← `{g.column}`: {g.reason}")
        d1, d2 = st.columns(2)
        d1.download_button("Download this mapping (JSON: columns, types, unit, relapse value)",
                           spec_to_json(result.spec()), file_name="continuum_mapping.json",
                           mime="application/json", key="dl_mapping")
        saved = d2.file_uploader("Upload a saved mapping (JSON)", type=["json"], key="mapping_json")
        if saved is not None and ss.get("_mapping_applied") != saved.file_id:
            ss["_mapping_applied"] = saved.file_id
            spec = spec_from_json(saved.getvalue())
            _reload(ss.get("upload") if not ds.is_sample else None, spec)

    # ---------------------------------------------------------------- validation report
    st.subheader("Validation report")
    m1, m2, m3 = st.columns(3)
    m1.metric("Rows read", f"{rep.n_rows_read:,}")
    if rep.fatal:
        m2.metric("File", "rejected")
        m3.metric("Rows that can be analysed", "none")
    else:
        m2.metric("Rows accepted", f"{rep.n_rows_accepted:,}")
        m3.metric("Rows excluded", f"{rep.n_rows_excluded:,}")
    if rep.n_rows_excluded == 0 and not rep.fatal:
        st.success("Every row passed validation." + (f" Durations read in {result.time_unit}."
                                                      if rep.shape == "durations" else ""))
    by_reason = rep.excluded_by_reason()
    if len(by_reason):
        st.markdown("**Excluded rows by reason**")
        st.dataframe(by_reason.rename(columns={"rule": "Reason", "rows": "Rows", "description": "What it means"}),
                     hide_index=True, key="tbl_excluded")
    by_col = rep.problems_by_column()
    if len(by_col):
        st.markdown("**Problems by column** (errors exclude a row; warnings are recorded only)")
        st.dataframe(by_col.rename(columns={"column": "Column", "rule": "Rule", "severity": "Severity",
                                            "rows": "Rows"}), hide_index=True, key="tbl_problems")
    if rep.n_rows_excluded:
        st.download_button("Download the problem rows (CSV)", to_csv_bytes(result.problem_rows(), ctx.provenance()),
                           file_name="continuum_problem_rows.csv", mime="text/csv", key="dl_problem_rows")
    ul = rep.unknown_labels
    if ul is not None and len(ul):
        st.markdown("**Labels that could not be placed** (shown as text, as found in the file)")
        st.dataframe(ul, hide_index=True, key="tbl_unknown")
    for note in rep.notes:
        st.info(md(note))

    # ---------------------------------------------------------------- preview & dictionary
    if ds.cohort is not None:
        with details("First rows of the episode table (row = spreadsheet row, header = row 1)", "preview") as is_open:
            if is_open:
                st.dataframe(_preview(_first_rows(ds)), key="tbl_preview")
    st.subheader("Data dictionary")
    st.dataframe(pd.DataFrame({"Field": [f.name for f in FIELDS],
                               "Label": [FIELD_LABELS.get(f.name, f.name) for f in FIELDS],
                               "Kind": [f.kind for f in FIELDS], "Unit": [f.unit for f in FIELDS],
                               "Meaning": [f.description for f in FIELDS]}),
                 hide_index=True, key="tbl_dictionary")
    st.caption("Files come either date-shaped (admission, discharge, relapse, last contact and optional death "
               "dates) or duration-shaped (length of stay, time to relapse with a relapse flag, counted from "
               "admission, in days, weeks, months or years).")
