"""The expected failures of notification operations (webhook endpoints, their deliveries, the
email switches): one code enum for the domain, as every domain has."""

from __future__ import annotations

from enum import StrEnum

from app.services.user_errors import UserFacingError


class NotificationErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    INVALID_URL = "INVALID_URL"
    BLANK = "BLANK"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    INVALID = "INVALID"
    DELIVERY_PENDING = "DELIVERY_PENDING"


class NotificationUserError(UserFacingError[NotificationErrorCode]):
    """An expected failure of an operation on webhook endpoints or their deliveries."""

    __slots__ = ()
