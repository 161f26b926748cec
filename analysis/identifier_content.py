"""Direct identifiers in cell content: which distinct values of a column carry one, and of what kind.

Works on the **distinct values** of a column (a million-row column of levels of care has six), in
two passes: a vectorised pass with RE2 (``pyarrow.compute``) that finds the candidate values, and a
check in Python of those candidates only (SSN area numbers, North American numbering rules, IP
octets, name dictionaries). Everything is matched *anywhere in a cell*: "reach at p0@mail.com",
"John <j@x.org>", "Pt John Smith called", "12 Oak St, Springfield, IL 62704".

Kinds (the ``KIND_*`` constants) are the sentence fragments used in messages.
"""
from __future__ import annotations

import ipaddress
import re
import unicodedata
from functools import lru_cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["KIND_EMAIL", "KIND_PHONE", "KIND_SSN", "KIND_ADDRESS", "KIND_MRN", "KIND_DOB", "KIND_ZIP", "KIND_IP",
           "KIND_NAME", "WEAK_KINDS", "KINDS", "scan_text", "scan_integers", "name_shaped", "person_names"]

KIND_EMAIL = "an e-mail address"
KIND_PHONE = "a phone number"
KIND_SSN = "a social security number"
KIND_ADDRESS = "a street address"
KIND_MRN = "a medical record number"
KIND_DOB = "a date of birth"
KIND_ZIP = "a ZIP code"
KIND_IP = "an IP address"
KIND_NAME = "a person's name"
#: Kinds found from a bare run of digits (123456789, 4155550100): a dense run of such numbers is a
#: counter (sequential pseudonymous ids), not SSNs or phone numbers.
WEAK_KINDS = ("bare_ssn", "bare_phone")
#: What each weak kind is reported as.
KINDS = {"bare_ssn": KIND_SSN, "bare_phone": KIND_PHONE, "name_shape": KIND_NAME}

_B = r"(?:^|[^0-9A-Za-z])"   # RE2 has no look-behind: a boundary is the start or a non-alphanumeric
_E = r"(?:$|[^0-9A-Za-z])"
_BD = r"(?:^|[^0-9A-Za-z.])"  # IPv4: a dot does not bound "1.2.3.4.5"
_ED = r"(?:$|[^0-9A-Za-z.])"

# RE2 patterns (vectorised pass); each has a Python counterpart below that extracts and verifies.
_RE2 = {
    KIND_EMAIL: r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    KIND_SSN: _B + r"\d{3}(?:-\d{2}-| \d{2} )\d{4}" + _E,
    "bare_ssn": _B + r"\d{9}" + _E,
    KIND_PHONE: (r"(?:" + _B + r"(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]?\d{4}" + _E +
                 r"|\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,5}){1,5}" + _E +
                 r"|" + _B + r"(?:00[1-9]\d{0,2}|\(?0\d{1,4}\)?)(?: \d{2,5}){2,5}" + _E + r")"),
    "bare_phone": _B + r"1?[2-9]\d{2}[2-9]\d{6}" + _E,
    KIND_IP: (r"(?:" + _BD + r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}" + _ED +
              r"|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*[0-9A-Fa-f])"),
    KIND_ADDRESS: (r"(?i:" + _B + r"p\.? ?o\.? ?box ?#? ?\d|post office box)"
                   r"|\d{1,6}[A-Za-z]? +(?:[A-Z0-9][A-Za-z0-9.'-]* +){1,4}"
                   r"(?:(?i:st|street|ave|avenue|rd|road|blvd|boulevard|ln|lane|hwy|highway|pkwy|parkway|ter"
                   r"|terrace)\b|(?i:dr|drive|way|ct|court|pl|place|cir|circle|sq|square)\.?"
                   r"(?:$|[,;#]| +(?i:apt|unit|suite|ste)\b| +[NSEW]{1,2}\b))"
                   r"|, ?[A-Z]{2} +\d{5}(?:-\d{4})?" + _E +
                   r"|(?i:" + _B + r"(?:calle|avenida|avda|plaza|paseo|carrera|rua|rue|strasse|straße|gasse)\.?"
                   r" +(?:[\p{L}'.-]+ +){0,4}(?:n[º°o]\.? ?)?\d{1,5})"),
    KIND_ZIP: _B + r"\d{5}-\d{4}" + _E,
    KIND_MRN: (r"(?i:" + _B + r"(?:mrn|mr ?#|mr ?no\.?|med(?:ical)? ?rec(?:ord)?s? ?(?:#|no\.?|number|num)?"
               r"|chart ?(?:#|no\.?|number)|hospital ?(?:#|no\.?|number|id))) ?[:#]? ?[A-Za-z]{0,3}-?\d{4,}"),
    KIND_DOB: (r"(?i:" + _B + r"(?:dob|d\.o\.b\.?|date of birth|birth ?date|born(?: on)?|fecha de nacimiento"
               r"|f\. ?nac\.?)) ?[:.-]? ?(?:\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|\d{1,2} [A-Za-z]{3,9}\.? \d{4}"
               r"|[A-Za-z]{3,9}\.? \d{1,2},? \d{4}|(?:19|20)\d{2})"),
}
# Names: a title before a capitalised word, or a word of the name lists (checked in Python after).
_RE2_TITLE = r"(?:^|[^\p{L}])(?:Mr|Mrs|Ms|Miss|Mx|MR|MRS|MS|MISS|MX)\.? +\p{Lu}"
# A whole cell shaped like "First Last" or "LAST, FIRST" (judged at column level, see name_shaped)
_RE2_SHAPE = r"^\p{Lu}[\p{L}'’-]+,? +(?:\p{Lu}\.? +)?\p{Lu}[\p{L}'’-]+$"
_RE2_CAPITAL = (r"\p{Lu}[\p{Ll}'’]|\p{Lu}\p{Lu}"  # a capitalised word or one in capitals,
                r"|(?:^|[^\p{L}])\p{Ll}{2,} +\p{Ll}{2,}")  # or two lower-case words ("spoke with maria lopez")
