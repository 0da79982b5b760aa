"""Shopify Admin GraphQL schema subset (SDL), same type and field names as Shopify."""

SDL = """
# A subset of Shopify's Admin GraphQL schema, same names and shapes.
scalar DateTime
scalar Decimal
scalar Money
scalar URL
scalar UnsignedInt64
scalar JSON

enum CurrencyCode { USD EUR GBP CAD AUD JPY CHF SEK DKK NOK PLN KWD BHD BRL INR MXN NZD SGD HKD KRW }
enum CountPrecision { EXACT AT_LEAST }
enum OrderSortKeys { CREATED_AT CUSTOMER_NAME FINANCIAL_STATUS FULFILLMENT_STATUS ID ORDER_NUMBER PROCESSED_AT RELEVANCE TOTAL_PRICE UPDATED_AT }
enum CustomerSortKeys { CREATED_AT ID LOCATION NAME RELEVANCE UPDATED_AT }
enum OrderDisplayFinancialStatus { AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED }
enum OrderDisplayFulfillmentStatus { FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT REQUEST_DECLINED RESTOCKED SCHEDULED UNFULFILLED }
enum FulfillmentStatus { CANCELLED ERROR FAILURE SUCCESS OPEN PENDING }
enum FulfillmentDisplayStatus { ATTEMPTED_DELIVERY CANCELED CONFIRMED DELIVERED FAILURE FULFILLED IN_TRANSIT LABEL_PRINTED LABEL_PURCHASED OUT_FOR_DELIVERY READY_FOR_PICKUP SUBMITTED }
enum CustomerState { DECLINED DISABLED ENABLED INVITED }
enum WebhookSubscriptionTopic { APP_UNINSTALLED ORDERS_CREATE ORDERS_UPDATED ORDERS_PAID ORDERS_CANCELLED ORDERS_FULFILLED ORDERS_DELETE CUSTOMERS_CREATE CUSTOMERS_UPDATE BULK_OPERATIONS_FINISH RETURNS_REQUEST RETURNS_APPROVE RETURNS_DECLINE RETURNS_CANCEL RETURNS_CLOSE RETURNS_REOPEN RETURNS_PROCESS REFUNDS_CREATE REVERSE_DELIVERIES_ATTACH_DELIVERABLE SHOP_UPDATE }
enum WebhookSubscriptionFormat { JSON XML }
enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum BulkOperationType { MUTATION QUERY }
enum BulkOperationUserErrorCode { INVALID OPERATION_IN_PROGRESS }
enum ReturnStatus { CANCELED CLOSED DECLINED OPEN REQUESTED }
enum OrderReturnStatus { IN_PROGRESS INSPECTION_COMPLETE NO_RETURN RETURN_FAILED RETURN_REQUESTED RETURNED }
enum ReturnReason { COLOR DEFECTIVE NOT_AS_DESCRIBED OTHER SIZE_TOO_LARGE SIZE_TOO_SMALL STYLE UNKNOWN UNWANTED WRONG_ITEM }
enum ReturnDeclineReason { FINAL_SALE OTHER RETURN_PERIOD_ENDED }
enum OrderTransactionKind { AUTHORIZATION CAPTURE CHANGE EMV_AUTHORIZATION REFUND SALE SUGGESTED_REFUND VOID }
enum OrderTransactionStatus { AWAITING_RESPONSE ERROR FAILURE PENDING SUCCESS UNKNOWN }
enum StoreCreditAccountCreditUserErrorCode { ACCOUNT_NOT_FOUND CREDIT_LIMIT_EXCEEDED EXPIRES_AT_IN_PAST MISMATCHING_CURRENCY NEGATIVE_OR_ZERO_AMOUNT OWNER_NOT_FOUND UNSUPPORTED_CURRENCY }
enum RefundMethodAllocation { ORIGINAL_PAYMENT_METHODS STORE_CREDIT }
enum ReverseFulfillmentOrderStatus { CANCELED CLOSED OPEN }
enum ReverseFulfillmentOrderDispositionType { MISSING NOT_RESTOCKED PROCESSING_REQUIRED RESTOCKED }
enum FulfillmentOrderStatus { CANCELLED CLOSED INCOMPLETE IN_PROGRESS ON_HOLD OPEN SCHEDULED }
enum FulfillmentHoldReason { AWAITING_PAYMENT AWAITING_RETURN_ITEMS HIGH_RISK_OF_FRAUD INCORRECT_ADDRESS INVENTORY_OUT_OF_STOCK ONLINE_STORE_POST_PURCHASE_CROSS_SELL OTHER UNKNOWN_DELIVERY_DATE }
enum ReturnErrorCode { ALREADY_EXISTS BLANK CREATION_FAILED EQUAL_TO FEATURE_NOT_ENABLED GREATER_THAN GREATER_THAN_OR_EQUAL_TO INCLUSION INTERNAL_ERROR INVALID INVALID_STATE LESS_THAN LESS_THAN_OR_EQUAL_TO NOTIFICATION_FAILED NOT_A_NUMBER NOT_EDITABLE NOT_FOUND PRESENT TAKEN TOO_BIG TOO_LONG TOO_SHORT WRONG_LENGTH }

type AccessScope { handle: String! description: String }
type AppInstallation { id: ID! accessScopes: [AccessScope!]! }

type Query {
  shop: Shop!
  currentAppInstallation: AppInstallation!
  order(id: ID!): Order
  orders(first: Int, last: Int, after: String, before: String, query: String, sortKey: OrderSortKeys = ID, reverse: Boolean = false): OrderConnection!
  ordersCount(query: String, limit: Int = 10000): Count
  customer(id: ID!): Customer
  customers(first: Int, last: Int, after: String, before: String, query: String, sortKey: CustomerSortKeys = ID, reverse: Boolean = false): CustomerConnection!
  customersCount(query: String, limit: Int = 10000): Count
  webhookSubscription(id: ID!): WebhookSubscription
  webhookSubscriptions(first: Int, last: Int, after: String, before: String, topics: [WebhookSubscriptionTopic!], callbackUrl: URL, format: WebhookSubscriptionFormat, reverse: Boolean = false): WebhookSubscriptionConnection!
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
  return(id: ID!): Return
  returnableFulfillments(orderId: ID!, first: Int, last: Int, after: String, before: String, reverse: Boolean = false): ReturnableFulfillmentConnection!
  storeCreditAccount(id: ID!): StoreCreditAccount
  locations(first: Int, after: String): LocationConnection!
  location(id: ID): Location
  product(id: ID!): Product
  productVariant(id: ID!): ProductVariant
  reverseFulfillmentOrder(id: ID!): ReverseFulfillmentOrder
  reverseDelivery(id: ID!): ReverseDelivery
}

type Mutation {
  webhookSubscriptionCreate(topic: WebhookSubscriptionTopic!, webhookSubscription: WebhookSubscriptionInput!): WebhookSubscriptionCreatePayload
  webhookSubscriptionUpdate(id: ID!, webhookSubscription: WebhookSubscriptionInput!): WebhookSubscriptionUpdatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
  bulkOperationRunQuery(query: String!, groupObjects: Boolean = false): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
  returnRequest(input: ReturnRequestInput!): ReturnRequestPayload
  returnCreate(returnInput: ReturnInput!): ReturnCreatePayload
  returnApproveRequest(input: ReturnApproveRequestInput!): ReturnApproveRequestPayload
  returnDeclineRequest(input: ReturnDeclineRequestInput!): ReturnDeclineRequestPayload
  returnProcess(input: ReturnProcessInput!): ReturnProcessPayload
  returnCancel(id: ID!, notifyCustomer: Boolean = false): ReturnCancelPayload
  returnClose(id: ID!): ReturnClosePayload
  returnReopen(id: ID!): ReturnReopenPayload
  storeCreditAccountCredit(id: ID!, creditInput: StoreCreditAccountCreditInput!): StoreCreditAccountCreditPayload
  reverseDeliveryCreateWithShipping(
    reverseFulfillmentOrderId: ID!, reverseDeliveryLineItems: [ReverseDeliveryLineItemInput!]!,
    trackingInput: ReverseDeliveryTrackingInput, labelInput: ReverseDeliveryLabelInput, notifyCustomer: Boolean = true
  ): ReverseDeliveryCreateWithShippingPayload
}

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
type Count { count: Int! precision: CountPrecision! }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
input MoneyInput { amount: Decimal! currencyCode: CurrencyCode! }
type ShopPlan { displayName: String! partnerDevelopment: Boolean! shopifyPlus: Boolean! publicDisplayName: String! }
type Domain { host: String! url: URL! }
type Shop {
  id: ID! name: String! email: String! myshopifyDomain: String! currencyCode: CurrencyCode!
  plan: ShopPlan! ianaTimezone: String! primaryDomain: Domain! contactEmail: String! createdAt: DateTime!
}
type MailingAddress {
  id: ID firstName: String lastName: String name: String address1: String address2: String city: String
  province: String provinceCode: String country: String countryCodeV2: String zip: String phone: String company: String
}
type Customer {
  id: ID! legacyResourceId: UnsignedInt64! email: String firstName: String lastName: String displayName: String!
  phone: String state: CustomerState! tags: [String!]! note: String verifiedEmail: Boolean! numberOfOrders: UnsignedInt64!
  createdAt: DateTime! updatedAt: DateTime! defaultAddress: MailingAddress
  orders(first: Int, last: Int, after: String, before: String, query: String, sortKey: OrderSortKeys = ID, reverse: Boolean = false): OrderConnection!
  storeCreditAccounts(first: Int, after: String): StoreCreditAccountConnection!
}
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }
type Product {
  id: ID! legacyResourceId: UnsignedInt64! title: String! productType: String! vendor: String! tags: [String!]!
  variants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): ProductVariantConnection!
}
type ProductVariant {
  id: ID! legacyResourceId: UnsignedInt64! title: String! displayName: String! sku: String price: Money! product: Product!
  inventoryItem: InventoryItem! inventoryQuantity: Int availableForSale: Boolean!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo! }
type Location { id: ID! name: String! isActive: Boolean! }
type LocationEdge { cursor: String! node: Location! }
type LocationConnection { edges: [LocationEdge!]! nodes: [Location!]! pageInfo: PageInfo! }
type InventoryItem { id: ID! inventoryLevels(first: Int): InventoryLevelConnection! }
type InventoryQuantity { name: String! quantity: Int! }
type InventoryLevel { id: ID! location: Location! quantities(names: [String!]!): [InventoryQuantity!]! }
type InventoryLevelEdge { cursor: String! node: InventoryLevel! }
type InventoryLevelConnection { edges: [InventoryLevelEdge!]! nodes: [InventoryLevel!]! pageInfo: PageInfo! }
type DiscountAllocation { allocatedAmountSet: MoneyBag! }
type LineItem {
  id: ID! title: String! name: String! sku: String vendor: String variantTitle: String quantity: Int! currentQuantity: Int!
  refundableQuantity: Int! unfulfilledQuantity: Int! requiresShipping: Boolean! taxable: Boolean!
  variant: ProductVariant product: Product
  originalUnitPriceSet: MoneyBag! discountedUnitPriceSet: MoneyBag! originalTotalSet: MoneyBag!
  discountedTotalSet: MoneyBag! totalDiscountSet: MoneyBag! discountAllocations: [DiscountAllocation!]!
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }
type TrackingInfo { company: String number: String url: URL }
type FulfillmentLineItem { id: ID! quantity: Int lineItem: LineItem! }
type FulfillmentLineItemEdge { cursor: String! node: FulfillmentLineItem! }
type FulfillmentLineItemConnection { edges: [FulfillmentLineItemEdge!]! nodes: [FulfillmentLineItem!]! pageInfo: PageInfo! }
type Fulfillment {
  id: ID! legacyResourceId: UnsignedInt64! name: String! status: FulfillmentStatus! displayStatus: FulfillmentDisplayStatus
  createdAt: DateTime! updatedAt: DateTime! deliveredAt: DateTime inTransitAt: DateTime trackingInfo(first: Int): [TrackingInfo!]!
  fulfillmentLineItems(first: Int, last: Int, after: String, before: String, reverse: Boolean = false): FulfillmentLineItemConnection!
}
type Order {
  id: ID! legacyResourceId: UnsignedInt64! name: String! email: String phone: String
  createdAt: DateTime! updatedAt: DateTime! processedAt: DateTime! cancelledAt: DateTime cancelReason: String closedAt: DateTime
  closed: Boolean! test: Boolean! note: String tags: [String!]! currencyCode: CurrencyCode! presentmentCurrencyCode: CurrencyCode!
  displayFinancialStatus: OrderDisplayFinancialStatus displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  returnStatus: OrderReturnStatus!
  subtotalPriceSet: MoneyBag totalDiscountsSet: MoneyBag totalShippingPriceSet: MoneyBag! totalTaxSet: MoneyBag
  totalPriceSet: MoneyBag! totalRefundedSet: MoneyBag!
  customer: Customer shippingAddress: MailingAddress billingAddress: MailingAddress
  lineItems(first: Int, last: Int, after: String, before: String, reverse: Boolean = false): LineItemConnection!
  fulfillments(first: Int): [Fulfillment!]!
  returns(first: Int, last: Int, after: String, before: String, reverse: Boolean = false, query: String): ReturnConnection!
  transactions(first: Int): [OrderTransaction!]!
  refunds(first: Int): [Refund!]!
  fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
}
type FulfillmentHold { reason: FulfillmentHoldReason! reasonNotes: String }
type FulfillmentOrderLineItem { id: ID! totalQuantity: Int! lineItem: LineItem! }
type FulfillmentOrderLineItemEdge { cursor: String! node: FulfillmentOrderLineItem! }
type FulfillmentOrderLineItemConnection { edges: [FulfillmentOrderLineItemEdge!]! nodes: [FulfillmentOrderLineItem!]! pageInfo: PageInfo! }
type FulfillmentOrder {
  id: ID! status: FulfillmentOrderStatus! fulfillmentHolds: [FulfillmentHold!]!
  lineItems(first: Int, after: String): FulfillmentOrderLineItemConnection!
}
type FulfillmentOrderEdge { cursor: String! node: FulfillmentOrder! }
type FulfillmentOrderConnection { edges: [FulfillmentOrderEdge!]! nodes: [FulfillmentOrder!]! pageInfo: PageInfo! }
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }
type OrderTransaction {
  id: ID! kind: OrderTransactionKind! status: OrderTransactionStatus! gateway: String! formattedGateway: String
  amountSet: MoneyBag! parentTransaction: OrderTransaction processedAt: DateTime createdAt: DateTime! test: Boolean!
}
type OrderTransactionEdge { cursor: String! node: OrderTransaction! }
type OrderTransactionConnection { edges: [OrderTransactionEdge!]! nodes: [OrderTransaction!]! pageInfo: PageInfo! }
type Refund {
  id: ID! createdAt: DateTime! note: String totalRefundedSet: MoneyBag! order: Order! return: Return
  transactions(first: Int, after: String): OrderTransactionConnection!
}
type RefundEdge { cursor: String! node: Refund! }
union StoreCreditAccountTransactionOrigin = OrderTransaction
interface StoreCreditAccountTransaction {
  account: StoreCreditAccount! amount: MoneyV2! balanceAfterTransaction: MoneyV2! createdAt: DateTime!
  origin: StoreCreditAccountTransactionOrigin
}
type StoreCreditAccountCreditTransaction implements StoreCreditAccountTransaction {
  id: ID! account: StoreCreditAccount! amount: MoneyV2! balanceAfterTransaction: MoneyV2! createdAt: DateTime!
  expiresAt: DateTime origin: StoreCreditAccountTransactionOrigin
}
type StoreCreditAccountDebitTransaction implements StoreCreditAccountTransaction {
  id: ID! account: StoreCreditAccount! amount: MoneyV2! balanceAfterTransaction: MoneyV2! createdAt: DateTime!
  origin: StoreCreditAccountTransactionOrigin
}
type StoreCreditAccountTransactionEdge { cursor: String! node: StoreCreditAccountTransaction! }
type StoreCreditAccountTransactionConnection { edges: [StoreCreditAccountTransactionEdge!]! nodes: [StoreCreditAccountTransaction!]! pageInfo: PageInfo! }
type StoreCreditAccount {
  id: ID! balance: MoneyV2! owner: Customer
  transactions(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): StoreCreditAccountTransactionConnection!
}
type StoreCreditAccountEdge { cursor: String! node: StoreCreditAccount! }
type StoreCreditAccountConnection { edges: [StoreCreditAccountEdge!]! nodes: [StoreCreditAccount!]! pageInfo: PageInfo! }
input StoreCreditAccountCreditInput { creditAmount: MoneyInput! expiresAt: DateTime notify: Boolean }
type StoreCreditAccountCreditUserError { field: [String!] message: String! code: StoreCreditAccountCreditUserErrorCode }
type StoreCreditAccountCreditPayload { storeCreditAccountTransaction: StoreCreditAccountCreditTransaction userErrors: [StoreCreditAccountCreditUserError!]! }
type RefundConnection { edges: [RefundEdge!]! nodes: [Refund!]! pageInfo: PageInfo! }

type WebhookHttpEndpoint { callbackUrl: URL! }
union WebhookSubscriptionEndpoint = WebhookHttpEndpoint
type ApiVersion { handle: String! }
type WebhookSubscription {
  id: ID! topic: WebhookSubscriptionTopic! format: WebhookSubscriptionFormat! callbackUrl: URL! uri: String!
  endpoint: WebhookSubscriptionEndpoint! createdAt: DateTime! updatedAt: DateTime! includeFields: [String!]!
  filter: String apiVersion: ApiVersion!
}
type WebhookSubscriptionEdge { cursor: String! node: WebhookSubscription! }
type WebhookSubscriptionConnection { edges: [WebhookSubscriptionEdge!]! nodes: [WebhookSubscription!]! pageInfo: PageInfo! }
input WebhookSubscriptionInput { callbackUrl: URL uri: String format: WebhookSubscriptionFormat includeFields: [String!] metafieldNamespaces: [String!] filter: String }
type UserError { field: [String!] message: String! }
type WebhookSubscriptionCreatePayload { webhookSubscription: WebhookSubscription userErrors: [UserError!]! }
type WebhookSubscriptionUpdatePayload { webhookSubscription: WebhookSubscription userErrors: [UserError!]! }
type WebhookSubscriptionDeletePayload { deletedWebhookSubscriptionId: ID userErrors: [UserError!]! }

type BulkOperation {
  id: ID! status: BulkOperationStatus! errorCode: BulkOperationErrorCode objectCount: UnsignedInt64! rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64 url: URL partialDataUrl: URL createdAt: DateTime! completedAt: DateTime query: String! type: BulkOperationType!
}
type BulkOperationUserError { field: [String!] message: String! code: BulkOperationUserErrorCode }
type BulkOperationRunQueryPayload { bulkOperation: BulkOperation userErrors: [BulkOperationUserError!]! }
type BulkOperationCancelPayload { bulkOperation: BulkOperation userErrors: [UserError!]! }

type ReturnUserError { field: [String!] message: String! code: ReturnErrorCode }
type ReturnDecline { reason: ReturnDeclineReason! note: String }
type RestockingFee { id: ID! amountSet: MoneyBag! percentage: Float! }
type ReturnShippingFee { id: ID! amountSet: MoneyBag! }
type ReturnLineItem {
  id: ID! quantity: Int! processedQuantity: Int! processableQuantity: Int! returnReason: ReturnReason! returnReasonNote: String!
  customerNote: String fulfillmentLineItem: FulfillmentLineItem! restockingFee: RestockingFee
}
type ReturnLineItemEdge { cursor: String! node: ReturnLineItem! }
type ReturnLineItemConnection { edges: [ReturnLineItemEdge!]! nodes: [ReturnLineItem!]! pageInfo: PageInfo! }
type Return {
  id: ID! name: String! status: ReturnStatus! order: Order! totalQuantity: Int! decline: ReturnDecline
  createdAt: DateTime! closedAt: DateTime requestApprovedAt: DateTime
  returnLineItems(first: Int, last: Int, after: String, before: String, reverse: Boolean = false): ReturnLineItemConnection!
  exchangeLineItems(first: Int, after: String): ExchangeLineItemConnection!
  refunds(first: Int, after: String): RefundConnection!
  returnShippingFees: [ReturnShippingFee!]!
  reverseFulfillmentOrders(first: Int): ReverseFulfillmentOrderConnection!
  suggestedFinancialOutcome(
    returnLineItems: [SuggestedOutcomeReturnLineItemInput!]!, exchangeLineItems: [SuggestedOutcomeExchangeLineItemInput!], refundShipping: JSON,
    refundDuties: [JSON!], refundMethodAllocation: RefundMethodAllocation = ORIGINAL_PAYMENT_METHODS
  ): SuggestedReturnFinancialOutcome
}
input SuggestedOutcomeReturnLineItemInput { id: ID! quantity: Int! }
input SuggestedOutcomeExchangeLineItemInput { id: ID! quantity: Int! }
type ExchangeLineItem {
  id: ID! quantity: Int! processedQuantity: Int! processableQuantity: Int! unprocessedQuantity: Int!
  variantId: ID lineItems: [LineItem!] lineItem: LineItem
}
type ExchangeLineItemEdge { cursor: String! node: ExchangeLineItem! }
type ExchangeLineItemConnection { edges: [ExchangeLineItemEdge!]! nodes: [ExchangeLineItem!]! pageInfo: PageInfo! }
type RefundReturnOutcome { amount: MoneyBag! }
type InvoiceReturnOutcome { amount: MoneyBag! }
union ReturnOutcomeFinancialTransfer = RefundReturnOutcome | InvoiceReturnOutcome
type SuggestedReturnFinancialOutcome {
  discountedSubtotal: MoneyBag! totalAdditionalFees: MoneyBag! totalTax: MoneyBag! maximumRefundable: MoneyBag!
  financialTransfer: ReturnOutcomeFinancialTransfer
}
type ReverseFulfillmentOrderDisposition {
  id: ID! quantity: Int! type: ReverseFulfillmentOrderDispositionType! location: Location createdAt: DateTime!
}
type ReverseFulfillmentOrderLineItem {
  id: ID! totalQuantity: Int! fulfillmentLineItem: FulfillmentLineItem dispositions: [ReverseFulfillmentOrderDisposition!]!
}
type ReverseFulfillmentOrderLineItemEdge { cursor: String! node: ReverseFulfillmentOrderLineItem! }
type ReverseFulfillmentOrderLineItemConnection { edges: [ReverseFulfillmentOrderLineItemEdge!]! nodes: [ReverseFulfillmentOrderLineItem!]! pageInfo: PageInfo! }
type ReverseFulfillmentOrder {
  id: ID! status: ReverseFulfillmentOrderStatus!
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): ReverseFulfillmentOrderLineItemConnection!
  reverseDeliveries(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): ReverseDeliveryConnection!
}
type ReverseFulfillmentOrderEdge { cursor: String! node: ReverseFulfillmentOrder! }
type ReverseFulfillmentOrderConnection { edges: [ReverseFulfillmentOrderEdge!]! nodes: [ReverseFulfillmentOrder!]! pageInfo: PageInfo! }
type ReverseDeliveryTrackingV2 { carrierName: String number: String url: URL }
type ReverseDeliveryLabelV2 { publicFileUrl: URL createdAt: DateTime! updatedAt: DateTime! }
type ReverseDeliveryShippingDeliverable { tracking: ReverseDeliveryTrackingV2 label: ReverseDeliveryLabelV2 }
union ReverseDeliveryDeliverable = ReverseDeliveryShippingDeliverable
type ReverseDeliveryLineItem { id: ID! quantity: Int! reverseFulfillmentOrderLineItem: ReverseFulfillmentOrderLineItem! }
type ReverseDeliveryLineItemEdge { cursor: String! node: ReverseDeliveryLineItem! }
type ReverseDeliveryLineItemConnection { edges: [ReverseDeliveryLineItemEdge!]! nodes: [ReverseDeliveryLineItem!]! pageInfo: PageInfo! }
type ReverseDelivery {
  id: ID! deliverable: ReverseDeliveryDeliverable reverseFulfillmentOrder: ReverseFulfillmentOrder!
  reverseDeliveryLineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): ReverseDeliveryLineItemConnection!
}
type ReverseDeliveryEdge { cursor: String! node: ReverseDelivery! }
type ReverseDeliveryConnection { edges: [ReverseDeliveryEdge!]! nodes: [ReverseDelivery!]! pageInfo: PageInfo! }
type ReturnEdge { cursor: String! node: Return! }
type ReturnConnection { edges: [ReturnEdge!]! nodes: [Return!]! pageInfo: PageInfo! }
type ReturnableFulfillmentLineItem { quantity: Int! fulfillmentLineItem: FulfillmentLineItem! }
type ReturnableFulfillmentLineItemEdge { cursor: String! node: ReturnableFulfillmentLineItem! }
type ReturnableFulfillmentLineItemConnection { edges: [ReturnableFulfillmentLineItemEdge!]! nodes: [ReturnableFulfillmentLineItem!]! pageInfo: PageInfo! }
type ReturnableFulfillment {
  id: ID! fulfillment: Fulfillment!
  returnableFulfillmentLineItems(first: Int, last: Int, after: String, before: String, reverse: Boolean = false): ReturnableFulfillmentLineItemConnection!
}
type ReturnableFulfillmentEdge { cursor: String! node: ReturnableFulfillment! }
type ReturnableFulfillmentConnection { edges: [ReturnableFulfillmentEdge!]! nodes: [ReturnableFulfillment!]! pageInfo: PageInfo! }

input RestockingFeeInput { percentage: Float! }
input ReturnShippingFeeInput { amount: MoneyInput! }
input ReturnRequestLineItemInput {
  fulfillmentLineItemId: ID lineItemId: ID quantity: Int! returnReason: ReturnReason returnReasonNote: String customerNote: String
  restockingFee: RestockingFeeInput
}
input ReturnRequestInput { orderId: ID! returnLineItems: [ReturnRequestLineItemInput!]! returnShippingFee: ReturnShippingFeeInput }
input ReturnLineItemInput {
  fulfillmentLineItemId: ID! quantity: Int! returnReason: ReturnReason returnReasonNote: String
  restockingFee: RestockingFeeInput
}
input ExchangeLineItemAppliedDiscountValueInput { amount: MoneyInput percentage: Float }
input ExchangeLineItemAppliedDiscountInput { description: String value: ExchangeLineItemAppliedDiscountValueInput! }
input ExchangeLineItemInput { variantId: ID quantity: Int! appliedDiscount: ExchangeLineItemAppliedDiscountInput giftCardCodes: [String!] }
input ReturnInput {
  orderId: ID! returnLineItems: [ReturnLineItemInput!]! exchangeLineItems: [ExchangeLineItemInput!]
  returnShippingFee: ReturnShippingFeeInput notifyCustomer: Boolean requestedAt: DateTime
}
input ReturnApproveRequestInput { id: ID! notifyCustomer: Boolean }
input ReturnDeclineRequestInput { id: ID! declineReason: ReturnDeclineReason! declineNote: String notifyCustomer: Boolean }
input ReverseFulfillmentOrderDisposeInput {
  reverseFulfillmentOrderLineItemId: ID! quantity: Int! dispositionType: ReverseFulfillmentOrderDispositionType! locationId: ID
}
input ReturnProcessReturnLineItemInput { id: ID! quantity: Int! dispositions: [ReverseFulfillmentOrderDisposeInput!] }
input ReturnProcessExchangeLineItemInput { id: ID! quantity: Int! }
input ReturnProcessInput {
  returnId: ID! returnLineItems: [ReturnProcessReturnLineItemInput!] exchangeLineItems: [ReturnProcessExchangeLineItemInput!]
  refundShipping: JSON refundDuties: [JSON!] financialTransfer: JSON notifyCustomer: Boolean
}
input ReverseDeliveryLineItemInput { reverseFulfillmentOrderLineItemId: ID! quantity: Int! }
input ReverseDeliveryTrackingInput { number: String url: URL }
input ReverseDeliveryLabelInput { fileUrl: URL! }
type ReverseDeliveryCreateWithShippingPayload { reverseDelivery: ReverseDelivery userErrors: [ReturnUserError!]! }
type ReturnRequestPayload { return: Return userErrors: [ReturnUserError!]! }
type ReturnCreatePayload { return: Return userErrors: [ReturnUserError!]! }
type ReturnApproveRequestPayload { return: Return userErrors: [ReturnUserError!]! }
type ReturnDeclineRequestPayload { return: Return userErrors: [ReturnUserError!]! }
type ReturnProcessPayload { return: Return userErrors: [ReturnUserError!]! }
type ReturnCancelPayload { return: Return userErrors: [ReturnUserError!]! }
type ReturnClosePayload { return: Return userErrors: [ReturnUserError!]! }
type ReturnReopenPayload { return: Return userErrors: [ReturnUserError!]! }
"""
