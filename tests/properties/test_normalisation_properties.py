"""Order numbers and emails as customers type them normalise to one stored form."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.services.orders.queries import normalize_email, normalize_order_number
from tests.properties import FAST

numbers = st.integers(1, 10**12).map(str)
padding = st.sampled_from(["", " ", "  ", "\t", "\n", " \t "])
emails = st.emails()


@FAST
@given(
    number=numbers,
    left=padding,
    right=padding,
    hashes=st.sampled_from(["", "#", "##"]),
    inner=padding,
)
def test_order_number_with_hash_and_padding_normalises_to_the_digits(
    number: str, left: str, right: str, hashes: str, inner: str
) -> None:
    assert normalize_order_number(f"{left}{hashes}{inner}{number}{right}") == number


@FAST
@given(raw=st.text(max_size=80))
def test_order_number_normalisation_is_idempotent_and_never_raises(raw: str) -> None:
    once = normalize_order_number(raw)
    assert normalize_order_number(once) == once
    assert not once.startswith("#")
    assert once == once.strip()
    assert len(once) <= len(raw)


@FAST
@given(email=emails, left=padding, right=padding, data=st.data())
def test_email_normalisation_ignores_case_and_padding(
    email: str, left: str, right: str, data: st.DataObject
) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(email), max_size=len(email)))
    mixed = "".join(c.upper() if flip else c for c, flip in zip(email, flips, strict=True))
    assert normalize_email(f"{left}{mixed}{right}") == normalize_email(email)
    assert normalize_email(email) == email.lower()


@FAST
@given(raw=st.text(max_size=80))
def test_email_normalisation_is_idempotent_and_never_raises(raw: str) -> None:
    once = normalize_email(raw)
    assert normalize_email(once) == once
    assert once == once.strip()


@FAST
@given(a=emails, b=emails)
def test_different_addresses_stay_different(a: str, b: str) -> None:
    if a.lower() != b.lower():
        assert normalize_email(a) != normalize_email(b)
