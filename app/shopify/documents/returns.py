"""The Admin GraphQL documents of the Returns API the mirror sends (app/services/returns/shopify_mirror.py)."""

from __future__ import annotations

# Shopify refuses a query whose requested cost exceeds 1000 points; with 5 fulfillments of up to
# 50 lines a page costs 2 + 5 * (1 + 2 + 50 * 3) + 1 = 768. More fulfillments are paged.
RETURNABLE_FULFILLMENTS = """
query ($orderId: ID!, $after: String) {
  returnableFulfillments(orderId: $orderId, first: 5, after: $after) {
    nodes { returnableFulfillmentLineItems(first: 50) { nodes { quantity
      fulfillmentLineItem { id lineItem { id } } } } }
    pageInfo { hasNextPage endCursor } } }
"""
MAX_FULFILLMENT_PAGES = 20
# Lines may carry `restockingFee { percentage }` (the policy's fee the customer was shown).
RETURN_REQUEST = """
mutation ($input: ReturnRequestInput!) { returnRequest(input: $input) {
  return { id status } userErrors { field code message } } }
"""
# An exchange return is created on Shopify when approved here: OPEN at once, with its exchange
# lines (`returnRequest` takes none).
RETURN_CREATE = """
mutation ($input: ReturnInput!) { returnCreate(returnInput: $input) {
  return { id status } userErrors { field code message } } }
"""
RETURN_APPROVE = """
mutation ($input: ReturnApproveRequestInput!) { returnApproveRequest(input: $input) {
  return { id status } userErrors { field code message } } }
"""
RETURN_DECLINE = """
mutation ($input: ReturnDeclineRequestInput!) { returnDeclineRequest(input: $input) {
  return { id status } userErrors { field code message } } }
"""
RETURN_CANCEL = """
mutation ($id: ID!) { returnCancel(id: $id) { return { id status } userErrors { field message } } }
"""
RETURN_PROCESS = """
mutation ($input: ReturnProcessInput!) { returnProcess(input: $input) {
  return { id status } userErrors { field code message } } }
"""


# The order's newest returns (the lost one is among them). Cost: 2 + 10 * (1 + 25 * 2) = 512.
# A lost return with more lines, or older than ten others, is not found: the request is sent
# again and Shopify refuses it (the units are taken), a visible failure rather than a duplicate.
ORDER_RETURNS = """
query ($id: ID!) { order(id: $id) { returns(first: 10, reverse: true) { nodes { id
  returnLineItems(first: 25) {
    nodes { quantity ... on ReturnLineItem { fulfillmentLineItem { id } } } } } } } }
"""

# What processing needs: the return's status, its lines (with what each returns, to match our
# items), the reverse fulfillment order lines their dispositions name, its exchange lines, any
# refund already made, and the order's payments (what a refund goes back to, with the refunds
# already taken from them: REFUND transactions name their parent, in the currency the customer
# paid). One read before paying. `$lines` sizes both line connections: Shopify's bucket must
# hold a query's requested cost before it runs it, and this one's grows with them. Only the
# return's lines say whether there are more: a reverse fulfillment order has one line per return
# line at most, so the same size holds all of its lines.
# Cost: 1 + (2 + L * 3) + (2 + 2 * (1 + 2 + L * 2)) + (2 + 10) + (2 + 10) + (1 + 1 + 50 * 4)
# = 237 + 7L: 587 at `RETURN_STATE_LINES` (50), 244 at one.
RETURN_STATE_LINES = 50
RETURN_STATE = """
query ($id: ID!, $lines: Int!) { return(id: $id) { id status
  returnLineItems(first: $lines) { pageInfo { hasNextPage } nodes { id processableQuantity
    ... on ReturnLineItem { fulfillmentLineItem { id lineItem { id } } } } }
  reverseFulfillmentOrders(first: 2) { nodes { lineItems(first: $lines) { nodes { id
    fulfillmentLineItem { id } } } } }
  exchangeLineItems(first: 10) { nodes { id processableQuantity } }
  refunds(first: 10) { nodes { id } }
  order { id presentmentCurrencyCode customer { id }
    transactions(first: 50) { id kind status gateway createdAt
      amountSet { presentmentMoney { amount currencyCode } } parentTransaction { id } } } } }
"""

# Shopify's own computation of what processing these lines is worth, compared with ours before
# anything is paid.
RETURN_SUGGESTED_OUTCOME = """
query ($id: ID!, $lines: [SuggestedOutcomeReturnLineItemInput!]!,
  $exchanges: [SuggestedOutcomeExchangeLineItemInput!]!) { return(id: $id) {
  suggestedFinancialOutcome(returnLineItems: $lines, exchangeLineItems: $exchanges) {
    discountedSubtotal { presentmentMoney { amount currencyCode } }
    totalAdditionalFees { presentmentMoney { amount currencyCode } }
    totalTax { presentmentMoney { amount currencyCode } }
    financialTransfer { __typename
      ... on RefundReturnOutcome { amount { presentmentMoney { amount currencyCode } } }
      ... on InvoiceReturnOutcome { amount { presentmentMoney { amount currencyCode } } } } } } }
"""

REFUND_FIELDS = """id createdAt
    totalRefundedSet { presentmentMoney { amount currencyCode } }
    transactions(first: 20) { nodes { id gateway parentTransaction { id }
      amountSet { presentmentMoney { amount currencyCode } } } }"""

