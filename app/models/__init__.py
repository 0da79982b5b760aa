"""Beanie documents, one file per aggregate. `DOCUMENT_MODELS` is what `init_beanie` gets."""

from beanie import Document

from app.models.api_key import ApiKey
from app.models.audit_log import AuditLog
from app.models.customer import Customer
from app.models.customer_data_export import CustomerDataExport
from app.models.email_notification import EmailNotification
from app.models.install_lease import InstallLease
from app.models.integration import ShopifyIntegration
from app.models.journal_barrier import JournalBarrier
from app.models.oauth_state import OAuthState
from app.models.order import Order
from app.models.persisted_query import PersistedQuery
from app.models.portal_attempts import PortalAttempts
from app.models.return_ledger import ReturnLedger
from app.models.return_photo import ReturnPhoto
from app.models.return_request import Return
from app.models.schema_migration import SchemaMigration
from app.models.sync_job import SyncJob
from app.models.tenant import Tenant
from app.models.webhook_endpoint import WebhookDelivery, WebhookEndpoint
from app.models.webhook_event import WebhookEvent

DOCUMENT_MODELS: list[type[Document]] = [
    Tenant,
    ShopifyIntegration,
    Order,
    Customer,
    Return,
    SyncJob,
    WebhookEvent,
    OAuthState,
    SchemaMigration,
    ApiKey,
    ReturnLedger,
    AuditLog,
    CustomerDataExport,
    JournalBarrier,
    PortalAttempts,
    PersistedQuery,
    InstallLease,
    WebhookEndpoint,
    WebhookDelivery,
    EmailNotification,
    ReturnPhoto,
]

__all__ = [
    "DOCUMENT_MODELS",
    "ApiKey",
    "AuditLog",
    "Customer",
    "CustomerDataExport",
    "EmailNotification",
    "InstallLease",
    "JournalBarrier",
    "OAuthState",
    "Order",
    "PersistedQuery",
    "PortalAttempts",
    "Return",
    "ReturnLedger",
    "ReturnPhoto",
    "SchemaMigration",
    "ShopifyIntegration",
    "SyncJob",
    "Tenant",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
