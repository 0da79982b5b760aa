"""The simulator's whole in-memory world: shops, OAuth codes and tokens."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import jwt

from .config import BucketConfig, SimulatorConfig
from .models import AppProxy, ShopState, TokenRecord, utcnow
from .seed import new_shop

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
DEFAULT_SCOPE = "read_orders,read_all_orders,read_customers,read_returns,write_returns"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_ACCESS_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"


class OAuthError(Exception):
    """An OAuth request Shopify would answer with 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class CodeGrant:
    shop: str
    scope: str
    expires_at: float
    used: bool = False


def scope_list(scope: str) -> list[str]:
    return sorted({s.strip() for s in scope.split(",") if s.strip()})


def normalize_shop(domain: str) -> str | None:
    lowered = domain.strip().lower()
    return lowered if SHOP_DOMAIN.match(lowered) else None


class SimState:
    """Shops by domain plus the app's OAuth codes and tokens.

    Token rotation: a refresh revokes the old refresh token *and* the old access token at once
    (no grace period), so a client still using the old access token sees 401 and must re-read
    the current token.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.shops: dict[str, ShopState] = {}
        self.codes: dict[str, CodeGrant] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.refresh_tokens: dict[str, TokenRecord] = {}
        self.app_proxy = AppProxy(
            url=config.app_proxy_url,
            prefix=config.app_proxy_prefix,
            subpath=config.app_proxy_subpath,
            timeout_seconds=config.app_proxy_timeout_seconds,
        )
        for domain in config.shops:
            self.create_shop(domain)

    def create_shop(
        self,
        domain: str,
        *,
        seed: int | None = None,
        orders: int | None = None,
        bucket: BucketConfig | None = None,
        compliance_url: str | None = None,
        currency: str = "USD",
    ) -> ShopState:
        shop = new_shop(
            domain,
            seed=self.config.seed if seed is None else seed,
            orders=self.config.default_orders if orders is None else orders,
            bucket=bucket or self.config.bucket,
            compliance_url=compliance_url or self.config.compliance_url,
            currency=currency,
        )
        self.shops[domain] = shop
        return shop

    def shop_or_create(self, domain: str) -> ShopState:
        return self.shops.get(domain) or self.create_shop(domain)

    # OAuth -------------------------------------------------------------------------------
    def issue_code(self, shop: str, scope: str) -> str:
        code = secrets.token_hex(16)
        self.codes[code] = CodeGrant(shop=shop, scope=scope, expires_at=time.time() + 600)
        return code

    def _check_client(self, client_id: str | None, client_secret: str | None) -> None:
        if (
            client_id != self.config.api_key
            or not client_secret
            or not secrets.compare_digest(client_secret, self.config.api_secret)
        ):
            raise OAuthError("invalid_client", "Client credentials are invalid.")

    def exchange_code(
        self, shop: ShopState, client_id: str | None, client_secret: str | None, code: str | None
    ) -> dict[str, object]:
        self._check_client(client_id, client_secret)
        grant = self.codes.get(code or "")
        if (
            grant is None
            or grant.shop != shop.domain
            or grant.used
            or grant.expires_at < time.time()
        ):
            raise OAuthError(
                "invalid_request", "The authorization code was not found or was already used"
            )
        grant.used = True
        shop.installed = True
        shop.uninstalled_at = None
        shop.granted_scope = grant.scope
        shop.count("code_exchanges")
        return self._issue_tokens(shop, grant.scope)

    def exchange_session_token(
        self,
        shop: ShopState,
        client_id: str | None,
        client_secret: str | None,
        params: dict[str, str],
    ) -> dict[str, object]:
        """Token exchange (Shopify-managed installation): the embedded app's session token for an
        expiring offline token. The session token must be one Shopify issued for this app and
        shop (HS256 with the app secret, `aud` the API key, `dest` the shop, unexpired); a shop
        that uninstalled the app gets none until it installs it again."""
        self._check_client(client_id, client_secret)
        if (
            params.get("subject_token_type") != ID_TOKEN_TYPE
            or params.get("requested_token_type") != OFFLINE_ACCESS_TOKEN_TYPE
        ):
            raise OAuthError("invalid_request", "Unsupported subject or requested token type.")
        try:
            claims = jwt.decode(
                params.get("subject_token") or "",
                self.config.api_secret,
                algorithms=["HS256"],
                audience=self.config.api_key,
                options={"require": ["exp", "nbf", "dest"]},
            )
        except jwt.PyJWTError as error:
            shop.count("token_exchange_rejected")
            raise OAuthError("invalid_subject_token", f"Invalid session token: {error}") from error
        if claims.get("dest") != f"https://{shop.domain}" or shop.uninstalled_at is not None:
            shop.count("token_exchange_rejected")
            raise OAuthError("invalid_subject_token", "The session token is not for this shop.")
        shop.installed = True
        shop.granted_scope = shop.granted_scope or DEFAULT_SCOPE
        shop.count("token_exchanges")
        return self._issue_tokens(shop, shop.granted_scope)

    def refresh(
        self,
        shop: ShopState,
        client_id: str | None,
        client_secret: str | None,
        refresh_token: str | None,
    ) -> dict[str, object]:
        self._check_client(client_id, client_secret)
        record = self.refresh_tokens.get(refresh_token or "")
        if record is None or record.shop != shop.domain or not record.valid():
            shop.count("token_refresh_rejected")
            raise OAuthError(
                "invalid_grant", "The refresh token is invalid, expired or already used."
            )
        record.revoked = True
        for token in self.tokens.values():
            if token.shop == shop.domain:
                token.revoked = True
        shop.count("token_refreshes")
        return self._issue_tokens(shop, record.scope)

    def _issue_tokens(self, shop: ShopState, scope: str) -> dict[str, object]:
        now = time.time()
        access = TokenRecord(
            token="shpat_" + secrets.token_hex(16),
            shop=shop.domain,
            scope=scope,
            expires_at=now + self.config.token_lifetime_seconds,
            kind="access",
        )
        refresh = TokenRecord(
            token="shprt_" + secrets.token_hex(16),
            shop=shop.domain,
            scope=scope,
            expires_at=now + self.config.refresh_token_lifetime_seconds,
            kind="refresh",
        )
        self.tokens[access.token] = access
        self.refresh_tokens[refresh.token] = refresh
        return {
            "access_token": access.token,
            "scope": scope,
            "expires_in": self.config.token_lifetime_seconds,
            "refresh_token": refresh.token,
            "refresh_token_expires_in": self.config.refresh_token_lifetime_seconds,
        }

    def change_scopes(self, shop: ShopState, scope: str) -> tuple[list[str], list[str]]:
        """The merchant approved (or removed) scopes: live tokens carry the new set at once.
        Returns (previous, current)."""
        previous = scope_list(shop.granted_scope)
        shop.granted_scope = ",".join(scope_list(scope))
        for record in [*self.tokens.values(), *self.refresh_tokens.values()]:
            if record.shop == shop.domain:
                record.scope = shop.granted_scope
        return previous, scope_list(shop.granted_scope)

    def authenticate(self, shop: ShopState, token: str | None) -> TokenRecord | None:
        record = self.tokens.get(token or "")
        if record is None or record.shop != shop.domain or not record.valid() or not shop.installed:
            return None
        return record

    def expire_tokens(self, shop: ShopState, remaining_seconds: float = 0.0) -> int:
        """Make every live access token of a shop expire in `remaining_seconds` (0: now)."""
        changed = 0
        deadline = time.time() + remaining_seconds
        for record in self.tokens.values():
            if record.shop == shop.domain and not record.revoked:
                record.expires_at = min(record.expires_at, deadline)
                changed += 1
        return changed

    def uninstall(self, shop: ShopState) -> None:
        for table in (self.tokens, self.refresh_tokens):
            for record in table.values():
                if record.shop == shop.domain:
                    record.revoked = True
        shop.installed = False
        shop.uninstalled_at = utcnow().isoformat()
        shop.subscriptions.clear()
