"""`/api/auth/shopify/install` and `/callback`: the OAuth install flow (not built yet)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/auth/shopify", tags=["shopify"])
