"""The Admin GraphQL documents that check what an unsigned webhook header claims."""

from __future__ import annotations

# Whether the shop still has the app installed: any answer to our token means yes.
INSTALLATION_CHECK = "query AppInstallationCheck { shop { id } }"
# Whether the shop has this order (the shop header of an order webhook is not signed).
ORDER_CHECK = "query OrderOrigin($id: ID!) { order(id: $id) { id } }"
# The scopes the merchant granted the app now (app/scopes_update says only that they changed).
GRANTED_SCOPES = "query GrantedScopes { currentAppInstallation { accessScopes { handle } } }"
