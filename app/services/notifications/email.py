"""Emails about returns: queued by the dispatcher (rendered, one per event and recipient), sent
over SMTP by `EmailSender` workers with a lease, retried with back-off.

`SMTP_URL` is `smtp://user:pass@host:587` (STARTTLS when the server offers it; required unless
the host is loopback) or `smtps://user:pass@host:465` (implicit TLS); empty, nothing is queued.

At least once: a sender that dies after the server's 250 but before recording it loses its
lease, and the email is sent again, with the same `Message-ID` (mail clients and many servers
fold repeats of one Message-ID). Sending at most once would lose a confirmation or a refund
notice a customer never got and cannot ask for again; a rare repeat they can ignore.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from bson import ObjectId
from bson.errors import InvalidId
from pymongo.errors import DuplicateKeyError

from app.clock import utcnow
from app.config import Settings
from app.models import EmailNotification, Return, Tenant
from app.models.bson import to_bson
from app.models.email_notification import (
    LOCALES,
    EmailStatus,
    EmailTemplate,
    NotificationSettings,
    Recipient,
)
from app.models.return_request import ReturnEvent, ReturnEventType
from app.services.notifications.customer_label import usable_label
from app.services.notifications.email_templates import (
    RenderedEmail,
    TemplateRefused,
    check_template,
    render_email,
    render_endpoint_disabled,
)
from app.services.notifications.errors import NotificationErrorCode, NotificationUserError
from app.services.pagination import Page, PageRequest

logger = logging.getLogger(__name__)

# After the 1st, 2nd, ... failed attempt: 6 attempts over about 9 hours.
EMAIL_RETRY_SCHEDULE = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
REDACTED_DOMAIN = "@redacted.invalid"  # a redacted customer's pseudonym: never mailed


class SmtpUrlInvalid(ValueError):
    """SMTP_URL cannot be used; the message never carries the URL (it holds the password)."""


SMTP_URL_FORM = "smtp://[user:pass@]host[:port] or smtps://... (percent-encode / # ? @ in them)"


def mailbox(address: str | None) -> str | None:
    """`address` if it is exactly one plain mailbox (`name@domain`), else None: no display
    name, no list, no control character (a newline in it would add headers)."""
    text = (address or "").strip()
    if not text or len(text) > 254 or any(ord(c) < 32 or c in ',;<>()"' for c in text):
        return None
    try:
        parsed = Address(addr_spec=text)
    except (ValueError, IndexError, HeaderParseError):
        return None
    return text if parsed.username and parsed.domain and "." in parsed.domain else None


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    implicit_tls: bool = False

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise SmtpUrlInvalid(f"SMTP_URL must be {SMTP_URL_FORM}") from None
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SmtpUrlInvalid(f"SMTP_URL must be {SMTP_URL_FORM}")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
        )

    @property
    def loopback(self) -> bool:
        return self.host in ("127.0.0.1", "::1", "localhost")

    def describe(self) -> str:
        """For logs: no credentials."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class EmailPolicy:
    lease_seconds: float = 120.0
    timeout_seconds: float = 30.0  # per SMTP command
    send_seconds: float = 60.0  # the whole transaction: well inside the lease
    schedule: tuple[timedelta, ...] = EMAIL_RETRY_SCHEDULE


# Queuing (by the dispatcher) --------------------------------------------------------------------


async def queue_emails(
    record: Return, event: ReturnEvent, tenant: Tenant | None, status_url: str | None = None
) -> int:
    """The emails of one event as the tenant's switches say (customer, staff), rendered now;
    each written once (unique per tenant, event and recipient). How many were new.
    `status_url`: the return's status page, linked from the customer's email."""
    if tenant is None:
        return 0
    settings: NotificationSettings = tenant.notifications
    wanted: list[tuple[Recipient, str]] = []
    customer = mailbox(record.customer_email)
    if (
        event.type in settings.customer_events
        and customer
        and not customer.endswith(REDACTED_DOMAIN)
        and not _label_gone(record, event)
    ):
        wanted.append((Recipient.CUSTOMER, customer))
    staff = mailbox(settings.staff_email)
    if event.type in settings.staff_events and staff:
        wanted.append((Recipient.STAFF, staff))
    written = 0
    for recipient, to in wanted:
        own = settings.templates.get(template_key(recipient, event.type))
        rendered = render_email(
            record, event.type, recipient, tenant.name, settings.locale, own, status_url
        )
        domain = tenant.shop_domain or "returns.invalid"
        email = EmailNotification(
            tenant_id=record.tenant_id,
            event_id=event.id,
            event_type=event.type,
            return_id=str(record.id),
            recipient=recipient,
            to=to,
            locale=settings.locale,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=f"<{event.id}.{recipient.value}@{domain}>",
            created_at=utcnow(),
        )
        key = {"tenant_id": record.tenant_id, "event_id": event.id, "recipient": recipient.value}
        emails = EmailNotification.get_pymongo_collection()
        try:
            result = await emails.update_one(key, {"$setOnInsert": _bson(email)}, upsert=True)
        except DuplicateKeyError:
            continue  # two dispatchers raced: the other's insert is the email
        written += 1 if result.upserted_id is not None else 0
        if recipient is Recipient.CUSTOMER:
            await _forget_if_redacted_meanwhile(record, key, to)
    return written


