"""`POST /api/webhooks/<topic>`: verified, persisted, deduplicated (not built yet)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/webhooks", tags=["shopify"])
