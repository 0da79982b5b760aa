"""Every Shopify Admin GraphQL document the service sends, one module per subject: `orders`
(the sync, with the cost arithmetic that sizes its pages), `returns` (the mirror), `webhooks`
(our subscriptions) and `shop` (checks of what unsigned webhook headers claim)."""
