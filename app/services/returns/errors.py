"""Expected failures of return operations: a code, the input path at fault, a message."""

from __future__ import annotations

from enum import StrEnum

from app.services.user_errors import UserFacingError


class ReturnErrorCode(StrEnum):
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"  # also a wrong email: indistinguishable on purpose
    ORDER_NOT_ELIGIBLE = "ORDER_NOT_ELIGIBLE"
    BLANK = "BLANK"
    LINE_ITEM_NOT_FOUND = "LINE_ITEM_NOT_FOUND"
    DUPLICATE_LINE_ITEM = "DUPLICATE_LINE_ITEM"
    ITEM_NOT_RETURNABLE = "ITEM_NOT_RETURNABLE"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    QUANTITY_EXCEEDS_RETURNABLE = "QUANTITY_EXCEEDS_RETURNABLE"
    RESOLUTION_NOT_ALLOWED = "RESOLUTION_NOT_ALLOWED"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    EXCHANGE_VARIANT_REQUIRED = "EXCHANGE_VARIANT_REQUIRED"
    EXCHANGE_VARIANT_NOT_ALLOWED = "EXCHANGE_VARIANT_NOT_ALLOWED"
    TOO_LONG = "TOO_LONG"
    NOT_FOUND = "NOT_FOUND"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    INVALID = "INVALID"
    SYNC_NOT_FAILED = "SYNC_NOT_FAILED"
    EXCHANGE_VARIANT_NOT_FOUND = "EXCHANGE_VARIANT_NOT_FOUND"
    EXCHANGE_OUT_OF_STOCK = "EXCHANGE_OUT_OF_STOCK"
    EXCHANGE_UNAVAILABLE = "EXCHANGE_UNAVAILABLE"  # Shopify could not be asked: try again
    PHOTO_NOT_FOUND = "PHOTO_NOT_FOUND"  # expired, another shop's, or taken by another return
    # A label asked for a return that ships none, or whose label is bought or being bought.
    LABEL_NOT_AVAILABLE = "LABEL_NOT_AVAILABLE"


class ReturnUserError(UserFacingError[ReturnErrorCode]):
    __slots__ = ()


class PortalRateLimited(Exception):
    """Too many failed order lookups from one client for one tenant."""