_PREFILTER = "|".join(f"(?:{p})" for p in (*_RE2.values(), _RE2_SHAPE, _RE2_TITLE, _RE2_CAPITAL))


@lru_cache(maxsize=1)
def _name_word_set() -> pa.Array:
    """The unambiguous listed names as they are written in cells: capitalised and in capitals."""
    given, surnames, ambiguous = person_names()
    forms = {f for w in (given | surnames) - ambiguous
             for f in (w, w.capitalize(), w.upper(), "-".join(p.capitalize() for p in w.split("-")))}
    return pa.array(sorted(forms), type=pa.string())


def _name_candidates(arr: pa.Array) -> np.ndarray:
    """Values with a listed name as a word, or a title before a capitalised word (vectorised)."""
    out = _matches(arr, _RE2_TITLE)
    capital = np.flatnonzero(_matches(arr, _RE2_CAPITAL))
    if len(capital):
        words = pc.split_pattern_regex(arr.take(pa.array(capital)), r"[^\p{L}'’-]+")
        hit = pc.fill_null(pc.is_in(pc.list_flatten(words), value_set=_name_word_set()), False)
        parents = pc.list_parent_indices(words).to_numpy()[hit.to_numpy(zero_copy_only=False)]
        out[capital[np.unique(parents)]] = True
    return out


_SSN = re.compile(r"(?<![0-9A-Za-z])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![0-9A-Za-z])")
_NANP = re.compile(r"(?<![0-9A-Za-z])(?:\+?1[ .-]?)?\(?([2-9]\d{2})\)?[ .-]?([2-9]\d{2})[ .-]?(\d{4})(?![0-9A-Za-z])")
_INTL = re.compile(r"(?:\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,5}){1,5}"
                   r"|(?<![0-9A-Za-z])(?:00[1-9]\d{0,2}|\(?0\d{1,4}\)?)(?: \d{2,5}){2,5})(?![0-9A-Za-z])")
_IPV4 = re.compile(r"(?<![0-9A-Za-z.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![0-9A-Za-z.])")
_IPV6 = re.compile(r"(?<![0-9A-Za-z:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Za-z:])")
_ZIP4 = re.compile(r"(?<![0-9A-Za-z])(\d{5})-(\d{4})(?![0-9A-Za-z])")
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*")


