"""engine.identity masking (RULEBOOK C10)."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govsup.engine.identity import check_digit, mask_id, mask_phone, mask_text, mask_value


def test_mask_id_examples():
    assert mask_id("410102199001011234") == "410***********1234"
    assert mask_id("11010519491231002X") == "110***********002X"
    assert mask_id("110105491231002") == "110********1002"
    assert mask_id("4101") == "****"
    assert mask_id("") == ""


def test_mask_phone_examples():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "+86 138-****-5678"
    assert mask_phone("008613812345678") == "0086138****5678"
    assert mask_phone("0371-12345678") == "0371-******78"
    assert mask_phone("010-87654321") == "010-******21"
    assert mask_phone("0371-12345678转123") == "0371-******78转***"
    assert mask_phone("(010)87654321") == "(010)******21"
    # not a phone: every digit but the last two is hidden
    assert mask_phone("12345") == "***45"
    assert mask_phone("无") == "无"


def test_mask_text_finds_ids_and_phones():
    text = ("张三，身份证号410102199001011234，手机13812345678；办公电话0371-12345678转123。"
            "李四 11010519491231002x / +86 139 1234 5678")
    assert mask_text(text) == (
        "张三，身份证号410***********1234，手机138****5678；办公电话0371-******78转***。"
        "李四 110***********002x / +86 139 **** 5678")


def test_mask_text_keeps_dates_and_case_numbers():
    text = ("受理日期2024-01-31，办结日期2024年1月31日，20240131，"
            "案号202401310000123456789，编号410102199013011239，流水号ZW13812345678，"
            "金额12345.67元，2024-01-31 13:45")
    # 410102199013011239: 18 digits, check digit wrong and birth date 19901301 not real
    assert check_digit("41010219901301123") != "9"
    assert mask_text(text) == text


def test_mask_text_masks_mistyped_id_with_plausible_birth_date():
    # wrong check digit but a real birth date: still personal data
    assert mask_text("号码410102199001011235") == "号码410***********1235"
    # valid check digit, impossible birth date: masked too (documented OR rule)
    first17 = "41010219901301123"
    n = first17 + check_digit(first17)
    assert mask_text(n) == mask_id(n)


def test_mask_text_word_boundaries():
    # part of a longer digit run or glued to letters: left alone
    assert mask_text("x13812345678") == "x13812345678"
    assert mask_text("138123456789") == "138123456789"
    assert mask_text("4101021990010112341") == "4101021990010112341"
    # Chinese characters and punctuation are boundaries
    assert mask_text("电话:13812345678。") == "电话:138****5678。"
    assert mask_text("(13812345678)") == "(138****5678)"


def test_mask_text_is_idempotent_on_overlapping_candidates():
    # found by Hypothesis: after masking the mobile, `0300-1000000` must not become a landline
    once = mask_text("13000000300-1000000")
    assert once == "130****0300-1000000"
    assert mask_text(once) == once


def test_mask_text_full_width():
    assert mask_text("手机１３８１２３４５６７８") == "手机１３８****５６７８"
    assert mask_text("（０３７１）１２３４５６７８") == "（０３７１）******７８"


def test_mask_text_legacy_15_digit():
    assert mask_text("旧证110105491231002") == "旧证110********1002"
    # 15 digits whose YYMMDD part is not a date: not an ID
    assert mask_text("编号110105491331002") == "编号110105491331002"


def test_mask_text_non_string_passthrough():
    assert mask_text("") == ""
    assert mask_text(None) is None


def test_mask_value_recursive():
    value = {
        "name": "张三",
        "id_number": "410102199002301234",  # invalid (no 30 February) but still masked whole
        "phone": "12345",
        "身份证号码": "410102199001011234",
        "联系电话": 13812345678,
        "notes": ["call 13812345678", ("0371-12345678",), {"deep": "ID 410102199001011234"}],
        "count": 3,
        "when": dt.date(2024, 1, 31),
        "flag": True,
        "amount": 1.5,
        "big": 13812345678,
    }
    masked = mask_value(value)
    assert masked == {
        "name": "张三",
        "id_number": "410***********1234",
        "phone": "***45",
        "身份证号码": "410***********1234",
        "联系电话": "138****5678",
        "notes": ["call 138****5678", ["0371-******78"], {"deep": "ID 410***********1234"}],
        "count": 3,
        "when": dt.date(2024, 1, 31),
        "flag": True,
        "amount": 1.5,
        "big": "138****5678",
    }
    assert value["phone"] == "12345"  # input untouched


def test_mask_value_keys_not_masked_and_custom_keys():
    assert mask_value({"13812345678": "x"}) == {"13812345678": "x"}
    assert mask_value({"cert": "ABCDEFGHIJKLMN"}, id_keys={"cert"}) == {"cert": "ABC*******KLMN"}


# --- Hypothesis -----------------------------------------------------------------------------

@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.text(min_size=11, max_size=30))
def test_mask_id_keeps_length_and_last_4(s):
    m = mask_id(s)
    assert len(m) == len(s)
    assert m[-4:] == s[-4:]
    assert m[:3] == s[:3]


@st.composite
def ids(draw):
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2024, 12, 31)))
    first17 = "410102" + born.strftime("%Y%m%d") + draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    return first17 + check_digit(first17)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(ids())
def test_generated_ids_are_masked_in_text(n):
    assert mask_text(f"证件{n}。") == f"证件{mask_id(n)}。"
    assert len(mask_id(n)) == 18 and mask_id(n)[-4:] == n[-4:]


_pieces = st.one_of(
    st.text(alphabet="0123456789-+ ()（）转xX年月日号码电话:，。abc_*", max_size=12),
    ids(),
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.from_regex(r"0(10|2[0-9]|[3-9][0-9]{2})-[1-9][0-9]{6,7}(转[0-9]{1,4})?", fullmatch=True),
    st.from_regex(r"20[0-9]{2}-[01][0-9]-[0-3][0-9]", fullmatch=True),
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=8).map("".join))
def test_mask_text_idempotent_and_length_preserving(text):
    once = mask_text(text)
    assert mask_text(once) == once
    assert len(once) == len(text)
    # masking only ever replaces characters by '*'
    assert all(a == b or b == "*" for a, b in zip(text, once))
