"""Background work of notifications: the return-event dispatcher and the merchants' webhook
senders."""

from __future__ import annotations

from app.config import Settings
from app.jobs.runner import Worker
from app.services.notifications.delivery import DeliveryWorker, DueWindow
from app.services.notifications.dispatch import RenderReturn, ReturnEventDispatcher
from app.services.notifications.email import EmailSender
from app.services.portal.status_links import status_links


def workers(settings: Settings, worker_id: str, render: RenderReturn) -> list[Worker]:
    """One dispatcher, `MERCHANT_WEBHOOK_WORKERS` webhook senders (each attempt on a client of
    its own: see `delivery._attempt_client`) and, when `SMTP_URL` is set, `EMAIL_WORKERS`
    email senders."""
    window = DueWindow()  # the senders of this process claim from one read of the queue
    senders: list[Worker] = [
        DeliveryWorker(
            f"{worker_id}:webhooks:{index}",
            settings,
            name=f"merchant-webhooks-{index}",
            window=window,
        )
        for index in range(settings.merchant_webhook_workers)
    ]
    emails: list[Worker] = []
    if settings.smtp_url:
        emails = [
            EmailSender(f"{worker_id}:emails:{index}", settings, name=f"emails-{index}")
            for index in range(settings.email_workers)
        ]

    dispatcher = ReturnEventDispatcher(
        f"{worker_id}:events",
        render,
        emails=bool(settings.smtp_url),
        status_url=status_links(settings),
    )
    return [dispatcher, *senders, *emails]
