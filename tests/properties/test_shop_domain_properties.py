"""Shop domains: only `name.myshopify.com` is accepted, always lower-cased, nothing else raises."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.services.integration.shop_domain import InvalidShopDomain, normalize_shop_domain
from tests.properties import FAST

SHAPE = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")
LABEL = string.ascii_letters + string.digits
shop_names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(LABEL),
    st.text(LABEL + "-", max_size=30),
)
valid_domains = st.builds(
    lambda name, suffix, pad_left, pad_right: f"{pad_left}{name}{suffix}{pad_right}",
    shop_names,
    st.sampled_from([".myshopify.com", ".MYSHOPIFY.COM", ".MyShopify.Com"]),
    st.sampled_from(["", " ", "\t"]),
    st.sampled_from(["", " ", "\n"]),
)


def _outcome(raw: str | None) -> str | None:
    try:
        return normalize_shop_domain(raw)
    except InvalidShopDomain:
        return None


@FAST
@given(raw=valid_domains)
def test_valid_domains_are_accepted_lower_cased_and_stable(raw: str) -> None:
    shop = normalize_shop_domain(raw)
    assert shop == raw.strip().lower()
    assert SHAPE.fullmatch(shop)
    assert normalize_shop_domain(shop) == shop


@FAST
@given(
    raw=st.one_of(
        st.none(), st.text(max_size=300), st.binary(max_size=80).map(lambda b: b.decode("latin-1"))
    )
)
def test_arbitrary_input_is_either_a_valid_shop_or_invalid_shop_domain(raw: str | None) -> None:
    shop = _outcome(raw)  # anything but InvalidShopDomain propagates and fails the test
    if shop is not None:
        assert SHAPE.fullmatch(shop)
        assert len(shop) <= 255


@FAST
@given(
    name=shop_names,
    attack=st.sampled_from(
        [
            "{n}.myshopify.com.evil.com",
            "{n}.myshopify.com/evil",
            "{n}.myshopify.com@evil.com",
            "evil.com/{n}.myshopify.com",
            "evil.com#{n}.myshopify.com",
            "https://{n}.myshopify.com",
            "{n}.myshopify.com:443",
            "{n}.evil.myshopify.com",
            "{n}.myshopify.co",
            "{n}myshopify.com",
            "-{n}.myshopify.com",
            "{n}..myshopify.com",
            "{n}.myshopify.com\x00",
            "{n}%2emyshopify.com",
            "{n}.myshopify.com\nX-Injected: 1",
        ]
    ),
)
def test_look_alike_and_injected_domains_are_refused(name: str, attack: str) -> None:
    with pytest.raises(InvalidShopDomain):
        normalize_shop_domain(attack.format(n=name))


@FAST
@given(name=shop_names)
def test_over_long_domains_are_refused(name: str) -> None:
    long_name = (name + "a" * 260)[:260]
    with pytest.raises(InvalidShopDomain):
        normalize_shop_domain(long_name + ".myshopify.com")


@example(raw="\u212aey.myshopify.com")
@FAST
@given(raw=st.text(max_size=40))
def test_only_ascii_input_is_ever_accepted(raw: str) -> None:
    if _outcome(raw) is not None:
        assert raw.isascii()


@FAST
@given(raw=st.one_of(valid_domains, st.text(string.printable, max_size=40)))
def test_accepted_input_differs_from_the_result_only_by_case_and_padding(raw: str) -> None:
    shop = _outcome(raw)
    if shop is not None:
        assert raw.strip().lower() == shop