@lru_cache(maxsize=1)
def person_names() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(given names, surnames, ambiguous words) from ``analysis/data/person_names.txt``, lower case."""
    sections: dict[str, set[str]] = {"given": set(), "surnames": set(), "ambiguous": set()}
    current = None
    text = resources.files("analysis.data").joinpath("person_names.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        sections[current].update(w.lower() for w in line.split())
    return frozenset(sections["given"]), frozenset(sections["surnames"]), frozenset(sections["ambiguous"])


# Words that, after a capitalised pair, make it a place or a service: "Jordan Valley Clinic".
_PLACES = frozenset("""
clinic clinics center centre centers hospital program programme programs house home health service services
county city town court courts church ministries ministry memorial university school college foundation
shelter housing street road avenue valley lake river hills park springs institute associates group partners
department dept unit office agency society league council board authority
""".split())
# Words that are not names: services, categories, note vocabulary.
_COMMON = _PLACES | frozenset("""
referral referred self family member care primary social treatment recovery medical police jail prison
probation parole saint general regional community behavioral behavioural mental outpatient inpatient
residential detox iop php op medicaid medicare insurance blue cross shield aetna cigna united private pay
alcohol opioid opioids heroin fentanyl cocaine meth methamphetamine cannabis marijuana benzodiazepine
benzodiazepines stimulants other unknown none white black hispanic latino latina latinx asian native american
pacific islander alaska female male completed dropped transferred terminated incarcerated died discharged
admitted north south east west session sessions team staff counselor counseling therapy therapist doctor
nurse physician emergency room er ed urgent crisis line hotline drug drugs use disorder legal justice
criminal employer employee assistance eap walk online internet friend friends spouse partner word mouth
state federal tribal veterans va affairs step steps twelve aa na meeting meetings intensive partial day
night week weekend short long term level levels phase stage new start path way bright clear hope monday
tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december called call calls left message voicemail no show shows refused declined
reports reported states stated denies denied today yesterday tomorrow follow followup up visit visits intake
assessment discharge admission plan plans goal goals note notes per via and or of the for to at in on with
from by mr mrs ms dr pt yes true false portal access
""".split())
_TITLES = frozenset("mr mrs ms miss mx".split())
_CUES = _TITLES | frozenset("pt patient client mother father son daughter wife husband brother sister named "
                            "aunt uncle grandmother grandfather guardian".split())


def _fold(word: str) -> str:
    return word.lower().replace("’", "'")


def _is_cap(word: str) -> bool:
    return word[:1].isupper()


def _name_in_text(text: str) -> bool:
    """A person's name written in a cell: "Pt John Smith called", "SMITH, JOHN", "José García"."""
    given, surnames, ambiguous = person_names()
    words = [(m.group(0), m.end()) for m in _WORD.finditer(text)]
    if len(words) < 2:
        return False
    capitals = text.upper() == text  # "DRUG COURT": in capitals only given name + surname counts
    folded = [_fold(w) for w, _ in words]

    def plain(f: str) -> bool:  # a capitalised word that could be a name (not a category, note word or "TX")
        return f not in _COMMON and f not in ambiguous and (len(f) >= 3 or f in given or f in surnames)

    for i in range(len(words) - 1):
        (a, a_end), (b, _) = words[i], words[i + 1]
        fa, fb = folded[i], folded[i + 1]
        if a.islower() and b.islower():  # "spoke with maria lopez": only a listed given name + listed surname
            if fa in given and fb in surnames and fa not in ambiguous and fb not in ambiguous \
                    and fa not in _COMMON and fb not in _COMMON:
                return True
            continue
        if not _is_cap(b) or fb in _COMMON:
            continue
        if fa in _CUES and (((fb in given or fb in surnames) and fb not in ambiguous)
                            or (fa in _TITLES and plain(fb))):
            return True  # "Pt John", "Mrs Quispe"
        if not _is_cap(a) or fa in _COMMON or (i + 2 < len(words) and folded[i + 2] in _PLACES):
            continue
        both_weak = fa in ambiguous and fb in ambiguous
        if text[a_end:a_end + 1] == "," and fa in surnames and fb in given and not both_weak:
            return True  # "SMITH, JOHN"
        if fa in given and fb in surnames and not both_weak:
            return True  # "John Smith", "JOSÉ GARCÍA"
        if capitals:
            continue
        if (fa in given and fa not in ambiguous and plain(fb)) or (fb in surnames and fb not in ambiguous
                                                                   and plain(fa)):
            return True  # "John Xu", "Xiomara García"
    return False


_NAME_SHAPE = re.compile(r"[^\W\d_][^\W\d_'’-]+,? +(?:[^\W\d_]\.? +)?[^\W\d_][^\W\d_'’-]+")


def name_shaped(value: str) -> bool:
    """A whole cell shaped like a person's name, "First Last" or "LAST, FIRST" (used at column level)."""
    value = value.strip()
    if not _NAME_SHAPE.fullmatch(value):
        return False
    words = _WORD.findall(value)
    return all(_is_cap(w) for w in words) and not any(_fold(w) in _COMMON for w in words)