def _label_gone(record: Return, event: ReturnEvent) -> bool:
    """A label's email to its customer when the label can no longer be used by the time it is
    written (voided, or being voided: the return was canceled meanwhile): not sent."""
    return event.type is ReturnEventType.LABEL_CREATED and usable_label(record.shipment) is None


async def _forget_if_redacted_meanwhile(record: Return, key: dict[str, Any], to: str) -> None:
    """A customers/redact that ran between this dispatcher's read of the return and its write
    deleted the emails it found, not this one: the return now shows another address, so this
    email goes too."""
    still = await Return.get_pymongo_collection().find_one(
        {"_id": record.id, "tenant_id": record.tenant_id, "customer_email": to}, {"_id": 1}
    )
    if still is None:
        await EmailNotification.get_pymongo_collection().delete_one(key)


def _bson(email: EmailNotification) -> dict[str, Any]:
    document: dict[str, Any] = to_bson(email)
    document.pop("_id", None)
    document.pop("id", None)
    return document


async def queue_endpoint_disabled_email(endpoint_url: str, tenant_id: str, reason: str) -> bool:
    """Tell the shop's staff that one of its webhook endpoints was disabled (when it has a
    staff address); once per disabling. Whether one was queued."""
    tenant = await Tenant.find_one({"_id": tenant_id})
    if tenant is None or not tenant.notifications.staff_email:
        return False
    settings = tenant.notifications
    rendered = render_endpoint_disabled(endpoint_url, reason, tenant.name, settings.locale)
    now = utcnow()
    key = f"endpoint_disabled_{uuid.uuid4().hex}"
    email = EmailNotification(
        tenant_id=tenant_id,
        event_id=key,
        recipient=Recipient.STAFF,
        to=settings.staff_email,
        locale=settings.locale,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=f"<{key}@{tenant.shop_domain or 'returns.invalid'}>",
        created_at=now,
    )
    await EmailNotification.get_pymongo_collection().insert_one(_bson(email))
    return True


# Sending ----------------------------------------------------------------------------------------


def build_message(email: EmailNotification, sender: str) -> EmailMessage:
    message = EmailMessage()
    name, address = parseaddr(sender)
    message["From"] = formataddr((name, address)) if name else address
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id
    message["Date"] = formatdate(usegmt=True)  # this attempt's
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    message["Content-Language"] = email.locale  # after the content, which resets Content-*
    return message


async def send_email(
    email: EmailNotification, target: SmtpTarget, sender: str, timeout: float
) -> None:
    """One SMTP transaction; raises `aiosmtplib.SMTPException` (or OSError) when it fails."""
    await aiosmtplib.send(
        build_message(email, sender),
        hostname=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        use_tls=target.implicit_tls,
        # STARTTLS whenever offered; required except on loopback (a local relay or the
        # development server).
        start_tls=False if target.implicit_tls else (None if target.loopback else True),
        timeout=timeout,
    )


def _permanent(exc: BaseException) -> bool:
    """Sending again changes nothing: the server refused the recipient or the message for good
    (5xx to RCPT or DATA), or the message cannot be built. A 5xx elsewhere (at connect, HELO,
    authentication, MAIL FROM) is our setup's, fixed by an operator: retried."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= error.code < 600 for error in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return 500 <= exc.code < 600
    return isinstance(exc, ValueError | UnicodeError)


def public_error(exc: BaseException) -> str:
    """What the merchant may read of a failure."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused | aiosmtplib.SMTPRecipientRefused):
        return "the mail server refused the recipient"
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return "the mail server refused the message"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPSenderRefused):
        return "the mail server refused our account or sender (an operator fixes it)"
    if isinstance(exc, ValueError | UnicodeError):
        return "the message could not be built (an invalid address or header)"
    if isinstance(exc, TimeoutError | aiosmtplib.SMTPTimeoutError):
        return "the mail server did not answer in time"
    if isinstance(exc, aiosmtplib.SMTPException | OSError):
        return "the mail server could not be reached"
    return "internal error (operators are alerted)"


