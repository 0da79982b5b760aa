"""Permissions declared on operations (`permission_classes=[IsMerchant]`), never inline ifs."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from app.graphql.core.context import Info
from app.graphql.core.errors import BadUserInput, Forbidden, Unauthenticated
from app.services.auth import APP_NOT_INSTALLED


class IsMerchant(BasePermission):
    """A valid session token or tenant API key of a shop that has the app installed; an
    X-Tenant-Id naming another tenant is refused."""

    message = "Authentication required"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context = info.context
        if context.auth_error == APP_NOT_INSTALLED:
            # A valid credential: say what to do rather than call it invalid.
            raise Unauthenticated("The app is not installed on this shop: reinstall it")
        if context.auth_error is not None:
            raise Unauthenticated(f"Invalid credential: {context.auth_error}")
        if context.principal is None:
            raise Unauthenticated("Authentication required: send `Authorization: Bearer <token>`")
        if context.tenant_header_error is not None:
            raise BadUserInput(context.tenant_header_error)
        requested = context.requested_tenant_id
        if requested is not None and requested != context.principal.tenant_id:
            raise Forbidden("This credential does not belong to the tenant in X-Tenant-Id")
        return True


class IsPortalRequest(BasePermission):
    """Customer-portal operations: public, scoped by the X-Tenant-Id header."""

    message = "X-Tenant-Id header required"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.tenant_header_error is not None:
            raise BadUserInput(info.context.tenant_header_error)
        if not info.context.requested_tenant_id:
            raise BadUserInput("The X-Tenant-Id header is required for customer-portal operations")
        return True
