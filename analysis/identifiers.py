"""Identifier guard: refuse files that carry direct identifiers (domain.md section 5.5).

Every cell of every text column is looked at (on its distinct values, so a million rows cost
little more than the distinct labels in them): an e-mail, phone number, SSN, street address or
PO box, medical record number, date of birth, ZIP+4, IP address or a person's name **anywhere in
a cell, in any share of the rows** refuses the file. A column is also refused by its **name**
(``SS#``, ``tax_id``, ``telefono``, ``MR#``, ``hospital_id``, ``dob``, ``zip`` ...) unless it
only holds yes/no flags (``email_consent``, ``phone_followup``, ``cell``) or is empty.

What passes: pseudonymous and hashed ids, study ids such as ``001-002-0003``, sequential numeric
ids (a dense run of 9- or 10-digit numbers is a counter, not SSNs or phone numbers), category
labels that repeat (sites, referral sources).

The refusal names the column, what it holds and in how many rows; :func:`screen_columns` then
lets the user drop the column and go on, and leaves out unmapped free-text columns (which can name
people in ways no pattern finds) unless the user keeps them.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.identifier_content import (
    KIND_ADDRESS,
    KIND_DOB,
    KIND_EMAIL,
    KIND_IP,
    KIND_MRN,
    KIND_NAME,
    KIND_PHONE,
    KIND_SSN,
    KIND_ZIP,
    KINDS,
    WEAK_KINDS,
    scan_integers,
    scan_text,
)

__all__ = ["IdentifierFinding", "ColumnScreen", "find_identifier_columns", "identifier_message", "screen_columns",
           "leave_out_free_text", "free_text_columns", "name_kind"]


@dataclass(frozen=True)
class IdentifierFinding:
    """A column that appears to hold direct identifiers, and why.

    ``evidence`` is ``"name"`` (the column's name) or ``"content"`` (its cells); ``rows`` is the
    number of rows whose cell carries the identifier (content), ``n_rows`` the rows of the file.
    """

    column: str
    kind: str
    evidence: str
    rows: int = 0
    n_rows: int = 0

    def describe(self) -> str:
        """'Notes' holds an e-mail address in 7 of 20 rows / 'SS#' is named like a social security number."""
        if self.evidence == "name":
            return f"'{self.column}' is named like {self.kind}"
        return f"'{self.column}' holds {self.kind} in {self.rows:,} of {self.n_rows:,} rows"


# ---------------------------------------------------------------- column names
_NAME_RULES: tuple[tuple[str, str], ...] = (
    (KIND_NAME, r"(?:patient|client|person|member|participant|full|first|last|given|family|middle|maiden|sur"
                r"|contact|emergency_?contact|guardian|parent|mother|father|spouse|next_?of_?kin|nok|preferred"
                r"|legal|birth)_?names?|^names?|surname|forename|firstname|lastname|fname|lname"
                r"|^name_(?:first|last|full)|nombres?|apellidos?|^nom|prenom|vorname|nachname"),
    (KIND_SSN, r"ssn|ss|ss_?no|ss_?num(?:ber)?|social_?security(?:_?n(?:o|um(?:ber)?))?|soc_?sec|social_?sec"
               r"|tax_?id|taxpayer_?id|tin|itin|nss"),
    (KIND_IP, r"ip_?address|ip_?addr|ipv4|ipv6|ip_?v[46]"),
    (KIND_EMAIL, r"e_?mail(?:_?address)?|mail|correo(?:_?electronico)?|courriel"),
    (KIND_PHONE, r"phones?|telephone|tel|telefono|telf|tfno|movil|celular|cel|cell|cellphone|cell_?phone"
                 r"|mobile(?:_?phone)?|fax|whatsapp|(?:home|work)_?phone|contact_?number|phone_?n(?:o|um(?:ber)?)"),
    (KIND_ADDRESS, r"address(?:es)?|addr|street(?:_?(?:address|addr|line|name|number|no))?|(?:home|mailing|postal"
                   r"|residential)_?address|address_?line(?:_?[12])?|address[12]|direccion|domicilio|calle"
                   r"|adresse"),
    (KIND_MRN, r"mrn|mr|mr_?no|mr_?num(?:ber)?|medical_?record(?:_?n(?:o|um(?:ber)?))?|med_?rec(?:_?no)?"
               r"|chart_?(?:no|num|number|id)|health_?record_?n(?:o|um(?:ber)?)|hospital_?(?:id|no|num|number)"
               r"|patient_?(?:no|num|number|nbr)|pat_?(?:no|num)|nhs_?(?:no|number)"
               r"|(?:medicaid|medicare|insurance|policy|account|acct)_?(?:id|no|num|number)"
               r"|historia_?clinica|expediente"),
    (KIND_DOB, r"dob|date_?of_?birth|birth_?date|birthdate|birthday|birth_?dt|bday|fecha_?(?:de_?)?nacimiento"
               r"|fecha_?nac|f_?nac|geburtsdatum|date_?de_?naissance"),
    (KIND_ZIP, r"zip|zipcode|zip_?code|zip5|zip_?plus_?4|postal|postal_?code|postcode|post_?code|plz"
               r"|codigo_?postal"),
)
_NAME_PATTERNS = tuple((kind, re.compile(rf"(?:^|_)(?:{rule})(?:_\d+)?(?=_|$)")) for kind, rule in _NAME_RULES)
# A word after the identifier word that makes the column *about* it: email_consent, phone_followup,
# address_verified, mobile_unit, street_drug.
_QUALIFIERS = frozenset("""
consent consented verified verify verification followup follow ok flag yn provided available onfile on type
status unit units drug drugs use opt optin optout preference pref reminder reminders sent count confirmed valid
known missing change changed updated date call calls visit visits session sessions minutes hours contact_made
outreach attempt attempts reached program""".split())
_FLAG_VALUES = frozenset("""
yes no y n true false -  t f 0 1 0.0 1.0 unknown unk declined refused na n/a none missing not asked si sí x
""".split())


def _normalize(name: object) -> str:
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_")


def name_kind(column: object) -> str | None:
    """What a column's name says it holds (``KIND_*``), or None; qualified names (email_consent) are None."""
    key = _normalize(column)
    for kind, pattern in _NAME_PATTERNS:
        match = pattern.search(key)
        if match and not (set(key[match.end():].split("_")) & _QUALIFIERS):
            return kind
    return None


def _flag_like(uniques: np.ndarray) -> bool:
    """Every non-empty value is a yes/no flag (or there is none)."""
    return len(uniques) <= 64 and all(str(v).strip().lower() in _FLAG_VALUES or not str(v).strip()
                                      for v in uniques)


# ---------------------------------------------------------------- cell content
def _distinct(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-missing values of a column: (text values, number values).

    A column whose values are nearly all distinct (ids, free text) is returned whole, without the
    cost of finding its distinct values.
    """
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return np.array([], dtype=object), np.array([])
    if pd.api.types.is_numeric_dtype(values):
        uniques = pd.unique(values.to_numpy())
        return np.array([], dtype=object), uniques[~pd.isna(uniques)]
    array = values.to_numpy(dtype=object)
    sample = array[np.random.default_rng(0).integers(0, len(array), 1000)] if len(array) > 10_000 else array
    if len(array) > 10_000 and len(set(map(str, sample))) >= 0.98 * len(sample):
        texts = array[pd.notna(array)]
    else:
        texts = pd.unique(array)  # then drop missing: far cheaper than dropna first
        texts = texts[~pd.isna(texts)]
    if pd.api.types.infer_dtype(texts, skipna=False) in ("string", "empty"):
        return texts, np.array([])
    uniques = pd.unique(texts)
    strings = np.array([v for v in uniques if isinstance(v, str)], dtype=object)
    numbers = np.array([v for v in uniques if isinstance(v, (int, float, np.integer, np.floating))
                        and not isinstance(v, (bool, np.bool_))], dtype=np.float64)
    return strings, numbers


def _dense(numbers: np.ndarray) -> bool:
    """A dense run of whole numbers (a counter: sequential ids), not SSNs or phone numbers."""
    if len(numbers) < 2:
        return False
    span = float(np.max(numbers) - np.min(numbers)) + 1
    return span <= 20 * len(numbers)


def _content_findings(column: str, values: pd.Series, n_rows: int, texts: np.ndarray, numbers: np.ndarray,
                      text_masks: dict[str, np.ndarray]) -> list[IdentifierFinding]:
    """A column's findings from its distinct values and the masks :func:`scan_text` gave for them."""
    by_kind: dict[str, list] = {}
    for kind, mask in text_masks.items():
        by_kind.setdefault(kind, []).extend(texts[mask].tolist())
    for kind, mask in scan_integers(numbers).items():
        by_kind.setdefault(kind, []).extend(numbers[mask].tolist())
    if not by_kind:
        return []
    n_distinct = len(texts) + len(numbers)
    non_empty = int(values.notna().sum())
    for kind in WEAK_KINDS:
        matched = by_kind.pop(kind, [])
        whole = [v for v in matched if not isinstance(v, str) or re.fullmatch(r"\+?\d+(?:\.0)?", v.strip())]
        if matched and len(whole) == len(matched) and _dense(np.array([float(v) for v in whole])):
            continue  # a counter
        if matched:
            by_kind.setdefault(KINDS[kind], []).extend(matched)
    shaped = by_kind.pop("name_shape", [])
    if KIND_NAME in by_kind and n_distinct <= 50:
        # a name that is the whole cell and repeats is a label (a counsellor, a referrer), not a person's record
        counts = values.value_counts()
        by_kind[KIND_NAME] = [v for v in by_kind[KIND_NAME] if not (v in shaped and counts.get(v, 0) >= 10)]
        if not by_kind[KIND_NAME]:
            del by_kind[KIND_NAME]
    elif shaped and KIND_NAME not in by_kind:
        rows = _rows(values, shaped)
        if len(shaped) >= 5 and rows >= 0.5 * non_empty and len(shaped) >= 0.5 * rows:
            by_kind[KIND_NAME] = shaped  # "Quispe, Xiomara": shaped like names, nearly all distinct
    found = {kind: _rows(values, matched) for kind, matched in by_kind.items()}
    order = (KIND_SSN, KIND_EMAIL, KIND_PHONE, KIND_ADDRESS, KIND_MRN, KIND_DOB, KIND_ZIP, KIND_IP, KIND_NAME)
    return [IdentifierFinding(column, kind, "content", found[kind], n_rows) for kind in order if kind in found]


def _scan_columns(texts: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """:func:`scan_text` over the distinct texts of every column at once (one pass, however many columns)."""
    sizes = [len(t) for t in texts]
    if not sum(sizes):
        return [{} for _ in texts]
    masks = scan_text(np.concatenate([t for t in texts if len(t)]) if len(texts) > 1 else texts[0])
    out, start = [], 0
    for size in sizes:
        out.append({k: m[start:start + size] for k, m in masks.items() if m[start:start + size].any()})
        start += size
    return out


def _rows(values: pd.Series, matched: list) -> int:
    """Rows whose cell is one of the matched distinct values."""
    return int(values.isin(matched).sum())


def find_identifier_columns(raw: pd.DataFrame) -> list[IdentifierFinding]:
    """The columns of ``raw`` that hold direct identifiers: by content (any cell), then by name."""
    findings: list[IdentifierFinding] = []
    n_rows = len(raw)
    columns = [raw.iloc[:, position] for position in range(raw.shape[1])]
    distinct = [_distinct(values) for values in columns]
    masks = _scan_columns([texts for texts, _ in distinct])
    for col, values, (texts, numbers), text_masks in zip(raw.columns, columns, distinct, masks, strict=True):
        content = _content_findings(str(col), values, n_rows, texts, numbers, text_masks)
        if content:
            findings.extend(content)
            continue
        kind = name_kind(col)
        if kind is None:
            continue
        uniques = np.concatenate([texts.astype(object), numbers.astype(object)])
        if len(uniques) == 0 or _flag_like(uniques):
            continue
        findings.append(IdentifierFinding(str(col), kind, "name", 0, n_rows))
    return findings


def identifier_message(findings: Iterable[IdentifierFinding]) -> str:
    """The refusal: which column holds what, in how many rows, and how to go on."""
    findings = list(findings)
    columns = list(dict.fromkeys(f.column for f in findings))
    parts = "; ".join(f.describe() for f in findings)
    noun = "this column" if len(columns) == 1 else "these columns"
    listed = " ".join(f"--drop {_quote(c)}" for c in columns)
    return (f"This file appears to contain direct identifiers: {parts}. Continuum only accepts de-identified "
            f"data. Drop {noun} (on the Data page, or {listed} on the command line) or remove "
            f"{'it' if len(columns) == 1 else 'them'} from the file, and load it again. Nothing from this file "
            "was kept.")


def _quote(column: str) -> str:
    return column if re.fullmatch(r"[\w.-]+", column) else "'" + column.replace("'", "'\\''") + "'"


# ---------------------------------------------------------------- screening before the mapping
@dataclass(frozen=True, eq=False)
class ColumnScreen:
    """The file's columns after the guard: what goes on to mapping, and what was left out and why."""

    frame: pd.DataFrame
    findings: tuple[IdentifierFinding, ...]
    dropped: tuple[str, ...] = ()
    free_text: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        return bool(self.findings)

    @property
    def message(self) -> str | None:
        return identifier_message(self.findings) if self.findings else None


def free_text_columns(raw: pd.DataFrame, mapped: Iterable[str] = ()) -> list[str]:
    """Unmapped text columns that hold prose (long, many-worded, mostly distinct cells), judged on a sample."""
    mapped = set(map(str, mapped))
    out = []
    for position, col in enumerate(raw.columns):
        values = raw.iloc[:, position]
        if str(col) in mapped or values.dtype != object:
            continue
        array = values.to_numpy()
        sample = [v for v in array[:: max(1, len(array) // 2000)] if isinstance(v, str) and v]
        if not sample:
            continue
        lengths = sorted(map(len, sample))
        words = sum(v.count(" ") + 1 for v in sample) / len(sample)
        if lengths[len(lengths) // 2] >= 20 and words >= 3.5 and len(set(sample)) >= 0.5 * len(sample):
            out.append(str(col))
    return out


def screen_columns(raw: pd.DataFrame, *, drop: Iterable[str] = ()) -> ColumnScreen:
    """Guard a raw table before mapping: drop what the user dropped, then refuse direct identifiers.

    ``drop``: columns the user chose to drop (e.g. after a refusal); they are neither guarded nor kept.
    Free text is left out afterwards, once the mapping is known (:func:`leave_out_free_text`).
    """
    drop = [str(c) for c in drop]
    columns = [str(c) for c in raw.columns]
    dropped = tuple(c for c in columns if c in drop)
    notes = []
    unknown = [c for c in drop if c not in columns]
    if unknown:
        notes.append(f"Asked to drop column(s) not in the file: {', '.join(repr(c) for c in unknown)}.")
    frame = raw.loc[:, [c not in dropped for c in columns]] if dropped else raw
    if dropped:
        notes.append(f"Dropped at your request: {', '.join(repr(c) for c in dropped)}.")
    return ColumnScreen(frame, tuple(find_identifier_columns(frame)), dropped, (), tuple(notes))


def leave_out_free_text(screen: ColumnScreen, mapped: Iterable[str], *, keep: Iterable[str] = ()) -> ColumnScreen:
    """The screen with unmapped free-text columns left out (unless kept), and a note saying so.

    ``mapped``: the file's columns the mapping uses (never left out); ``keep``: free-text columns the
    user chose to keep.
    """
    keep = {str(c) for c in keep}
    free = tuple(c for c in free_text_columns(screen.frame, mapped) if c not in keep)
    if not free:
        return screen
    frame = screen.frame.loc[:, [str(c) not in free for c in screen.frame.columns]]
    note = (f"Left out as free text: {', '.join(repr(c) for c in free)}. Free text can name people in ways no "
            "check can find; keep a column only if you know it holds none (on the Data page, or --keep COLUMN "
            "on the command line).")
    return ColumnScreen(frame, screen.findings, screen.dropped, free, (*screen.notes, note))
