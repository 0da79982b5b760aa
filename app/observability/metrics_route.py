"""`GET /metrics`: Prometheus text format (not built yet)."""

from fastapi import APIRouter

router = APIRouter(tags=["operations"])
