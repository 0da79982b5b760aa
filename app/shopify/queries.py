"""GraphQL documents the service sends to the Shopify Admin API.

Paged queries take `$first: Int!` and `$after: String` so `pagination.paginate` can drive them.
Nested connections multiply the requested cost (see tools/shopify_sim/cost.py): ORDERS_PAGE costs
2 + first * 86 with the default 10 line items per order, so page with ORDERS_PAGE_SIZE (cost 862,
under the 1000 single-query limit) and use the bulk export for large histories.
"""

ORDERS_PAGE_SIZE = 10

MONEY = "shopMoney { amount currencyCode }"

SHOP_INFO = """
query ShopInfo {
  shop { id name email myshopifyDomain currencyCode ianaTimezone plan { displayName partnerDevelopment shopifyPlus } }
}
"""

ORDER_FIELDS = f"""
fragment OrderFields on Order {{
  id legacyResourceId name email phone createdAt updatedAt processedAt cancelledAt closedAt
  tags note currencyCode displayFinancialStatus displayFulfillmentStatus
  totalPriceSet {{ {MONEY} }}
  subtotalPriceSet {{ {MONEY} }}
  totalDiscountsSet {{ {MONEY} }}
  customer {{ id email firstName lastName phone }}
  shippingAddress {{ firstName lastName address1 address2 city province zip country countryCodeV2 phone }}
  lineItems(first: $lineItemsFirst) {{
    nodes {{
      id title name sku quantity currentQuantity
      variant {{ id title sku price }}
      product {{ id productType tags }}
      originalUnitPriceSet {{ {MONEY} }}
      discountedTotalSet {{ {MONEY} }}
    }}
  }}
  fulfillments(first: 5) {{ id status displayStatus createdAt deliveredAt }}
}}
"""

ORDERS_PAGE = (
    """
query OrdersPage($first: Int!, $after: String, $query: String, $lineItemsFirst: Int = 10) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderFields }
  }
}
"""
    + ORDER_FIELDS
)

ORDER_BY_ID = (
    """
query OrderById($id: ID!, $lineItemsFirst: Int = 50) {
  order(id: $id) { ...OrderFields }
}
"""
    + ORDER_FIELDS
)

ORDERS_COUNT = """
query OrdersCount($query: String) {
  ordersCount(query: $query, limit: null) { count precision }
}
"""

CUSTOMERS_PAGE = """
query CustomersPage($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id email firstName lastName phone createdAt updatedAt numberOfOrders tags }
  }
}
"""

WEBHOOK_SUBSCRIPTIONS = """
query WebhookSubscriptions($first: Int!, $after: String, $topics: [WebhookSubscriptionTopic!]) {
  webhookSubscriptions(first: $first, after: $after, topics: $topics) {
    pageInfo { hasNextPage endCursor }
    nodes { id topic format callbackUrl createdAt updatedAt }
  }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $callbackUrl: URL!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {callbackUrl: $callbackUrl, format: JSON}) {
    webhookSubscription { id topic callbackUrl format }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_UPDATE = """
mutation WebhookSubscriptionUpdate($id: ID!, $callbackUrl: URL!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: {callbackUrl: $callbackUrl, format: JSON}) {
    webhookSubscription { id topic callbackUrl format }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_DELETE = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}
"""

BULK_OPERATION_RUN_QUERY = """
mutation BulkOperationRunQuery($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

CURRENT_BULK_OPERATION = """
query CurrentBulkOperation {
  currentBulkOperation { id status errorCode objectCount rootObjectCount fileSize url createdAt completedAt }
}
"""

# The inner query of a bulk export (no `first`, no pageInfo: Shopify streams everything).
BULK_ORDERS_EXPORT = f"""
{{
  orders(query: "updated_at:>='{{since}}'") {{
    edges {{ node {{
      id legacyResourceId name email createdAt updatedAt tags currencyCode
      displayFinancialStatus displayFulfillmentStatus
      totalPriceSet {{ {MONEY} }}
      customer {{ id email firstName lastName phone }}
      lineItems {{ edges {{ node {{
        id title sku quantity currentQuantity
        variant {{ id title sku price }}
        originalUnitPriceSet {{ {MONEY} }}
      }} }} }}
    }} }}
  }}
}}
"""

RETURN_FIELDS = """
fragment ReturnFields on Return {
  id name status createdAt closedAt totalQuantity
  order { id }
  decline { reason note }
  returnLineItems(first: 50) {
    nodes { id quantity processedQuantity returnReason customerNote fulfillmentLineItem { id lineItem { id } } }
  }
}
"""

RETURNABLE_FULFILLMENTS = """
query ReturnableFulfillments($orderId: ID!) {
  returnableFulfillments(orderId: $orderId, first: 10) {
    nodes {
      id
      fulfillment { id }
      returnableFulfillmentLineItems(first: 50) { nodes { quantity fulfillmentLineItem { id lineItem { id } } } }
    }
  }
}
"""

RETURN_REQUEST = (
    """
mutation ReturnRequest($input: ReturnRequestInput!) {
  returnRequest(input: $input) { return { ...ReturnFields } userErrors { field message code } }
}
"""
    + RETURN_FIELDS
)

RETURN_APPROVE_REQUEST = (
    """
mutation ReturnApproveRequest($id: ID!) {
  returnApproveRequest(input: {id: $id}) { return { ...ReturnFields } userErrors { field message code } }
}
"""
    + RETURN_FIELDS
)

RETURN_DECLINE_REQUEST = (
    """
mutation ReturnDeclineRequest($id: ID!, $reason: ReturnDeclineReason!, $note: String) {
  returnDeclineRequest(input: {id: $id, declineReason: $reason, declineNote: $note}) {
    return { ...ReturnFields } userErrors { field message code }
  }
}
"""
    + RETURN_FIELDS
)

RETURN_PROCESS = (
    """
mutation ReturnProcess($input: ReturnProcessInput!) {
  returnProcess(input: $input) { return { ...ReturnFields } userErrors { field message code } }
}
"""
    + RETURN_FIELDS
)

RETURN_CANCEL = (
    """
mutation ReturnCancel($id: ID!) {
  returnCancel(id: $id) { return { ...ReturnFields } userErrors { field message code } }
}
"""
    + RETURN_FIELDS
)

RETURN_CLOSE = (
    """
mutation ReturnClose($id: ID!) {
  returnClose(id: $id) { return { ...ReturnFields } userErrors { field message code } }
}
"""
    + RETURN_FIELDS
)

RETURN_BY_ID = (
    """
query ReturnById($id: ID!) {
  return(id: $id) { ...ReturnFields }
}
"""
    + RETURN_FIELDS
)
