"""Store credit accounts: one per customer and currency, credited by `storeCreditAccountCredit`
and by returns refunded to store credit (`returnProcess` ... `refundMethods`).

Accounts and transactions are dicts in the Admin GraphQL shape (`StoreCreditAccount`,
`StoreCreditAccountCreditTransaction`); `_balance` / `_amount` (Decimals) are internal. Their ids
come from the shop's `store_credit_rng` stream.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .models import JSON, ShopState, gid, iso, utcnow
from .money import fits_currency, minor_digits, money_v2, parse_amount

CREDIT_TYPE = "StoreCreditAccountCreditTransaction"
AMOUNT = ["creditInput", "creditAmount", "amount"]
CURRENCY = ["creditInput", "creditAmount", "currencyCode"]


def parse_datetime(value: Any) -> datetime:
    """An ISO 8601 DateTime (`Z` or an offset; none means UTC); ValueError when it is not one."""
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"Invalid DateTime: {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def accounts_of(shop: ShopState, customer: JSON) -> list[JSON]:
    return [a for a in shop.store_credit_accounts.values() if a["owner"] is customer]


def account_for(shop: ShopState, customer: JSON, currency: str) -> JSON:
    """The customer's account in `currency`, created (balance 0) when there is none."""
    for existing in accounts_of(shop, customer):
        if existing["_currency"] == currency:
            return existing
    number = shop.next_id("StoreCreditAccount", rng=shop.store_credit_rng)
    account: JSON = {
        "id": gid("StoreCreditAccount", number),
        "balance": money_v2(Decimal(0), currency),
        "owner": customer,
        "_number": number,
        "_currency": currency,
        "_balance": Decimal(0),
        "_transactions": [],
    }
    shop.store_credit_accounts[account["id"]] = account
    return account


def credit(
    shop: ShopState,
    account: JSON,
    amount: Decimal,
    *,
    at: datetime,
    expires_at: str | None = None,
    origin: JSON | None = None,
) -> JSON:
    """Add `amount` to the account: a credit transaction (`origin`: the REFUND it pays, if any)."""
    currency = account["_currency"]
    account["_balance"] += amount
    account["balance"] = money_v2(account["_balance"], currency)
    number = shop.next_id("StoreCreditAccountTransaction", rng=shop.store_credit_rng)
    transaction: JSON = {
        "__typename": CREDIT_TYPE,
        "id": gid(CREDIT_TYPE, number),
        "account": account,
        "amount": money_v2(amount, currency),
        "balanceAfterTransaction": money_v2(account["_balance"], currency),
        "createdAt": iso(at),
        "expiresAt": expires_at,
        "origin": origin,
        "_number": number,
        "_amount": amount,
    }
    account["_transactions"].append(transaction)
    return transaction


def _error(field: list[str], message: str, code: str | None) -> JSON:
    return {"field": field, "message": message, "code": code}


def credit_account(shop: ShopState, owner_or_account: str, credit_input: JSON) -> JSON:
    """`storeCreditAccountCredit(id:, creditInput:)`: `id` is a customer (its account in the
    currency is created when missing) or a store credit account (the currency must be its)."""
    money = credit_input.get("creditAmount") or {}
    currency = str(money.get("currencyCode"))
    account: JSON | None = None
    customer: JSON | None = None
    errors: list[JSON] = []
    if "/Customer/" in owner_or_account:
        customer = shop.customers_by_id.get(owner_or_account)
        if customer is None:
            errors.append(_error(["id"], "Owner does not exist.", "OWNER_NOT_FOUND"))
    else:
        account = shop.store_credit_accounts.get(owner_or_account)
        if account is None:
            errors.append(
                _error(["id"], "The store credit account could not be found.", "ACCOUNT_NOT_FOUND")
            )
        elif account["_currency"] != currency:
            errors.append(
                _error(
                    CURRENCY,
                    "The currency provided does not match the currency of the store credit"
                    f" account ({account['_currency']}).",
                    "MISMATCHING_CURRENCY",
                )
            )
    amount = parse_amount(money.get("amount"))
    if amount is None or amount <= 0:
        errors.append(
            _error(
                AMOUNT,
                "A positive amount must be used to credit a store credit account.",
                "NEGATIVE_OR_ZERO_AMOUNT",
            )
        )
    elif not fits_currency(amount, currency):
        errors.append(
            _error(
                AMOUNT,
                f"Amount has more decimal places than {currency} allows"
                f" ({minor_digits(currency)}).",
                None,
            )
        )
    now = utcnow()
    raw_expiry = credit_input.get("expiresAt")
    expiry = None if raw_expiry is None else parse_datetime(raw_expiry)  # a GraphQL error
    if expiry is not None and expiry <= now:
        errors.append(
            _error(
                ["creditInput", "expiresAt"],
                "The expiry date must be in the future.",
                "EXPIRES_AT_IN_PAST",
            )
        )
    if errors:
        return {"storeCreditAccountTransaction": None, "userErrors": errors}
    assert amount is not None
    if account is None:
        assert customer is not None
        account = account_for(shop, customer, currency)
    transaction = credit(
        shop,
        account,
        amount,
        at=now,
        expires_at=None if expiry is None else iso(expiry),
    )
    return {"storeCreditAccountTransaction": transaction, "userErrors": []}


def public_account(account: JSON) -> JSON:
    """An account as the control API shows it: money as MoneyV2 (amount strings with the
    currency's minor-unit digits), transactions oldest first, `origin` the REFUND it paid."""
    return {
        "id": account["id"],
        "currency": account["_currency"],
        "balance": account["balance"],
        "transactions": [
            {
                "id": transaction["id"],
                "type": "CREDIT",
                "amount": transaction["amount"],
                "balanceAfterTransaction": transaction["balanceAfterTransaction"],
                "createdAt": transaction["createdAt"],
                "expiresAt": transaction["expiresAt"],
                "origin": None
                if transaction["origin"] is None
                else {
                    "id": transaction["origin"]["id"],
                    "kind": transaction["origin"]["kind"],
                    "gateway": transaction["origin"]["gateway"],
                },
            }
            for transaction in account["_transactions"]
        ],
    }
