"""Shopify's app proxy signature: Shopify's documented example, multi-valued keys, an empty
`logged_in_customer_id`, staleness, and (property) any change to a signed request refuses it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.services.portal.proxy_signature import (
    MAX_SKEW_SECONDS,
    ProxySignatureError,
    proxy_signature,
    verify_proxy_request,
)

SECRET = "hush"  # Shopify's example
SIGNED_AT = datetime.fromtimestamp(1317327555, UTC)
# Shopify's documented forward of `/apps/awesome_reviews/extra/path/components?extra=1&extra=2`
# (https://shopify.dev/docs/apps/build/online-store/app-proxies/authenticate-app-proxies).
DOCUMENTED = [
    ("extra", "1"),
    ("extra", "2"),
    ("shop", "shop-name.myshopify.com"),
    ("logged_in_customer_id", "1"),
    ("path_prefix", "/apps/awesome_reviews"),
    ("timestamp", "1317327555"),
    ("signature", "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"),
]


def signed(params: list[tuple[str, str]], secret: str = "test-secret") -> list[tuple[str, str]]:
    """What Shopify forwards: the parameters and their signature (computed independently)."""
    joined: dict[str, list[str]] = {}
    for key, value in params:
        joined.setdefault(key, []).append(value)
    message = "".join(f"{k}={','.join(v)}" for k, v in sorted(joined.items()))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return [*params, ("signature", digest)]


def proxy_params(customer: str = "", at: datetime = SIGNED_AT) -> list[tuple[str, str]]:
    return [
        ("shop", "rms-demo.myshopify.com"),
        ("logged_in_customer_id", customer),
        ("path_prefix", "/apps/returns"),
        ("timestamp", str(int(at.timestamp()))),
    ]


def test_shopifys_documented_example_verifies() -> None:
    assert proxy_signature(DOCUMENTED, SECRET) == DOCUMENTED[-1][1]
    verified = verify_proxy_request(DOCUMENTED, SECRET, SIGNED_AT)
    assert verified.shop_domain == "shop-name.myshopify.com"
    assert verified.customer_id == "1"
    assert verified.path_prefix == "/apps/awesome_reviews"


def test_multi_valued_keys_are_joined_with_commas_in_their_order() -> None:
    # `extra=2&extra=1` is another request: its signature differs.
    swapped = [("extra", "2"), ("extra", "1"), *DOCUMENTED[2:]]
    with pytest.raises(ProxySignatureError):
        verify_proxy_request(swapped, SECRET, SIGNED_AT)
    # One value `1,2` joins to the same text as two values: Shopify's scheme cannot tell them
    # apart, and neither do we (the page reads no such parameter).
    assert proxy_signature([("extra", "1,2"), *DOCUMENTED[2:]], SECRET) == DOCUMENTED[-1][1]


def test_empty_logged_in_customer_id_is_a_guest() -> None:
    verified = verify_proxy_request(signed(proxy_params("")), "test-secret", SIGNED_AT)
    assert verified.customer_id is None
    assert verified.shop_domain == "rms-demo.myshopify.com"


@pytest.mark.parametrize(
    "params",
    [
        [],  # unsigned
        proxy_params(),  # no signature
        [*proxy_params(), ("signature", "0" * 64)],  # forged
        [*signed(proxy_params()), ("signature", "x")],  # two signatures
    ],
)
def test_unsigned_or_forged_requests_are_refused(params: list[tuple[str, str]]) -> None:
    with pytest.raises(ProxySignatureError):
        verify_proxy_request(params, "test-secret", SIGNED_AT)


def test_another_apps_secret_is_refused() -> None:
    with pytest.raises(ProxySignatureError):
        verify_proxy_request(signed(proxy_params(), "other-secret"), "test-secret", SIGNED_AT)


def test_stale_and_future_requests_are_refused() -> None:
    params = signed(proxy_params("42"))
    limit = timedelta(seconds=MAX_SKEW_SECONDS)
    assert verify_proxy_request(params, "test-secret", SIGNED_AT + limit).customer_id == "42"
    for off in (limit + timedelta(seconds=1), -limit - timedelta(seconds=1)):
        with pytest.raises(ProxySignatureError, match="stale"):
            verify_proxy_request(params, "test-secret", SIGNED_AT + off)


def test_signed_values_must_still_be_shopifys() -> None:
    for key, value in (("shop", "evil.example.com"), ("logged_in_customer_id", "1 OR 1=1")):
        params = [(k, value if k == key else v) for k, v in proxy_params()]
        with pytest.raises(ProxySignatureError):
            verify_proxy_request(signed(params), "test-secret", SIGNED_AT)


def test_an_odd_path_prefix_falls_back_to_the_default() -> None:
    params = [(k, '/apps/"><script>' if k == "path_prefix" else v) for k, v in proxy_params()]
    assert verify_proxy_request(signed(params), "test-secret", SIGNED_AT).path_prefix == (
        "/apps/returns"
    )


_text = st.text(st.characters(codec="utf-8"), max_size=12)


@given(
    extra=st.lists(st.tuples(st.sampled_from(["a", "b", "extra", "q"]), _text), max_size=5),
    customer=st.sampled_from(["", "1", "820982911946154508"]),
)
def test_any_signed_request_verifies_whatever_its_order(
    extra: list[tuple[str, str]], customer: str
) -> None:
    params = signed([*extra, *proxy_params(customer)])
    # Shopify may put its parameters anywhere in the query: the order of keys does not matter,
    # the order of a key's values does.
    reordered = sorted(params, key=lambda pair: pair[0])
    for candidate in (params, reordered):
        verified = verify_proxy_request(candidate, "test-secret", SIGNED_AT)
        assert verified.customer_id == (customer or None)


@given(
    position=st.integers(min_value=0, max_value=3),
    change=st.text(min_size=1, max_size=5),
)
def test_any_change_to_a_signed_value_is_refused(position: int, change: str) -> None:
    params = signed(proxy_params("7"))
    key, value = params[position]
    tampered = list(params)
    tampered[position] = (key, value + change)
    with pytest.raises(ProxySignatureError):
        verify_proxy_request(tampered, "test-secret", SIGNED_AT)


@given(extra=st.tuples(st.sampled_from(["shop", "x", "logged_in_customer_id"]), _text))
def test_an_added_parameter_is_refused(extra: tuple[str, str]) -> None:
    with pytest.raises(ProxySignatureError):
        verify_proxy_request([*signed(proxy_params("7")), extra], "test-secret", SIGNED_AT)