# The refunds Shopify made when it processed a return: read after a `returnProcess` whose answer
# did not carry them, and before any retry of it (its answer may have been lost after Shopify
# paid).
RETURN_REFUNDS = f"""
query ($id: ID!) {{ return(id: $id) {{ id status
  refunds(first: 10) {{ nodes {{ {REFUND_FIELDS} }} }} }} }}
"""

# The mirror's `returnProcess`: its answer carries the refund Shopify made (no read-back call).
RETURN_PROCESS_PAID = f"""
mutation ($input: ReturnProcessInput!) {{ returnProcess(input: $input) {{
  return {{ id status refunds(first: 10) {{ nodes {{ {REFUND_FIELDS} }} }} }}
  userErrors {{ field code message }} }} }}
"""

# A return as staff left it in Shopify admin: what the `returns/*` handler applies (the topic and
# body are not trusted for it), with the refunds of a return processed there.
# Cost: 1 + 1 + 50 * 3 + 5 * (1 + 20 * 2) = 357.
SHOPIFY_RETURN = f"""
query ($id: ID!) {{ return(id: $id) {{ id status order {{ id }}
  decline {{ reason note }}
  returnLineItems(first: 50) {{ nodes {{ quantity
    ... on ReturnLineItem {{ returnReason customerNote
      fulfillmentLineItem {{ id lineItem {{ id }} }} }} }} }}
  refunds(first: 5) {{ nodes {{ {REFUND_FIELDS} }} }} }} }}
"""


# A store-credit bonus: a credit on the customer's account in the order's currency (Shopify
# creates the account if the customer has none in it). Not idempotent on Shopify's side.
STORE_CREDIT_CREDIT = """
mutation ($id: ID!, $creditInput: StoreCreditAccountCreditInput!) {
  storeCreditAccountCredit(id: $id, creditInput: $creditInput) {
    storeCreditAccountTransaction { id createdAt amount { amount currencyCode } account { id } }
    userErrors { field code message } } }
"""

# The customer's newest store credit transactions (Shopify lists them oldest first: `last`):
# where a bonus whose answer was lost is found. Cost: 1 + 1 + 5 * (1 + 2 + 50 * 3) = 767.
CUSTOMER_STORE_CREDIT = """
query ($id: ID!) { customer(id: $id) { id storeCreditAccounts(first: 5) { nodes { id
  transactions(last: 50) { pageInfo { hasPreviousPage }
    nodes { createdAt amount { amount currencyCode } origin { __typename }
      ... on StoreCreditAccountCreditTransaction { id } } } } } } }
"""

# An exchange variant when the customer asks: does it exist, what does it cost, is it in stock.
PRODUCT_VARIANT = """
query ($id: ID!) { productVariant(id: $id) { id title price inventoryQuantity
  product { id title } } }
"""

# What a returned item can be exchanged for: its product's variants with their price and stock
# (the portal's picker). A product with more than 100 variants offers its first 100.
# Cost: 1 + (2 + 100 * 1) = 103.
PRODUCT_VARIANTS = """
query ($id: ID!) { product(id: $id) { id title
  variants(first: 100) { nodes { id title price inventoryQuantity } } } }
"""

# What Shopify made of a processed exchange: the order's new line items and their fulfillment
# order (held while the customer owes a balance). Cost: 1 + 10 * 2 + 1 + 20 * (1 + 1 + 10 * 2).
RETURN_EXCHANGE = """
query ($id: ID!) { return(id: $id) { id
  exchangeLineItems(first: 10) { nodes { id lineItems { id } } }
  order { id fulfillmentOrders(first: 20) { nodes { id status fulfillmentHolds { reason }
    lineItems(first: 10) { nodes { lineItem { id } } } } } } } }
"""

# The synced orders that have returns on Shopify (`return_status` filter), with their returns'
# statuses: what a resync compares with ours. Cost: 2 + 25 * (1 + 2 + 10) = 327, within the
# smallest bucket a throttled shop may have left.
ORDERS_WITH_RETURNS = """
query ($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id returns(first: 10) { nodes { id status } } } } }
"""
RECONCILE_PAGE_SIZE = 25

# A return's reverse fulfillment orders with their lines and the deliveries attached so far
# (a retry after a lost answer finds the one it created by its tracking number).
RETURN_REVERSE_DELIVERIES = """
query ReturnReverseDeliveries($id: ID!) {
  return(id: $id) {
    id
    status
    reverseFulfillmentOrders(first: 5) {
      nodes {
        id
        lineItems(first: 50) { nodes { id totalQuantity } }
        reverseDeliveries(first: 10) {
          nodes {
            id
            deliverable {
              __typename
              ... on ReverseDeliveryShippingDeliverable {
                tracking { number url carrierName }
                label { publicFileUrl }
              }
            }
          }
        }
      }
    }
  }
}"""

# The prepaid label and its tracking on the return's way back, shown in Shopify admin and in
# Shopify's own customer notifications.
REVERSE_DELIVERY_CREATE = """
mutation ReverseDeliveryCreate($reverseFulfillmentOrderId: ID!,
    $lines: [ReverseDeliveryLineItemInput!]!, $tracking: ReverseDeliveryTrackingInput,
    $label: ReverseDeliveryLabelInput, $notifyCustomer: Boolean) {
  reverseDeliveryCreateWithShipping(reverseFulfillmentOrderId: $reverseFulfillmentOrderId,
      reverseDeliveryLineItems: $lines, trackingInput: $tracking, labelInput: $label,
      notifyCustomer: $notifyCustomer) {
    reverseDelivery { id }
    userErrors { field message code }
  }
}"""
