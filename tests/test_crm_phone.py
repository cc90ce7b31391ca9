"""Phone normalisation: every way a caller ID arrives gives the same index key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_core.phone import PhoneError, lookup_keys, normalize

SAME_MOBILE = [
    "13812345678",
    "+86 138 1234 5678",
    "008613812345678",
    "+8613812345678",
    "138-1234-5678",
    "013812345678",
    "(+86) 138 1234 5678",
]
SAME_LANDLINE = [
    "010-62345678",
    "01062345678",
    "+861062345678",
    "+86 10 6234 5678",
    "0086 10 62345678",
    "(010) 6234-5678",
]


@pytest.mark.parametrize("raw", SAME_MOBILE)
def test_mobile_forms_share_one_key(raw: str) -> None:
    key = normalize(raw)
    assert (key.key, key.kind, key.extension) == ("+8613812345678", "mobile", "")


@pytest.mark.parametrize("raw", SAME_LANDLINE)
def test_landline_forms_share_one_key(raw: str) -> None:
    key = normalize(raw)
    assert (key.key, key.kind) == ("+861062345678", "landline")


def test_local_landline_takes_the_default_area_code() -> None:
    assert normalize("62345678", area_code="10").key == "+861062345678"
    assert normalize("62345678", area_code="010").key == "+861062345678"
    # a number stored before the area code was configured is still found
    assert lookup_keys("62345678", area_code="10") == ["+861062345678", normalize("62345678").key]


@pytest.mark.parametrize(
    ("raw", "extension"),
    [
        ("010-62345678-123", "123"),
        ("010-62345678 ext 123", "123"),
        ("010 62345678 转 803", "803"),
        ("01062345678x55", "55"),
        ("0755-12345678 分机 8001", "8001"),
    ],
)
def test_extension_after_the_number_is_split_off(raw: str, extension: str) -> None:
    key = normalize(raw)
    assert key.extension == extension
    assert key.key in ("+861062345678", "+8675512345678")


@pytest.mark.parametrize("raw", ["4008001234", "400-800-1234", "+86 400 800 1234", "800-810-1234"])
def test_toll_free_numbers(raw: str) -> None:
    key = normalize(raw)
    assert key.kind == "tollfree"
    assert key.key.startswith("+86400") or key.key.startswith("+86800")


def test_numbers_outside_the_plan_still_agree_across_prefixes() -> None:
    keys = {normalize(raw).key for raw in ("1234567890", "+861234567890", "00861234567890")}
    assert keys == {"+861234567890"}
    assert not normalize("1234567890").valid


@pytest.mark.parametrize("raw", ["", "abc", "---", "转"])
def test_text_without_digits_is_rejected(raw: str) -> None:
    with pytest.raises(PhoneError):
        normalize(raw)


@given(st.sampled_from("3456789"), st.integers(min_value=0, max_value=10**9 - 1))
def test_any_mobile_in_any_form(second: str, rest: int) -> None:
    national = f"1{second}{rest:09d}"
    keys = {
        normalize(form).key
        for form in (
            national,
            f"+86{national}",
            f"0086{national}",
            f"+86 {national[:3]} {national[3:7]} {national[7:]}",
        )
    }
    assert len(keys) == 1
