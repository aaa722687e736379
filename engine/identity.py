"""Personal data: resident ID numbers, phone numbers, and masking (RULEBOOK C5, C10, HN-SUP-R1).

Input: text — a single ID number or phone number, free text (messages, remarks), or any
JSON-like value (dicts, lists, strings, numbers). Output: verdicts (:func:`parse_resident_id`,
:func:`resident_id_problem`, :func:`is_mobile`, :func:`is_landline`, :func:`phone_kind`), the birth
date an ID encodes (:func:`birth_date_from_id`), and masked copies (:func:`mask_id`,
:func:`mask_phone`, :func:`mask_text`, :func:`mask_value`). Nothing here reads the clock: a
birth date is checked against "the future" only when the caller passes ``on`` (the reference
date), so results never depend on the day the engine runs.

Resident ID numbers (GB 11643-1999)
    18 characters: 6-digit region code (GB/T 2260; the first two digits must be a province-level
    code, 11–82), birth date ``YYYYMMDD``, 3-digit sequence (odd = male, even = female), and an
    ISO 7064 MOD 11-2 check character (``0``–``9`` or ``X``, upper or lower case). Legacy 15-digit
    numbers (issued before 1999) are accepted too: region, ``YYMMDD`` birth date read as 19YY,
    sequence, no check digit. The birth date must be a real calendar date, not before 1800, and —
    when ``on`` is given — not after ``on``. Surrounding whitespace is ignored; full-width digits
    are read as digits.

Phone numbers
    *Mobile*: 11 digits ``1[3-9]xxxxxxxxx``, optionally prefixed by ``+86``, ``0086`` or ``86``,
    with optional spaces or dashes between the groups (``138 1234 5678``, ``+86-138-1234-5678``).
    *Landline*: an area code is required (bare 7–8 digit local numbers are not accepted: a roster
    cannot tell which city they belong to, so HN-SUP-R1 gives them a ``notice``). Area codes are
    ``010``, ``02x`` or ``0`` + three digits (``0371``), optionally in parentheses; then an optional
    ``-`` or space; then a 7–8 digit local number not starting with 0; then an optional
    extension ``-123`` or ``转123`` (1–6 digits).

Masking (C10)
    * ID number: first 3 + ``*`` + last 4, length kept: ``410***********1234``.
    * Mobile: first 3 + ``****`` + last 4 of the 11-digit number (``138****5678``); a ``+86``
      prefix and separators are kept as written.
    * Landline: the area code and the last 2 digits of the local number are kept, every other
      digit — including an extension — becomes ``*``: ``0371-******78``.
    * :func:`mask_text` finds numbers inside free text. A candidate is a run that is not
      preceded or followed by an ASCII letter, a digit, ``_`` or ``*`` (Chinese characters and
      punctuation are boundaries), so a digit run that is part of a longer number, or a code like
      ``AB13812345678``, is left alone. An 18-character candidate (17 digits + digit/``X``) is
      masked when its check digit is valid **or** its birth-date part is a real date in
      1800–2099 (a mistyped ID is still personal data); a 15-digit candidate when its ``YYMMDD``
      part is a real date. Mobiles and landlines are masked when they match the patterns above.
      Dates (``2024-01-31``, ``20240131``) and long case numbers that are neither never match.
    * :func:`mask_value` masks every string in a JSON-like value (dict *keys* are field names and
      are not masked). Values under ID/phone keys (``id_number``, ``身份证号码``, ``phone``,
      ``联系电话``, …) are masked as a whole even when invalid, so a rejected ID number never
      appears in clear. Integers that look like phone/ID numbers become masked strings.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

__all__ = [
    "ResidentId",
    "check_digit",
    "parse_resident_id",
    "resident_id_problem",
    "birth_date_from_id",
    "is_mobile",
    "is_landline",
    "phone_kind",
    "normalize_phone",
    "mask_id",
    "mask_phone",
    "mask_text",
    "mask_value",
    "ID_KEYS",
    "PHONE_KEYS",
]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"

# GB/T 2260 province-level codes: the first two digits of every resident ID number.
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15",
    "21", "22", "23",
    "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46",
    "50", "51", "52", "53", "54",
    "61", "62", "63", "64", "65",
    "71", "81", "82",
})

MIN_BIRTH_YEAR = 1800


def _nfkc(s: str) -> str:
    """Full-width digits/letters/punctuation to ASCII (``１３８`` → ``138``)."""
    return unicodedata.normalize("NFKC", s)


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (``0``–``9`` or ``X``) for 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("check_digit needs exactly 17 ascii digits")
    return _CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


@dataclass(frozen=True)
class ResidentId:
    """A valid resident ID number, normalised (upper-case ``X``, no surrounding whitespace)."""

    number: str
    region: str          # 6-digit GB/T 2260 region code
    birth_date: _dt.date
    sequence: str        # 3 digits; odd = male, even = female
    legacy: bool         # True for a 15-digit number

    @property
    def sex(self) -> str:
        return "male" if int(self.sequence[-1]) % 2 else "female"

    @property
    def as_18(self) -> str:
        """The 18-digit form (a legacy number gets ``19`` and a computed check digit)."""
        if not self.legacy:
            return self.number
        first17 = self.region + self.birth_date.strftime("%Y%m%d") + self.sequence
        return first17 + check_digit(first17)


def _date_or_none(y: int, m: int, d: int) -> _dt.date | None:
    try:
        return _dt.date(y, m, d)
    except ValueError:
        return None


def _analyse(s: Any, on: _dt.date | None) -> tuple[ResidentId | None, str | None]:
    if not isinstance(s, str):
        return None, "not text"
    t = _nfkc(s).strip()
    if not t:
        return None, "empty"
    n = len(t)
    if n not in (15, 18):
        return None, f"wrong length: {n} characters (expected 18, or 15 for a legacy number)"
    if n == 18:
        body, last = t[:17], t[17].upper()
        if not (body.isascii() and body.isdigit()) or not (last == "X" or last.isdigit()):
            return None, "must be 17 digits followed by a digit or x"
        t = body + last
        ymd = body[6:14]
    else:
        if not (t.isascii() and t.isdigit()):
            return None, "a 15-character legacy number must be all digits"
        ymd = "19" + t[6:12]
    if t[:2] not in PROVINCE_CODES:
        return None, f"unknown region code {t[:6]} (the first two digits must name a province)"
    born = _date_or_none(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8]))
    if born is None:
        return None, f"birth date {ymd} is not a real date"
    if born.year < MIN_BIRTH_YEAR:
        return None, f"birth date {ymd} is before {MIN_BIRTH_YEAR}"
    if on is not None and born > on:
        return None, f"birth date {ymd} is after {on.isoformat()}"
    if n == 18:
        expected = check_digit(t[:17])
        if t[17] != expected:
            return None, f"bad check digit: expected {expected.lower()}, found {t[17].lower()}"
        return ResidentId(t, t[:6], born, t[14:17], False), None
    return ResidentId(t, t[:6], born, t[12:15], True), None


def parse_resident_id(s: Any, *, on: _dt.date | None = None) -> ResidentId | None:
    """The parsed ID number, or ``None`` when it is not a valid one (see
    :func:`resident_id_problem` for the reason). ``on``: reject birth dates after this date."""
    return _analyse(s, on)[0]


def resident_id_problem(s: Any, *, on: _dt.date | None = None) -> str | None:
    """``None`` for a valid ID number, else a lowercase one-line reason, e.g. ``wrong length: 17
    characters (…)``, ``bad check digit: expected x, found 3``, ``birth date 19990229 is not a
    real date``, ``birth date 20300101 is after 2024-06-30``."""
    return _analyse(s, on)[1]


def birth_date_from_id(s: Any, *, on: _dt.date | None = None,
                       strict: bool = True) -> _dt.date | None:
    """The birth date encoded in an ID number (C5), or ``None``.

    ``strict`` (default): only from a fully valid number. ``strict=False`` also reads the date
    from a number whose only problem is its check digit (the date part is still well-formed)."""
    rid, problem = _analyse(s, on)
    if rid is not None:
        return rid.birth_date
    if not strict and problem and problem.startswith("bad check digit"):
        t = _nfkc(s).strip()
        return _dt.date(int(t[6:10]), int(t[10:12]), int(t[12:14]))
    return None


# ----------------------------------------------------------------------------------------- phones

_MOBILE_RE = re.compile(r"(?:\+86|0086|86)?([- ]?)1[3-9][0-9](?:[- ]?[0-9]{4}){2}")
_AREA = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE_RE = re.compile(
    rf"(?P<area>{_AREA}|\({_AREA}\))[- ]?(?P<local>[1-9][0-9]{{6,7}})"
    r"(?P<ext>(?:-|转)[0-9]{1,6})?")


def _phone_text(s: Any) -> str | None:
    if not isinstance(s, str):
        return None
    return _nfkc(s).strip()


def is_mobile(s: Any) -> bool:
    """A mainland mobile number (``13812345678``, ``+86 138-1234-5678``)."""
    t = _phone_text(s)
    if not t:
        return False
    m = _MOBILE_RE.fullmatch(t)
    if not m:
        return False
    # a separator right after the country code is fine; without a country code, no leading one
    return not (m.group(1) and m.start(1) == 0)


def is_landline(s: Any) -> bool:
    """A mainland landline with its area code (``0371-12345678``, ``(010)87654321转123``)."""
    t = _phone_text(s)
    return bool(t) and _LANDLINE_RE.fullmatch(t) is not None


def phone_kind(s: Any) -> str | None:
    """``'mobile'``, ``'landline'`` or ``None``."""
    if is_mobile(s):
        return "mobile"
    if is_landline(s):
        return "landline"
    return None


def normalize_phone(s: Any) -> str | None:
    """Canonical form: 11 digits for a mobile, ``area-local`` or ``area-local-ext`` for a
    landline; ``None`` for anything else."""
    kind = phone_kind(s)
    if kind == "mobile":
        return re.sub(r"[^0-9]", "", _nfkc(s))[-11:]
    if kind == "landline":
        m = _LANDLINE_RE.fullmatch(_nfkc(s).strip())
        assert m is not None
        out = m.group("area").strip("()") + "-" + m.group("local")
        if m.group("ext"):
            out += "-" + m.group("ext")[1:]
        return out
    return None


# ---------------------------------------------------------------------------------------- masking

def mask_id(s: str) -> str:
    """``410102199001011234`` → ``410***********1234``: first 3 and last 4 kept, length kept.
    A string shorter than 11 characters keeps nothing (it is all stars)."""
    s = str(s)
    n = len(s)
    if n >= 11:
        return s[:3] + "*" * (n - 7) + s[-4:]
    return "*" * n


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9" or "０" <= ch <= "９"


def _star_digits(s: str, keep: set[int]) -> str:
    """Replace the digits of ``s`` by ``*`` except those whose digit-ordinal is in ``keep``."""
    out, k = [], 0
    for ch in s:
        if _is_digit(ch):
            out.append(ch if k in keep else "*")
            k += 1
        else:
            out.append(ch)
    return "".join(out)


def mask_phone(s: str) -> str:
    """``13812345678`` → ``138****5678``; ``0371-12345678`` → ``0371-******78``.

    Separators and a ``+86`` prefix are kept as written. Text that is neither a mobile nor a
    landline has every digit but the last two replaced by ``*``."""
    s = str(s)
    n_digits = sum(1 for ch in s if _is_digit(ch))
    kind = phone_kind(s)
    if kind == "mobile":
        start = n_digits - 11  # digits of a country-code prefix come first
        return _star_digits(s, set(range(start)) | {start, start + 1, start + 2}
                            | set(range(start + 7, start + 11)))
    if kind == "landline":
        m = _LANDLINE_RE.fullmatch(_nfkc(s).strip())
        assert m is not None
        area = len(m.group("area").strip("()"))
        local_end = area + len(m.group("local"))
        return _star_digits(s, set(range(area)) | {local_end - 2, local_end - 1})
    return _star_digits(s, {n_digits - 2, n_digits - 1})


# Full-width ASCII forms (U+FF01–U+FF5E, e.g. ``１３８``, ``（``, ``＋``) map one-to-one to ASCII, so
# free text is searched in its half-width form and masked at the same positions.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
# '*' blocks too, so that text already masked is left as it is (mask_text is idempotent).
_B_BEFORE = r"(?<![0-9A-Za-z_*])"
_B_AFTER = r"(?![0-9A-Za-z_*])"
_ID_CANDIDATE = re.compile(rf"{_B_BEFORE}(?:[0-9]{{17}}[0-9Xx]|[0-9]{{15}}){_B_AFTER}")
_MOBILE_CANDIDATE = re.compile(
    rf"{_B_BEFORE}(?:(?:\+86|0086|86)[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{{4}}){{2}}{_B_AFTER}")
_LANDLINE_CANDIDATE = re.compile(
    rf"{_B_BEFORE}(?:\(0[0-9]{{2,3}}\)|0[0-9]{{2,3}})[- ]?[0-9]{{7,8}}(?:(?:-|转)[0-9]{{1,6}})?"
    rf"{_B_AFTER}")


def _id_candidate_is_personal(t: str) -> bool:
    t = t.upper()
    if len(t) == 18:
        if check_digit(t[:17]) == t[17]:
            return True
        ymd = t[6:14]
        return (MIN_BIRTH_YEAR <= int(ymd[:4]) <= 2099
                and _date_or_none(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8])) is not None)
    return _date_or_none(1900 + int(t[6:8]), int(t[8:10]), int(t[10:12])) is not None


def _text_spans(norm: str) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    for m in _ID_CANDIDATE.finditer(norm):
        if _id_candidate_is_personal(m.group()):
            spans.append((m.start(), m.end(), "id"))
    for m in _MOBILE_CANDIDATE.finditer(norm):
        if is_mobile(m.group()):
            spans.append((m.start(), m.end(), "phone"))
    for m in _LANDLINE_CANDIDATE.finditer(norm):
        if is_landline(m.group()):
            spans.append((m.start(), m.end(), "phone"))
    # earliest first, longest first; drop overlaps
    spans.sort(key=lambda sp: (sp[0], -(sp[1] - sp[0])))
    out: list[tuple[int, int, str]] = []
    end = -1
    for sp in spans:
        if sp[0] >= end:
            out.append(sp)
            end = sp[1]
    return out


def mask_text(text: str) -> str:
    """Mask every resident ID number and phone number found in free text (see module doc)."""
    if not isinstance(text, str) or not text:
        return text
    norm = text.translate(_FULLWIDTH)
    spans = _text_spans(norm)
    if not spans:
        return text
    chars = list(text)
    for start, end, kind in spans:
        tok = norm[start:end]
        masked = mask_id(tok) if kind == "id" else mask_phone(tok)
        for i, mc in enumerate(masked):
            if mc == "*":
                chars[start + i] = "*"
    return "".join(chars)


ID_KEYS = frozenset({
    "id_number", "id_no", "id_card", "idcard", "resident_id", "citizen_id",
    "身份证号码", "身份证号", "身份证", "证件号码", "公民身份号码",
})
PHONE_KEYS = frozenset({
    "phone", "mobile", "telephone", "tel", "contact_phone", "phone_number", "mobile_phone",
    "联系电话", "电话", "手机", "手机号", "手机号码", "联系方式",
})


def mask_value(obj: Any, *, id_keys: Iterable[str] = ID_KEYS,
               phone_keys: Iterable[str] = PHONE_KEYS) -> Any:
    """A copy of a JSON-like value with every ID and phone number masked.

    Strings are masked with :func:`mask_text`; a string (or integer) under a key in ``id_keys``
    is masked whole with :func:`mask_id`, under a key in ``phone_keys`` with :func:`mask_phone`.
    Dict keys themselves are not masked. Tuples come back as lists; other values unchanged."""
    idk = id_keys if isinstance(id_keys, (set, frozenset)) else frozenset(id_keys)
    phk = phone_keys if isinstance(phone_keys, (set, frozenset)) else frozenset(phone_keys)
    return _mask(obj, None, idk, phk)


def _mask(obj: Any, key: Any, idk: frozenset, phk: frozenset) -> Any:
    if isinstance(obj, str) or (isinstance(obj, int) and not isinstance(obj, bool)):
        s = str(obj)
        if key in idk and s.strip():
            return mask_id(s)
        if key in phk and s.strip():
            return mask_phone(s)
        if isinstance(obj, int):
            masked = mask_text(s)
            return obj if masked == s else masked
        return mask_text(obj)
    if isinstance(obj, dict):
        return {k: _mask(v, k, idk, phk) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_mask(v, key, idk, phk) for v in obj]
    return obj
