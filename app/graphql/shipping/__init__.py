"""Return shipping in GraphQL: a return's `shipment`, the shop's shipping settings and the
label mutations."""
