"""Deterministic rates, so tests can predict every price and the cheapest service.

price = base + per_lb * pounds + per_zone * distance, where
- pounds = the parcel weight (ounces, as EasyPost takes it) rounded up to whole pounds, at
  least 1 (carriers bill started pounds);
- distance = |first digit of from zip - first digit of to zip| (0 to 9); a zip that does not
  start with a digit (not a US ZIP code) counts as the farthest, 9.
Every term has whole cents, so the sum is exact to the cent (Decimal, never float).
"""

from __future__ import annotations

import math
from decimal import Decimal

from .config import CarrierService

FARTHEST = 9


def billed_pounds(weight_oz: Decimal) -> int:
    return max(1, math.ceil(weight_oz / 16))


def zone_distance(from_zip: str, to_zip: str) -> int:
    first, second = from_zip.strip()[:1], to_zip.strip()[:1]
    if not (first.isdigit() and second.isdigit()):
        return FARTHEST
    return abs(int(first) - int(second))


def price(service: CarrierService, weight_oz: Decimal, from_zip: str, to_zip: str) -> Decimal:
    amount = (
        service.base
        + service.per_lb * billed_pounds(weight_oz)
        + service.per_zone * zone_distance(from_zip, to_zip)
    )
    return amount.quantize(Decimal("0.01"))
