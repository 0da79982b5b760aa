"""createReturnForOrder: staff create a return for a customer (on the phone, at the counter).

The same checks and the same all-or-nothing insert as the customer's `createReturn`, without the
customer's email proof (staff are authenticated) and with one more power: the shop's own rules
(the window, final-sale and non-returnable tags or product types, the methods and resolutions
offered) may be set aside with a recorded reason, the policy exception. What cannot be returned
at all stays refused: items not fulfilled, more units than were shipped or are still free, a
canceled order. The return starts APPROVED (staff decided), its history naming who and why.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from app.clock import utcnow
from app.models import Order
from app.models.return_policy import ResolutionType, ReturnMethod, ReturnPolicy
from app.models.return_request import ReturnStatus, ReturnTransition
from app.services.returns.create import (
    MAX_NOTE_LENGTH,
    CreateResult,
    ReturnRequest,
    build_return,
    checked_exchange,
    reserve_and_insert_return,
    validate_request,
)
from app.services.returns.errors import ReturnErrorCode, ReturnUserError
from app.services.returns.exchange import ExchangeCatalog
from app.services.returns.ledger import reserved_units
from app.services.returns.policy import evaluate_order
from app.services.returns.policy_store import load_policy
from app.services.returns.risk import assess
from app.services.returns.shopify_mirror import shopify_connected
from app.services.shopify_values import numeric_id

EXCEPTION_FIELD = "policy_exception"


def rules_lifted(policy: ReturnPolicy) -> ReturnPolicy:
    """`policy` with the shop's own rules set aside (what a policy exception allows)."""
    return policy.model_copy(
        update={
            "window_days": 3650,
            "final_sale_tag": "",
            "non_returnable_tags": [],
            "non_returnable_product_types": [],
            "allowed_methods": list(ReturnMethod),
            "allowed_resolutions": list(ResolutionType),
        }
    )


async def create_return_for_order(
    tenant_id: str,
    request: ReturnRequest,
    actor: str,
    policy_exception: str | None = None,
    now: datetime | None = None,
    *,
    catalog: ExchangeCatalog | None = None,
) -> CreateResult:
    """A return staff create for the order's customer; refused with user errors and nothing
    written, or created APPROVED. `catalog`: the shop's Shopify catalogue, where an exchange
    variant is checked and priced (`exchange.price_exchange`). `policy_exception`: why the shop's rules are set aside (only
    needed, and only recorded, when they would refuse the request)."""
    moment = now or utcnow()
    reason = (policy_exception or "").strip() or None
    if reason is not None and len(reason) > MAX_NOTE_LENGTH:
        return CreateResult(
            user_errors=[
                ReturnUserError(
                    [EXCEPTION_FIELD], ReturnErrorCode.TOO_LONG, f"At most {MAX_NOTE_LENGTH}."
                )
            ]
        )
    order_id = numeric_id(request.order_id) or ""
    order = (
        await Order.find_one({"tenant_id": tenant_id, "shopify_id": order_id}) if order_id else None
    )
    policy = await load_policy(tenant_id)
    if order is None or policy is None:
        return CreateResult(
            user_errors=[
                ReturnUserError(["order_id"], ReturnErrorCode.ORDER_NOT_FOUND, "No such order.")
            ]
        )
    reserved = await reserved_units(tenant_id, order.order_number)
    errors = validate_request(request, policy, evaluate_order(order, policy, reserved, moment))
    excepted = bool(errors)
    if errors:
        lifted = rules_lifted(policy)
        hard = validate_request(request, lifted, evaluate_order(order, lifted, reserved, moment))
        if hard or reason is None:
            if not hard:  # only the shop's rules refuse it: say how to go ahead
                errors.append(
                    ReturnUserError(
                        [EXCEPTION_FIELD],
                        ReturnErrorCode.BLANK,
                        "The return policy refuses this; give a policy exception to override it.",
                    )
                )
            return CreateResult(user_errors=hard or errors)
        policy = lifted
    request = replace(request, customer_email=order.email or "")
    connected = await shopify_connected(tenant_id)
    record = build_return(
        tenant_id, order, request, policy, ReturnStatus.APPROVED, connected, moment
    )
    note = f"Created by staff; policy exception: {reason}" if excepted else "Created by staff."
    record.history = [
        ReturnTransition(at=moment, actor=actor, to_status=ReturnStatus.REQUESTED, note=note),
        ReturnTransition(
            at=moment,
            actor=actor,
            from_status=ReturnStatus.REQUESTED,
            to_status=ReturnStatus.APPROVED,
        ),
    ]
    record.risk = await assess(
        tenant_id, request.customer_email, record.items, order.currency, policy, moment
    )
    if errors := await checked_exchange(record, policy, connected, catalog):
        return CreateResult(user_errors=errors)
    return await reserve_and_insert_return(record, order, request, policy, moment)