class EmailSender:
    """Claims one due email, sends it, records the outcome."""

    idle_seconds = 1.0  # an email is sent within about a second of being queued

    def __init__(
        self,
        worker_id: str,
        settings: Settings,
        policy: EmailPolicy | None = None,
        name: str = "emails",
    ) -> None:
        self.worker_id = worker_id
        self.settings = settings
        self.target = SmtpTarget.parse(settings.smtp_url)
        self.policy = policy or EmailPolicy()
        self.name = name

    async def claim(self) -> EmailNotification | None:
        emails = EmailNotification.get_pymongo_collection()
        now = utcnow()
        due = {"status": EmailStatus.PENDING.value, "next_attempt_at": {"$lte": now}}
        while True:
            found = await emails.find_one(due, sort=[("next_attempt_at", 1)])
            if found is None:
                return None
            token = f"{self.worker_id}:{uuid.uuid4().hex[:12]}"
            lease_end = now + timedelta(seconds=self.policy.lease_seconds)
            taken = await emails.update_one(
                {
                    "_id": found["_id"],
                    "tenant_id": found["tenant_id"],
                    "status": EmailStatus.PENDING.value,
                    "next_attempt_at": found["next_attempt_at"],
                },
                {"$set": {"next_attempt_at": lease_end, "lease_owner": token}},
            )
            if taken.modified_count == 1:
                found.update(next_attempt_at=lease_end, lease_owner=token)
                claimed: EmailNotification = EmailNotification.model_validate(found)
                return claimed

    async def run_once(self) -> bool:
        email = await self.claim()
        if email is None:
            return False
        await self.send(email)
        return True

    async def run_until_idle(self) -> int:
        handled = 0
        while await self.run_once():
            handled += 1
        return handled

    async def send(self, email: EmailNotification) -> None:
        try:
            async with asyncio.timeout(self.policy.send_seconds):
                await send_email(
                    email, self.target, self.settings.mail_from, self.policy.timeout_seconds
                )
        except Exception as exc:  # the server's answer, or a message it cannot take: recorded
            await self._failed(email, exc)
            return
        await self._record(
            email,
            {
                "status": EmailStatus.SENT.value,
                "sent_at": utcnow(),
                "error": None,
                "next_attempt_at": None,
                "lease_owner": None,
            },
        )

    async def _failed(self, email: EmailNotification, exc: BaseException) -> None:
        attempts = email.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:500]
        give_up = _permanent(exc) or attempts > len(self.policy.schedule)
        # The merchant sees what kind of failure it was; the server's own words (host names,
        # addresses) stay in our logs.
        values: dict[str, Any] = {
            "attempts": attempts,
            "error": public_error(exc),
            "lease_owner": None,
        }
        if give_up:
            values.update(status=EmailStatus.FAILED.value, next_attempt_at=None)
        else:
            values["next_attempt_at"] = utcnow() + self.policy.schedule[attempts - 1]
        await self._record(email, values)
        (logger.error if give_up else logger.warning)(
            "email %s to the %s of return %s failed (attempt %d, via %s)%s: %s",
            email.id,
            email.recipient.value,
            email.return_id,
            attempts,
            self.target.describe(),
            " - given up" if give_up else "",
            error,
        )

    async def _record(self, email: EmailNotification, values: dict[str, Any]) -> None:
        written = await EmailNotification.get_pymongo_collection().update_one(
            {
                "_id": email.id,
                "tenant_id": email.tenant_id,
                "status": EmailStatus.PENDING.value,
                "lease_owner": email.lease_owner,
            },
            {"$set": values},
        )
        if written.modified_count != 1:
            logger.warning("email %s: lease lost before its result was recorded", email.id)


# Reading and retrying --------------------------------------------------------------------------


async def list_emails(
    tenant_id: str,
    page: PageRequest,
    status: EmailStatus | None = None,
    return_id: str | None = None,
) -> Page[EmailNotification]:
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if status is not None:
        query["status"] = status.value
    if return_id is not None:
        query["return_id"] = return_id
    query.update(page.filter())
    items = await EmailNotification.find(query).sort(page.sort).limit(page.limit).to_list()
    return page.page(items, lambda email: (email.created_at, email.id))


async def get_email(tenant_id: str, email_id: str) -> EmailNotification | None:
    try:
        oid = ObjectId(email_id)
    except (InvalidId, TypeError):
        return None
    return await EmailNotification.find_one({"_id": oid, "tenant_id": tenant_id})


async def retry_failed_emails(tenant_id: str | None = None) -> int:
    """Put failed emails back in the queue (all tenants' when `tenant_id` is None)."""
    query: dict[str, Any] = {"status": EmailStatus.FAILED.value}
    if tenant_id is not None:
        query["tenant_id"] = tenant_id
    result = await EmailNotification.get_pymongo_collection().update_many(
        query,
        {
            "$set": {
                "status": EmailStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": utcnow(),
                "lease_owner": None,
            }
        },
    )
    return int(result.modified_count)


