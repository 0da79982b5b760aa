"""Encode documents and embedded models for raw PyMongo writes (Decimal -> Decimal128, ...)."""

from __future__ import annotations

from typing import Any

from beanie.odm.utils.encoder import Encoder

_ENCODER = Encoder(to_db=True)


def to_bson(value: Any) -> Any:
    """The same encoding Beanie uses on insert, for `$set`/`$setOnInsert`/bulk upserts."""
    return _ENCODER.encode(value)
