"""engine.identity: GB 11643 resident ID numbers and mainland phone numbers."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govsup.engine.identity import (
    ResidentId,
    birth_date_from_id,
    check_digit,
    is_landline,
    is_mobile,
    normalize_phone,
    parse_resident_id,
    phone_kind,
    resident_id_problem,
)

# The worked examples of GB 11643-1999 (check digits computed by hand, ISO 7064 MOD 11-2).
GB_EXAMPLE_X = "11010519491231002X"
GB_EXAMPLE_4 = "440524188001010014"
VALID = "410102199001011234"  # sum of weighted digits = 173 ≡ 8 (mod 11) → '4'


@pytest.mark.parametrize("number", [GB_EXAMPLE_X, GB_EXAMPLE_4, VALID, "11010519491231002x"])
def test_valid_ids(number):
    assert resident_id_problem(number) is None
    rid = parse_resident_id(number)
    assert isinstance(rid, ResidentId)
    assert rid.number == number.upper()
    assert not rid.legacy


def test_check_digit_values():
    assert check_digit(GB_EXAMPLE_X[:17]) == "X"
    assert check_digit(GB_EXAMPLE_4[:17]) == "4"
    assert check_digit(VALID[:17]) == "4"
    with pytest.raises(ValueError):
        check_digit("123")


def test_parsed_fields():
    rid = parse_resident_id(GB_EXAMPLE_X)
    assert rid.region == "110105"
    assert rid.birth_date == dt.date(1949, 12, 31)
    assert rid.sequence == "002"
    assert rid.sex == "female"
    assert parse_resident_id(GB_EXAMPLE_4).sex == "male"
    assert parse_resident_id(GB_EXAMPLE_4).birth_date == dt.date(1880, 1, 1)


def test_one_digit_altered_fails_check_digit():
    altered = "410102199001011235"
    assert resident_id_problem(altered) == "bad check digit: expected 4, found 5"
    assert parse_resident_id(altered) is None
    # a sequence digit changed: the check digit no longer fits
    assert resident_id_problem("410102199001011334").startswith("bad check digit: expected ")
    assert resident_id_problem("110105194912310021") == "bad check digit: expected x, found 1"


@pytest.mark.parametrize("bad, reason", [
    ("", "empty"),
    ("41010219900101123", "wrong length: 17 characters (expected 18, or 15 for a legacy number)"),
    ("4101021990010112345", "wrong length: 19 characters (expected 18, or 15 for a legacy number)"),
    ("41010219900101123Y", "must be 17 digits followed by a digit or x"),
    ("4101021990X1011234", "must be 17 digits followed by a digit or x"),
    ("000000199001011234", "unknown region code 000000 (the first two digits must name a province)"),
    ("410102199013011234", "birth date 19901301 is not a real date"),
    ("41010219900101123", "wrong length: 17 characters (expected 18, or 15 for a legacy number)"),
])
def test_problems(bad, reason):
    assert resident_id_problem(bad) == reason


def test_not_text():
    assert resident_id_problem(410102199001011234) == "not text"
    assert parse_resident_id(None) is None


def _with_check(first17: str) -> str:
    return first17 + check_digit(first17)


def test_29_february():
    leap = _with_check("41010220000229123")
    assert resident_id_problem(leap) is None
    assert birth_date_from_id(leap) == dt.date(2000, 2, 29)
    nonleap = _with_check("41010219990229123")
    assert resident_id_problem(nonleap) == "birth date 19990229 is not a real date"
    assert birth_date_from_id(nonleap) is None
    assert resident_id_problem(_with_check("41010219990231123")) == \
        "birth date 19990231 is not a real date"


def test_birth_date_in_future_relative_to_on():
    n = _with_check("41010220300101123")
    assert resident_id_problem(n) is None  # no clock is read without `on`
    assert resident_id_problem(n, on=dt.date(2024, 6, 30)) == \
        "birth date 20300101 is after 2024-06-30"
    assert parse_resident_id(n, on=dt.date(2030, 1, 1)) is not None  # born on the reference day


def test_birth_date_before_1800():
    assert resident_id_problem(_with_check("41010217991231123")) == \
        "birth date 17991231 is before 1800"


def test_birth_date_from_id_non_strict():
    bad_check = "410102199001011235"
    assert birth_date_from_id(bad_check) is None
    assert birth_date_from_id(bad_check, strict=False) == dt.date(1990, 1, 1)
    assert birth_date_from_id("410102199013011234", strict=False) is None


def test_legacy_15_digit():
    rid = parse_resident_id("110105491231002")
    assert rid is not None and rid.legacy
    assert rid.birth_date == dt.date(1949, 12, 31)
    assert rid.as_18 == GB_EXAMPLE_X
    assert birth_date_from_id("410102900101123") == dt.date(1990, 1, 1)
    assert resident_id_problem("410102990229123") == "birth date 19990229 is not a real date"
    assert resident_id_problem("41010290010112X") == \
        "a 15-character legacy number must be all digits"


def test_whitespace_and_full_width():
    assert resident_id_problem("  410102199001011234 ") is None
    assert resident_id_problem("４１０１０２１９９００１０１１２３４") is None


# --- Hypothesis: generated valid IDs --------------------------------------------------------

PROVINCES = ["11", "31", "41", "44", "65", "82"]


@st.composite
def valid_ids(draw):
    region = draw(st.sampled_from(PROVINCES)) + draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2024, 12, 31)))
    seq = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    first17 = region + born.strftime("%Y%m%d") + seq
    return first17 + check_digit(first17), born


@settings(derandomize=True, max_examples=300, deadline=None)
@given(valid_ids(), st.integers(min_value=1, max_value=10))
def test_generated_ids_validate_and_changed_check_digit_fails(pair, shift):
    number, born = pair
    assert resident_id_problem(number, on=dt.date(2025, 1, 1)) is None
    assert birth_date_from_id(number) == born
    alphabet = "0123456789X"
    wrong = alphabet[(alphabet.index(number[-1]) + shift) % 11]
    changed = number[:-1] + wrong
    assert resident_id_problem(changed) == (
        f"bad check digit: expected {number[-1].lower()}, found {wrong.lower()}")


# --- phones ---------------------------------------------------------------------------------

@pytest.mark.parametrize("s", [
    "13812345678", "19912345678", "+8613812345678", "+86 138 1234 5678", "86-138-1234-5678",
    "008613812345678", "138-1234-5678", " 138 1234 5678 ", "１３８１２３４５６７８",
])
def test_mobiles(s):
    assert is_mobile(s)
    assert phone_kind(s) == "mobile"
    assert normalize_phone(s) == "13812345678" or normalize_phone(s) == "19912345678"


@pytest.mark.parametrize("s", [
    "12812345678", "1381234567", "138123456789", "23812345678", "-13812345678", "+1 138 1234 5678",
    "138_1234_5678", "", "abc",
])
def test_not_mobiles(s):
    assert not is_mobile(s)


@pytest.mark.parametrize("s, norm", [
    ("0371-12345678", "0371-12345678"),
    ("037112345678", "0371-12345678"),
    ("0371 6543210", "0371-6543210"),
    ("010-87654321", "010-87654321"),
    ("(010)87654321", "010-87654321"),
    ("（0371）12345678", "0371-12345678"),
    ("0371-12345678-123", "0371-12345678-123"),
    ("0371-12345678转8001", "0371-12345678-8001"),
    ("02087654321", "020-87654321"),
])
def test_landlines(s, norm):
    assert is_landline(s)
    assert phone_kind(s) == "landline"
    assert normalize_phone(s) == norm


@pytest.mark.parametrize("s", [
    "12345678",          # no area code: not accepted (documented)
    "6543210",
    "0371-0123456",      # local number starting with 0
    "0371-123456",       # 6-digit local number
    "0371-123456789",    # 9-digit local number
    "0371-12345678-1234567",  # extension too long
    "110", "2024-01-31", "",
])
def test_not_landlines(s):
    assert not is_landline(s)


def test_phone_kind_none():
    assert phone_kind("12345") is None
    assert phone_kind(None) is None
    assert normalize_phone("x") is None
