"""Which status a return may move to from which: the whole workflow in one table."""

from __future__ import annotations

from enum import StrEnum

from app.models.return_request import ReturnStatus

S = ReturnStatus


class ReturnAction(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    RECEIVE = "receive"
    RESOLVE = "resolve"
    CANCEL = "cancel"


# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[ReturnAction, tuple[tuple[ReturnStatus, ...], ReturnStatus]] = {
    ReturnAction.APPROVE: ((S.REQUESTED,), S.APPROVED),
    ReturnAction.DECLINE: ((S.REQUESTED,), S.DECLINED),
    ReturnAction.RECEIVE: ((S.APPROVED,), S.RECEIVED),
    ReturnAction.RESOLVE: ((S.RECEIVED,), S.RESOLVED),
    ReturnAction.CANCEL: ((S.REQUESTED, S.APPROVED), S.CANCELED),
}

# Leaving the active statuses gives the units back to the order.
RELEASES_UNITS = frozenset({S.DECLINED, S.CANCELED})


def allowed_from(action: ReturnAction) -> tuple[ReturnStatus, ...]:
    return TRANSITIONS[action][0]


def target_of(action: ReturnAction) -> ReturnStatus:
    return TRANSITIONS[action][1]


def can(action: ReturnAction, status: ReturnStatus) -> bool:
    return status in allowed_from(action)