def _ssn_ok(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _international(number: str) -> bool:
    """+44 20 7946 0958 (9-15 digits), 0044 ... (10-15 after 00), 020 7946 0958 (10-11 with the 0)."""
    digits = re.sub(r"\D", "", number)
    if number.startswith("+"):
        return 9 <= len(digits) <= 15
    if digits.startswith("00"):
        return 10 <= len(digits) - 2 <= 15
    return 10 <= len(digits) <= 11


def _verify(kind: str, text: str) -> bool:
    if kind == KIND_SSN:
        return any(sep and _ssn_ok(a, g, s) for a, sep, g, s in _SSN.findall(text))
    if kind == "bare_ssn":
        return any(not sep and _ssn_ok(a, g, s) for a, sep, g, s in _SSN.findall(text))
    if kind == KIND_PHONE:
        if any(_international(m) for m in _INTL.findall(text)):
            return True
        return any(not re.fullmatch(r"1?\d{10}", m.group(0).lstrip("+")) for m in _NANP.finditer(text))
    if kind == "bare_phone":
        return any(re.fullmatch(r"1?\d{10}", m.group(0).lstrip("+")) for m in _NANP.finditer(text))
    if kind == KIND_IP:
        if any(all(int(o) <= 255 for o in m) for m in _IPV4.findall(text)):
            return True
        for m in _IPV6.findall(text):
            if m.count(":") >= 2 and len([g for g in m.split(":") if g]) >= 2:
                try:
                    ipaddress.IPv6Address(m)
                    return True
                except ValueError:
                    continue
        return False
    if kind == KIND_ZIP:
        return any(z != "00000" for z, _ in _ZIP4.findall(text))
    return True  # e-mail, address, MRN, DOB: the RE2 pattern is specific enough


def scan_text(values: np.ndarray) -> dict[str, np.ndarray]:
    """For distinct text values, a boolean mask per kind of the values that carry it.

    ``values`` is a 1-D object array of ``str``. Kinds with no match are left out. Besides the
    ``KIND_*`` kinds: ``"bare_ssn"`` and ``"bare_phone"`` (a run of 9 or 10 digits, which a caller
    tells from a counter) and ``"name_shape"`` (the whole cell is shaped like a name; a caller
    judges it over the column).
    """
    if len(values) == 0:
        return {}
    arr = pa.array(values, type=pa.string())
    candidates = np.flatnonzero(_matches(arr, _PREFILTER))
    if len(candidates) == 0:
        return {}
    sub = arr.take(pa.array(candidates))
    named = _name_candidates(sub)
    texts = [unicodedata.normalize("NFKC", v) for v in values[candidates]]
    checks = [(kind, _matches(sub, pattern), lambda k, t: _verify(k, t)) for kind, pattern in _RE2.items()]
    checks.append((KIND_NAME, named, lambda _k, t: _name_in_text(t)))
    checks.append(("name_shape", _matches(sub, _RE2_SHAPE), lambda _k, t: name_shaped(t)))
    found: dict[str, np.ndarray] = {}
    for kind, hits, verify in checks:
        keep = [candidates[j] for j in np.flatnonzero(hits) if verify(kind, texts[j])]
        if keep:
            mask = np.zeros(len(values), dtype=bool)
            mask[keep] = True
            found[kind] = mask
    return found


def _matches(arr: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(arr, pattern), False).to_numpy(zero_copy_only=False)


def scan_integers(values: np.ndarray) -> dict[str, np.ndarray]:
    """Distinct whole numbers (a numeric column): 9-digit SSN-valid and 10/11-digit NANP-valid values."""
    values = np.asarray(values, dtype=np.float64)
    found: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (values == np.floor(values))
    ssn = whole & (values >= 1_000_000) & (values < 1_000_000_000)
    if ssn.any():
        v = values[ssn].astype(np.int64)
        area, group, serial = v // 1_000_000, (v // 10_000) % 100, v % 10_000
        ok = (area != 0) & (area != 666) & (area < 900) & (group != 0) & (serial != 0) & (v >= 100_000_000)
        mask = np.zeros(len(values), dtype=bool)
        mask[np.flatnonzero(ssn)[ok]] = True
        if mask.any():
            found["bare_ssn"] = mask
    phone = whole & (values >= 2_000_000_000) & (values < 20_000_000_000)
    if phone.any():
        v = values[phone].astype(np.int64) % 10_000_000_000
        ok = (v >= 2_000_000_000) & ((v // 1_000_000) % 10 >= 2) & ((values[phone] < 10_000_000_000) |
                                                                    (values[phone] // 10_000_000_000 == 1))
        mask = np.zeros(len(values), dtype=bool)
        mask[np.flatnonzero(phone)[ok]] = True
        if mask.any():
            found["bare_phone"] = mask
    return found
