"""The Admin GraphQL documents the sync sends, and their requested cost.

The selection is what `mapping.order_from_node` reads and no more: requested cost (Shopify
charges it up front) decides how many orders fit in one page under the 1,000-point single
query limit, so every nested object is counted:

    order = 1 + 3 money bags x 2 + customer 1 + address 1 + fulfillments F
            + line items connection (2 + L x (1 + variant 1 + product 1 + 2 money bags x 2))
"""

from __future__ import annotations

MONEY = "shopMoney { amount }"
LINE_ITEMS_FIRST = 5  # seeded and typical orders have 1-4 lines; longer ones get extra pages
FULFILLMENTS_FIRST = 3
MAX_PAGE_SIZE = 250  # Shopify's cap on `first`
SINGLE_QUERY_MAX_COST = 1000  # Shopify's single-query limit

ORDER_SCALARS = (
    "id legacyResourceId name email createdAt updatedAt cancelledAt tags currencyCode "
    "displayFinancialStatus displayFulfillmentStatus"
)
CUSTOMER_FIELDS = "id email firstName lastName phone createdAt updatedAt numberOfOrders"
ADDRESS_FIELDS = (
    "name firstName lastName address1 address2 city province provinceCode zip country"
    " countryCodeV2 phone"
)
LINE_ITEM_FIELDS = f"""
  id title sku quantity unfulfilledQuantity variantTitle
  variant {{ id title }}
  product {{ id productType tags }}
  originalUnitPriceSet {{ {MONEY} }}
  totalDiscountSet {{ {MONEY} }}
"""
ORDER_OBJECTS = f"""
  subtotalPriceSet {{ {MONEY} }}
  totalPriceSet {{ {MONEY} }}
  totalDiscountsSet {{ {MONEY} }}
  customer {{ {CUSTOMER_FIELDS} }}
  shippingAddress {{ {ADDRESS_FIELDS} }}
"""

ORDERS_PAGE = f"""
query SyncOrdersPage($first: Int!, $after: String, $query: String, $lineItemsFirst: Int!, $fulfillmentsFirst: Int!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      {ORDER_SCALARS}
      {ORDER_OBJECTS}
      fulfillments(first: $fulfillmentsFirst) {{ status createdAt deliveredAt }}
      lineItems(first: $lineItemsFirst) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {LINE_ITEM_FIELDS} }}
      }}
    }}
  }}
}}
"""

# The rest of one long order's line items (rare: only orders with more than LINE_ITEMS_FIRST).
ORDER_LINE_ITEMS = f"""
query SyncOrderLineItems($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    lineItems(first: $first, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {LINE_ITEM_FIELDS} }}
    }}
  }}
}}
"""

ORDERS_COUNT = """
query SyncOrdersCount($query: String) {
  ordersCount(query: $query, limit: null) { count precision }
}
"""

BULK_RUN_QUERY = """
mutation SyncBulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

CURRENT_BULK_OPERATION = """
query SyncCurrentBulkOperation {
  currentBulkOperation { id status errorCode objectCount rootObjectCount url }
}
"""

BULK_CANCEL = """
mutation SyncBulkCancel($id: ID!) {
  bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } }
}
"""


def bulk_orders_query(search: str) -> str:
    """The inner query of a bulk export: every matching order, line items as JSONL children."""
    escaped = search.replace("\\", "\\\\").replace('"', '\\"')
    return f"""
{{
  orders(query: "{escaped}", sortKey: UPDATED_AT) {{
    edges {{ node {{
      {ORDER_SCALARS}
      {ORDER_OBJECTS}
      fulfillments {{ status createdAt deliveredAt }}
      lineItems {{ edges {{ node {{ {LINE_ITEM_FIELDS} }} }} }}
    }} }}
  }}
}}
"""


def order_node_cost(line_items_first: int, fulfillments_first: int) -> int:
    """Requested cost of one order node of ORDERS_PAGE (see the module docstring)."""
    line = 1 + 1 + 1 + 2 + 2
    return 1 + 3 * 2 + 1 + 1 + fulfillments_first + 2 + line_items_first * line


def page_size_for(
    budget: float,
    line_items_first: int = LINE_ITEMS_FIRST,
    fulfillments_first: int = FULFILLMENTS_FIRST,
) -> int:
    """How many orders one page may ask for within `budget` points of requested cost."""
    per_order = order_node_cost(line_items_first, fulfillments_first)
    return max(1, min(MAX_PAGE_SIZE, int((budget - 2) // per_order)))