# A tenant's switches and words ----------------------------------------------------------------


def template_key(recipient: Recipient, event: ReturnEventType) -> str:
    """ "customer:approved": a field name of the tenant's document (no dot in it)."""
    return f"{recipient.value}:{event.name.lower()}"


def parse_template_key(key: str) -> tuple[Recipient, ReturnEventType]:
    recipient, event = key.split(":", 1)
    return Recipient(recipient), ReturnEventType[event.upper()]


async def update_notification_template(
    tenant_id: str,
    recipient: Recipient,
    event: ReturnEventType,
    subject: str | None,
    message: str | None,
) -> tuple[Tenant | None, list[NotificationUserError]]:
    """The shop's own subject and message for one email ("" or None: the standard words).
    Each is checked now (it parses, uses only the allowed variables, renders a sample return):
    a template that would fail is refused here, never at sending."""
    own = EmailTemplate(
        subject=(subject or "").strip() or None, message=(message or "").strip() or None
    )
    for field_name, source in (("subject", own.subject), ("message", own.message)):
        if source is None:
            continue
        try:
            check_template(source)
        except TemplateRefused as exc:
            return None, [
                NotificationUserError([field_name], NotificationErrorCode.INVALID, str(exc))
            ]
    key = f"notifications.templates.{template_key(recipient, event)}"
    change: dict[str, Any] = (
        {"$unset": {key: ""}, "$set": {"updated_at": utcnow()}}
        if own.subject is None and own.message is None
        else {"$set": {key: to_bson(own), "updated_at": utcnow()}}
    )
    written = await Tenant.get_pymongo_collection().update_one({"_id": tenant_id}, change)
    if written.matched_count != 1:
        return None, [
            NotificationUserError(["tenant"], NotificationErrorCode.NOT_FOUND, "No such shop.")
        ]
    return await Tenant.find_one({"_id": tenant_id}), []


async def preview_notification(
    tenant_id: str, return_id: str, event: ReturnEventType, recipient: Recipient
) -> RenderedEmail | None:
    """The email as it would be sent now for this return and event (nothing is sent); None
    for a return the shop does not have."""
    try:
        oid = ObjectId(return_id)
    except (InvalidId, TypeError):
        return None
    record = await Return.find_one({"_id": oid, "tenant_id": tenant_id})
    tenant = await Tenant.find_one({"_id": tenant_id})
    if record is None or tenant is None:
        return None
    settings = tenant.notifications
    own = settings.templates.get(template_key(recipient, event))
    return render_email(record, event, recipient, tenant.name, settings.locale, own)


# A tenant's switches ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationSettingsInput:
    customer_events: list[Any] | None = None  # ReturnEventType values
    staff_events: list[Any] | None = None
    staff_email: str | None = None  # "" clears it
    locale: str | None = None


async def update_notification_settings(
    tenant_id: str, given: NotificationSettingsInput
) -> tuple[Tenant | None, list[NotificationUserError]]:
    """Change the tenant's email switches; a bad value is a user error and changes nothing."""
    tenant = await Tenant.find_one({"_id": tenant_id})
    if tenant is None:
        return None, [
            NotificationUserError(["tenant"], NotificationErrorCode.NOT_FOUND, "No such shop.")
        ]
    current = tenant.notifications.model_copy()
    if given.customer_events is not None:
        current.customer_events = sorted(set(given.customer_events))
    if given.staff_events is not None:
        current.staff_events = sorted(set(given.staff_events))
    if given.staff_email is not None:
        address = given.staff_email.strip()
        if address and mailbox(address) is None:
            return None, [
                NotificationUserError(
                    ["staff_email"], NotificationErrorCode.INVALID, "Not an email address."
                )
            ]
        current.staff_email = address or None
    if given.locale is not None:
        if given.locale not in LOCALES:
            return None, [
                NotificationUserError(
                    ["locale"],
                    NotificationErrorCode.INVALID,
                    f"One of {', '.join(LOCALES)}.",
                )
            ]
        current.locale = given.locale
    # Field by field: a template saved meanwhile (`notifications.templates`) is kept.
    fields = ("customer_events", "staff_events", "staff_email", "locale")
    await Tenant.get_pymongo_collection().update_one(
        {"_id": tenant_id},
        {
            "$set": {
                **{f"notifications.{name}": to_bson(getattr(current, name)) for name in fields},
                "updated_at": utcnow(),
            }
        },
    )
    tenant.notifications = current
    return tenant, []
