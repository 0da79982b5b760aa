"""The Shopify integration: installing, the stored integration and its tokens (session, refresh,
cipher), webhook subscriptions, shop domains."""
