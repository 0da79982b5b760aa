"""OAuth authorization-code grant with expiring offline tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .http import json_response, read_params
from .state import TOKEN_EXCHANGE_GRANT, OAuthError, SimState, normalize_shop


def sign_query(params: dict[str, str], secret: str) -> str:
    """Shopify's query HMAC: params except `hmac`, sorted, `k=v` joined by `&`, hex digest;
    `%` and `&` percent-encoded in keys and values, `=` in keys too."""

    def escape(text: str, key: bool) -> str:
        text = text.replace("%", "%25").replace("&", "%26")
        return text.replace("=", "%3D") if key else text

    pairs = sorted((escape(k, True), escape(v, False)) for k, v in params.items() if k != "hmac")
    message = "&".join(f"{key}={value}" for key, value in pairs)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _oauth_error(error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status_code=400)


async def authorize(request: Request) -> Response:
    state: SimState = request.app.state.sim
    domain = normalize_shop(request.path_params["shop"])
    params = request.query_params
    if domain is None:
        return _oauth_error("invalid_request", "Invalid shop domain.")
    if params.get("client_id") != state.config.api_key:
        return _oauth_error(
            "invalid_request", "Oauth error invalid_request: The client_id is invalid."
        )
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        return _oauth_error("invalid_request", "The redirect_uri is missing.")
    shop = state.shop_or_create(domain)
    scope = params.get("scope") or "read_orders"
    answer = {
        "code": state.issue_code(shop.domain, scope),
        "host": base64.b64encode(f"{shop.domain}/admin".encode()).decode(),
        "shop": shop.domain,
        "state": params.get("state", ""),
        "timestamp": str(int(time.time())),
    }
    answer["hmac"] = sign_query(answer, state.config.api_secret)
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(answer)}", status_code=302)


async def access_token(request: Request) -> Response:
    state: SimState = request.app.state.sim
    domain = normalize_shop(request.path_params["shop"])
    shop = state.shops.get(domain or "")
    if shop is None:
        return _oauth_error("invalid_request", "Unknown shop.")
    params = await read_params(request)
    client_id, client_secret = params.get("client_id"), params.get("client_secret")
    try:
        if params.get("grant_type") == "refresh_token":
            grant = state.refresh(shop, client_id, client_secret, params.get("refresh_token"))
        elif params.get("grant_type") == TOKEN_EXCHANGE_GRANT:
            grant = state.exchange_session_token(shop, client_id, client_secret, params)
        else:
            grant = state.exchange_code(shop, client_id, client_secret, params.get("code"))
    except OAuthError as error:
        return _oauth_error(error.error, error.description)
    return json_response(grant)
