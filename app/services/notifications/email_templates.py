"""The emails' words and layout: a message catalog per locale, and two layouts (plain text and
HTML) in Jinja2's sandbox.

Templates see only the variables `EmailContext` lists (no objects of the service, no
attributes beyond them: the sandbox refuses the rest), and HTML escapes every value. A return's
numbers are formatted for the locale (decimal separator, currency after the amount).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from app.models.email_notification import LOCALES, EmailTemplate, Recipient
from app.models.money import minor_unit
from app.models.return_request import Return, ReturnEventType
from app.services.notifications.customer_label import (
    LABEL_NOT_BOUGHT,
    tracked,
    usable_label,
    web_url,
)
from app.services.shipping.labels import LABEL_METHODS

# (subject, headline, message) per recipient kind and event; {order} and {shop} are filled in.
CATALOG: dict[str, dict[Recipient, dict[ReturnEventType, tuple[str, str, str]]]] = {
    "en": {
        Recipient.CUSTOMER: {
            ReturnEventType.REQUESTED: (
                "We received your return request for order {order}",
                "Your return request is in",
                "We will review it and write to you when it is approved.",
            ),
            ReturnEventType.APPROVED: (
                "Your return for order {order} is approved",
                "Your return is approved",
                "Please send the items back to {shop}. We will refund you once they arrive.",
            ),
            ReturnEventType.DECLINED: (
                "Your return for order {order} was declined",
                "Your return was declined",
                "We could not accept this return.",
            ),
            ReturnEventType.RECEIVED: (
                "We received the items of order {order}",
                "Your items arrived",
                "We are checking them and will settle your return shortly.",
            ),
            ReturnEventType.RESOLVED: (
                "Your return for order {order} is complete",
                "Your return is complete",
                "Here is how we settled it.",
            ),
            ReturnEventType.CANCELED: (
                "Your return for order {order} was canceled",
                "Your return was canceled",
                "Nothing more needs to be sent back.",
            ),
            ReturnEventType.LABEL_CREATED: (
                "Your return label for order {order} is ready",
                "Your return label is ready",
                "Use it to send the items back to {shop}. We will settle your return once they "
                "arrive.",
            ),
        },
        Recipient.STAFF: {
            **{
                event: (
                    f"Return {{order}}: {event.value.split('.', 1)[1]}",
                    f"A return was {event.value.split('.', 1)[1]}",
                    "Open the returns app to see it.",
                )
                for event in ReturnEventType
            },
            ReturnEventType.LABEL_CREATED: (
                "Return {order}: label created",
                "A return's prepaid label was bought",
                "Open the returns app to see it.",
            ),
        },
    },
    "fr": {
        Recipient.CUSTOMER: {
            ReturnEventType.REQUESTED: (
                "Nous avons reçu votre demande de retour pour la commande {order}",
                "Votre demande de retour est enregistrée",
                "Nous allons l'examiner et vous écrirons dès qu'elle sera acceptée.",
            ),
            ReturnEventType.APPROVED: (
                "Votre retour pour la commande {order} est accepté",
                "Votre retour est accepté",
                "Merci de renvoyer les articles à {shop}. Nous vous rembourserons à leur arrivée.",
            ),
            ReturnEventType.DECLINED: (
                "Votre retour pour la commande {order} a été refusé",
                "Votre retour a été refusé",
                "Nous ne pouvons pas accepter ce retour.",
            ),
            ReturnEventType.RECEIVED: (
                "Nous avons reçu les articles de la commande {order}",
                "Vos articles sont arrivés",
                "Nous les vérifions et clôturerons votre retour sous peu.",
            ),
            ReturnEventType.RESOLVED: (
                "Votre retour pour la commande {order} est terminé",
                "Votre retour est terminé",
                "Voici comment nous l'avons réglé.",
            ),
            ReturnEventType.CANCELED: (
                "Votre retour pour la commande {order} a été annulé",
                "Votre retour a été annulé",
                "Vous n'avez plus rien à renvoyer.",
            ),
            ReturnEventType.LABEL_CREATED: (
                "Votre étiquette de retour pour la commande {order} est prête",
                "Votre étiquette de retour est prête",
                "Utilisez-la pour renvoyer les articles à {shop}. Nous clôturerons votre retour à "
                "leur arrivée.",
            ),
        },
        Recipient.STAFF: {
            **{
                event: (
                    f"Retour {{order}} : {event.value.split('.', 1)[1]}",
                    f"Un retour : {event.value.split('.', 1)[1]}",
                    "Ouvrez l'application des retours pour le voir.",
                )
                for event in ReturnEventType
            },
            ReturnEventType.LABEL_CREATED: (
                "Retour {order} : étiquette créée",
                "L'étiquette prépayée d'un retour a été achetée",
                "Ouvrez l'application des retours pour le voir.",
            ),
        },
    },
}
LABELS = {
    "en": {
        "lines": "Items",
        "refund": "Refund",
        "reason": "Reason",
        "store_credit": "Store credit",
        "method": "Settled by",
        "balance_due": "Left to pay for the exchange",
        "status_url": "Follow your return",
        "label_url": "Print your label (PDF) and stick it on the parcel",
        "qr_code_url": "Open the QR code",
        "carrier": "Carrier",
        "tracking_url": "Track your parcel",
        "tracking_number": "Tracking number",
    },
    "fr": {
        "lines": "Articles",
        "refund": "Remboursement",
        "reason": "Motif",
        "store_credit": "Avoir",
        "method": "Réglé par",
        "balance_due": "Reste à payer pour l'échange",
        "status_url": "Suivre votre retour",
        "label_url": "Imprimez votre étiquette (PDF) et collez-la sur le colis",
        "qr_code_url": "Ouvrir le code QR",
        "carrier": "Transporteur",
        "tracking_url": "Suivre votre colis",
        "tracking_number": "Numéro de suivi",
    },
}
# The QR code: a box-free drop-off's (the carrier packs the items), or a label's printed at the
# counter; and the approved email's word on a label not bought yet.
QR_CODE_TEXT = {
    "en": "No printer or box? Show this code at a {carrier} counter",
    "fr": "Ni imprimante ni carton ? Présentez ce code à un comptoir {carrier}",
}
QR_PRINTED_TEXT = {
    "en": "No printer? Show this code at a {carrier} counter to have the label printed",
    "fr": "Pas d'imprimante ? Présentez ce code à un comptoir {carrier} pour y faire imprimer "
    "l'étiquette",
}
ANY_CARRIER = {"en": "carrier", "fr": "du transporteur"}
LABEL_FOLLOWS = {
    "en": "Your prepaid return label will follow in a separate email.",
    "fr": "Votre étiquette de retour prépayée suivra dans un autre e-mail.",
}

TEXT_LAYOUT = """{{ headline }}

{{ message }}
{% if reason %}
{{ labels.reason }}: {{ reason }}
{% endif %}{% if items %}
{{ labels.lines }}:
{% for item in items %}- {{ item.quantity }} x {{ item.title }}
{% endfor %}{% endif %}{% if method %}
{{ labels.method }}: {{ method }}
{% endif %}{% if refund %}
{{ labels.refund }}: {{ refund }}
{% endif %}{% if store_credit %}
{{ labels.store_credit }}: {{ store_credit }}
{% endif %}{% if balance_due %}
{{ labels.balance_due }}: {{ balance_due }}
{% endif %}{% if label_note %}
{{ label_note }}
{% endif %}{% if label_url %}
{{ labels.label_url }}: {{ label_url }}
{% endif %}{% if qr_code_url %}
{{ qr_code_text }}: {{ qr_code_url }}
{% endif %}{% if carrier %}
{{ labels.carrier }}: {{ carrier }}{% if service %} ({{ service }}){% endif %}
{% endif %}{% if tracking_number %}
{{ labels.tracking_number }}: {{ tracking_number }}
{% endif %}{% if tracking_url %}
{{ labels.tracking_url }}: {{ tracking_url }}
{% endif %}{% if status_url %}
{{ labels.status_url }}: {{ status_url }}
{% endif %}
{{ shop }}{% if order %} - {{ order }}{% endif %}
"""

HTML_LAYOUT = """<!doctype html>
<html lang="{{ locale }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: sans-serif; color: #1a1a1a">
<h1 style="font-size: 20px">{{ headline }}</h1>
<p>{{ message }}</p>
{% if reason %}<p><strong>{{ labels.reason }}:</strong> {{ reason }}</p>{% endif %}
{% if items %}<h2 style="font-size: 16px">{{ labels.lines }}</h2>
<ul>{% for item in items %}<li>{{ item.quantity }} &times; {{ item.title }}</li>{% endfor %}</ul>{% endif %}
{% if method %}<p><strong>{{ labels.method }}:</strong> {{ method }}</p>{% endif %}
{% if refund %}<p><strong>{{ labels.refund }}:</strong> {{ refund }}</p>{% endif %}
{% if balance_due %}<p><strong>{{ labels.balance_due }}:</strong> {{ balance_due }}</p>{% endif %}
{% if store_credit %}<p><strong>{{ labels.store_credit }}:</strong> {{ store_credit }}</p>{% endif %}
{% if label_note %}<p>{{ label_note }}</p>{% endif %}
{% if label_url %}<p><a href="{{ label_url }}" style="font-weight: bold">{{ labels.label_url }}</a></p>{% endif %}
{% if qr_code_url %}<p>{{ qr_code_text }}: <a href="{{ qr_code_url }}">{{ labels.qr_code_url }}</a></p>{% endif %}
{% if carrier %}<p><strong>{{ labels.carrier }}:</strong> {{ carrier }}{% if service %} ({{ service }}){% endif %}</p>{% endif %}
{% if tracking_number %}<p><strong>{{ labels.tracking_number }}:</strong> {{ tracking_number }}</p>{% endif %}
{% if tracking_url %}<p><a href="{{ tracking_url }}">{{ labels.tracking_url }}</a></p>{% endif %}
{% if status_url %}<p><a href="{{ status_url }}">{{ labels.status_url }}</a></p>{% endif %}
<p style="color: #616161">{{ shop }}{% if order %} &middot; {{ order }}{% endif %}</p>
</body></html>
"""

_TEXT = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
_HTML = SandboxedEnvironment(autoescape=True)
_TEXT_TEMPLATE = _TEXT.from_string(TEXT_LAYOUT)
_HTML_TEMPLATE = _HTML.from_string(HTML_LAYOUT)


@dataclass(frozen=True, slots=True)
class EmailItem:
    title: str
    quantity: int


@dataclass(frozen=True, slots=True)
class EmailContext:
    """Everything a template may use."""

    locale: str
    subject: str
    headline: str
    message: str
    shop: str
    order: str
    items: list[EmailItem] = field(default_factory=list)
    reason: str | None = None
    refund: str | None = None
    store_credit: str | None = None
    method: str | None = None  # how it was settled (resolved only)
    balance_due: str | None = None  # what a dearer exchange leaves the customer to pay
    status_url: str | None = None  # the return's status page (customers' emails only)
    # The prepaid label (label_created and approved emails; the received one: tracking only).
    label_url: str | None = None  # the PDF to print
    qr_code_url: str | None = None  # box-free drop-off: the code shown at the carrier's counter
    qr_code_text: str | None = None  # what to do with it (the layout's)
    carrier: str | None = None
    service: str | None = None  # the layout's, beside the carrier
    tracking_number: str | None = None
    tracking_url: str | None = None
    label_note: str | None = None  # a label method's label not bought yet (the layout's)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


ENDPOINT_DISABLED = {
    "en": (
        "Your webhook endpoint was disabled",
        "A webhook endpoint was disabled",
        "Every delivery to {url} failed for about a day ({reason}). Nothing more is sent to it "
        "until you enable it again in the returns app; then replay what it missed.",
    ),
    "fr": (
        "Votre point de terminaison webhook a été désactivé",
        "Un point de terminaison webhook a été désactivé",
        "Toutes les livraisons vers {url} ont échoué pendant environ un jour ({reason}). Plus rien "
        "ne lui est envoyé tant que vous ne le réactivez pas dans l'application des retours ; "
        "rejouez ensuite ce qu'il a manqué.",
    ),
}


def render_endpoint_disabled(url: str, reason: str, shop: str, locale: str) -> RenderedEmail:
    locale = pick_locale(locale)
    subject, headline, message = ENDPOINT_DISABLED[locale]
    context = EmailContext(
        locale=locale,
        subject=subject,
        headline=headline,
        message=message.format(url=url, reason=reason),
        shop=shop,
        order="",
    )
    variables = {**asdict(context), "labels": LABELS[locale]}
    return RenderedEmail(
        subject=subject,
        text=_TEXT_TEMPLATE.render(variables),
        html=_HTML_TEMPLATE.render(variables),
    )


METHODS = {
    "en": {
        "refund": "a refund to your original payment",
        "store_credit": "store credit",
        "exchange": "an exchange",
    },
    "fr": {
        "refund": "un remboursement sur votre moyen de paiement",
        "store_credit": "un avoir",
        "exchange": "un échange",
    },
}
PLUS_TAX = {"en": " plus tax", "fr": " plus taxes"}


def _refund_text(record: Return, outcome: Any, locale: str) -> str:
    """The refund with its tax once the Shopify mirror recorded it; before that (the email is
    written when the return is resolved, the tax just before paying), "plus tax" for a return
    paid through Shopify."""
    if outcome.tax is not None:
        return format_money(outcome.refund_amount + outcome.tax, outcome.currency, locale)
    text = format_money(outcome.refund_amount, outcome.currency, locale)
    return text + PLUS_TAX[locale] if record.shopify_sync is not None else text


def _label_fields(record: Return, event: ReturnEventType, locale: str) -> dict[str, Any]:
    """What an email says of the return's label: the label itself once bought (its own email,
    and the approved one when it was bought first); that it will follow (approved, a label
    method's label not bought yet); the parcel's tracking (received)."""
    shipment = record.shipment
    label = usable_label(shipment)
    if label is not None and event in (ReturnEventType.LABEL_CREATED, ReturnEventType.APPROVED):
        qr_code_url = web_url(label.qr_code_url)
        qr_text = (QR_CODE_TEXT if label.drop_off else QR_PRINTED_TEXT)[locale]
        return {
            "label_url": web_url(label.label_url),
            "qr_code_url": qr_code_url,
            "qr_code_text": qr_text.format(carrier=label.carrier or ANY_CARRIER[locale])
            if qr_code_url
            else None,
            "carrier": label.carrier,
            "service": label.service,
            "tracking_number": label.tracking_number,
            "tracking_url": web_url(label.tracking_url),
        }
    if (
        event is ReturnEventType.APPROVED
        and record.return_method in LABEL_METHODS
        and (shipment is None or shipment.status in LABEL_NOT_BOUGHT)
    ):
        return {"label_note": LABEL_FOLLOWS[locale]}
    moving = tracked(shipment)
    if event is ReturnEventType.RECEIVED and moving is not None and moving.tracking_number:
        return {
            "carrier": moving.carrier,
            "tracking_number": moving.tracking_number,
            "tracking_url": web_url(moving.tracking_url),
        }
    return {}


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """`25.00 USD` in English, `25,00 USD` in French: the currency's own minor unit."""
    places = minor_unit(currency)
    text = f"{amount:,.{places}f}"
    if locale == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return f"{text} {currency}"


def pick_locale(wanted: str | None) -> str:
    base = (wanted or "en").split("-", 1)[0].split("_", 1)[0].lower()
    return base if base in LOCALES else "en"


# What a shop's own subject or message may use (`EmailContext` without the layout's parts).
TEMPLATE_VARIABLES = frozenset(
    {
        "shop",
        "order",
        "items",
        "reason",
        "refund",
        "store_credit",
        "method",
        "balance_due",
        "status_url",
        "label_url",
        "qr_code_url",
        "tracking_url",
        "tracking_number",
        "carrier",
    }
)
MAX_TEMPLATE_LENGTH = 2000
MAX_RENDERED_LENGTH = 10_000  # a template that renders more (`{{ "x" * 10**8 }}`) is not used


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox, and no arithmetic that builds huge values (`"x" * 10**10` would take the
    process's memory before any length check)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("powers are not allowed in templates")
        sized = [v for v in (left, right) if isinstance(v, str | list | tuple)]
        counts = [v for v in (left, right) if isinstance(v, int)]
        if sized and counts and len(sized[0]) * counts[0] > MAX_RENDERED_LENGTH:
            raise SecurityError("the result would be too long")
        return super().call_binop(context, operator, left, right)


_OWN = _BoundedSandbox(autoescape=False, undefined=StrictUndefined)


class TemplateRefused(ValueError):
    """A shop's template that cannot be used: the reason, for the merchant."""


def check_template(source: str) -> None:
    """Raise `TemplateRefused` for a template that does not parse, names a variable outside
    `TEMPLATE_VARIABLES`, or fails on a sample return (so it never fails on a real one)."""
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise TemplateRefused(f"At most {MAX_TEMPLATE_LENGTH} characters.")
    try:
        parsed = _OWN.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateRefused(f"Line {exc.lineno}: {exc.message}") from None
    unknown = sorted(meta.find_undeclared_variables(parsed) - TEMPLATE_VARIABLES)
    if unknown:
        raise TemplateRefused(
            f"Unknown variable {', '.join(unknown)}; use {', '.join(sorted(TEMPLATE_VARIABLES))}."
        )
    try:
        rendered = _OWN.from_string(source).render(_SAMPLE)
    except Exception as exc:
        raise TemplateRefused(f"It fails on a sample return: {exc}") from None
    if len(rendered) > MAX_RENDERED_LENGTH:
        raise TemplateRefused(f"It renders more than {MAX_RENDERED_LENGTH} characters.")


_SAMPLE = {
    "shop": "Sample shop",
    "order": "#1001",
    "items": [EmailItem("T-shirt", 1)],
    "reason": "Worn",
    "refund": "25.00 USD",
    "store_credit": None,
    "method": "a refund to your original payment",
    "balance_due": None,
    "status_url": "https://returns.example.com/portal/sample.myshopify.com/returns/x",
    "label_url": "https://carrier.example.com/labels/sample.pdf",
    "qr_code_url": None,
    "tracking_url": "https://carrier.example.com/track/9400100000000000000000",
    "tracking_number": "9400100000000000000000",
    "carrier": "USPS",
}


def _own(source: str | None, fallback: str, variables: dict[str, Any]) -> str:
    """The shop's template rendered, or the catalog's words when it has none (or, were a saved
    template ever to fail, rather than no email)."""
    if not source:
        return fallback
    try:
        rendered = _OWN.from_string(source).render(variables)
    except Exception:  # a template that passed its check may still fail on another return
        return fallback
    return rendered if len(rendered) <= MAX_RENDERED_LENGTH else fallback


def render_email(
    record: Return,
    event: ReturnEventType,
    recipient: Recipient,
    shop: str,
    locale: str,
    own: EmailTemplate | None = None,
    status_url: str | None = None,
) -> RenderedEmail:
    locale = pick_locale(locale)
    subject, headline, message = CATALOG[locale][recipient][event]
    order = f"#{record.order_number}"
    outcome = record.outcome if event is ReturnEventType.RESOLVED else None
    context = EmailContext(
        locale=locale,
        subject=subject.format(order=order, shop=shop),
        headline=headline,
        message=message.format(order=order, shop=shop),
        shop=shop,
        order=order,
        items=[EmailItem(item.title or item.sku or "", item.quantity) for item in record.items],
        reason=record.decline_reason if event is ReturnEventType.DECLINED else None,
        refund=_refund_text(record, outcome, locale)
        if outcome is not None and outcome.refund_amount > 0
        else None,
        method=METHODS[locale][record.resolution_type.value] if outcome is not None else None,
        balance_due=format_money(outcome.balance_due, outcome.currency, locale)
        if outcome is not None and outcome.balance_due > 0
        else None,
        store_credit=format_money(outcome.store_credit_amount, outcome.currency, locale)
        if outcome is not None and outcome.store_credit_amount > 0
        else None,
        status_url=status_url if recipient is Recipient.CUSTOMER else None,
        **_label_fields(record, event, locale),
    )
    if own is not None:
        shared = {name: getattr(context, name) for name in TEMPLATE_VARIABLES}
        context = replace(
            context,
            subject=_own(own.subject, context.subject, shared),
            message=_own(own.message, context.message, shared),
        )
    # One line, whatever a template made of it: a subject is a header.
    context = replace(context, subject=" ".join(context.subject.split())[:250])
    variables = {**asdict(context), "labels": LABELS[locale]}
    return RenderedEmail(
        subject=context.subject,
        text=_TEXT_TEMPLATE.render(variables),
        html=_HTML_TEMPLATE.render(variables),
    )
