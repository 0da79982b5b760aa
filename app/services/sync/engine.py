"""Run one claimed sync job: plan it, pull pages (or a bulk export), upsert, record progress.

- Plan (first run only): the Shopify search string (`created_at:>=` the last `days` for FULL,
  `updated_at:>=` the last completed job's start minus an overlap for INCREMENTAL),
  `ordersCount` as the total estimate, and the mode: the bulk export when the estimate is above
  `bulk_threshold`, else paging. Stored on the job, so a worker that takes it over continues the
  same plan from the stored cursor.
- Paged: `orders(first, after, query, sortKey: UPDATED_AT)`; the page size is what fits under
  the single-query cost limit and the shop's bucket. The next page is fetched while the previous
  one is upserted. Each page is one bulk upsert of orders (and one of their customers), then ONE
  update of cursor + counters + lease, so a page is counted once however the worker dies.
- Errors: Shopify unavailable or throttled beyond the client's own retries, or the database
  not answering, is retried here `retries` times with backoff from the last recorded cursor;
  then the job fails (Shopify), or is left running to its lease (the database: a worker takes
  it over from its cursor once the database is back). A token that
  cannot be refreshed (app uninstalled, access revoked) or a disconnected integration cancels
  the job with the reason; a token rejected right after a successful refresh (or 403) fails it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError

from app.clock import utcnow
from app.models import Customer, Order, ShopifyIntegration, SyncJob, Tenant
from app.models.database_errors import is_database_unavailable
from app.models.integration import IntegrationStatus
from app.models.sync_job import SyncStatus, SyncType
from app.observability import metrics
from app.services.integration.session import IntegrationNotConnected, TokenRefreshFailed
from app.services.orders.redacted_customers import keep_redacted_customers_erased
from app.services.orders.store import upsert_customers, upsert_orders
from app.services.returns.reconcile import reconcile_returns
from app.services.sync import bulk, jobs
from app.services.sync.mapping import MappingError, customers_of_orders, order_from_node
from app.shopify.client import ShopifyAdminClient
from app.shopify.documents import orders as operations
from app.shopify.errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyGraphQLError,
    ShopifyOAuthError,
    ShopifyThrottledError,
    ShopifyUnavailableError,
)

logger = logging.getLogger(__name__)
JSON = dict[str, Any]
ClientFactory = Callable[[str], Awaitable[ShopifyAdminClient]]

CANCELED_BY_MERCHANT = "Canceled by the merchant"


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """Knobs of the engine; tests set them low (threshold, lease, backoff)."""

    bulk_threshold: int = 5000
    lease_seconds: float = jobs.DEFAULT_LEASE_SECONDS
    incremental_overlap: timedelta = timedelta(minutes=5)
    line_items_first: int = operations.LINE_ITEMS_FIRST
    fulfillments_first: int = operations.FULFILLMENTS_FIRST
    prefetch_pages: int = 2
    bulk_batch_size: int = 250
    bulk_poll_interval: float = 1.0
    bulk_timeout: float = 6 * 3600.0
    retries: int = 3
    retry_backoff: float = 2.0
    # Keys the pseudonym of a redacted customer (the app secret, as the webhook path uses).
    redaction_secret: str = ""


class LeaseLost(Exception):
    """Another worker, the sweeper or an operator owns or ended the job: stop quietly."""


class JobCanceled(Exception):
    """End the job as `canceled` with this reason."""


@dataclass(frozen=True, slots=True)
class FetchedPage:
    nodes: list[JSON]
    line_items: dict[str, list[JSON]]  # order GID -> all its lines, for orders with more lines
    end_cursor: str | None
    has_next_page: bool


def shopify_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def run_sync_job(
    job: SyncJob,
    *,
    worker_id: str,
    client_factory: ClientFactory,
    http: httpx.AsyncClient,
    options: SyncOptions | None = None,
) -> SyncStatus | None:
    """Run a job this worker has claimed to its end; the final status, or None when the job
    was taken away from this worker. Cancellation of the caller leaves the job to its lease."""
    return await _JobRun(job, worker_id, http, options or SyncOptions()).run(client_factory)


class _JobRun:
    def __init__(
        self, job: SyncJob, worker_id: str, http: httpx.AsyncClient, options: SyncOptions
    ) -> None:
        self.job = job
        self.worker_id = worker_id
        self.http = http
        self.options = options

    # Outline ---------------------------------------------------------------------------------
    returns_warning: str | None = None  # set by a reconcile pass that could not finish

    async def run(self, client_factory: ClientFactory) -> SyncStatus | None:
        try:
            if self.job.cancel_requested:
                raise JobCanceled(CANCELED_BY_MERCHANT)
            try:
                client = await client_factory(self.job.tenant_id)
            except IntegrationNotConnected as exc:
                raise JobCanceled(f"Shopify is not connected ({exc}): sync canceled") from exc
            await self._plan(client)
            await self._pull_with_retries(client)
            await self._reconcile_returns(client)
            return await self._finish(SyncStatus.COMPLETED, None)
        except JobCanceled as exc:
            return await self._finish(SyncStatus.CANCELED, str(exc))
        except LeaseLost:
            logger.info(
                "sync job %s is no longer held by %s; stopping", self.job.id, self.worker_id
            )
            return None
        except IntegrationNotConnected as exc:
            return await self._finish(
                SyncStatus.CANCELED, f"Shop uninstalled or disconnected during the sync ({exc})"
            )
        except ShopifyAuthError as exc:
            if await self._integration_gone() or _refresh_refused(exc):
                reason = f"Shop uninstalled or access revoked during the sync: {exc}"
                return await self._finish(SyncStatus.CANCELED, reason)
            return await self._finish(
                SyncStatus.FAILED, f"Shopify rejected the access token: {exc}"
            )
        except ShopifyThrottledError as exc:
            return await self._finish(SyncStatus.FAILED, f"Shopify kept throttling the sync: {exc}")
        except ShopifyUnavailableError as exc:
            return await self._finish(SyncStatus.FAILED, f"Shopify unavailable: {exc}")
        except ShopifyError as exc:
            return await self._finish(SyncStatus.FAILED, f"Shopify error: {exc}")
        except Exception as exc:
            if is_database_unavailable(exc):
                # Not the job's fault: leave it running; once its lease lapses a worker takes
                # it over from its stored cursor (attempts bound a crash loop).
                logger.warning(
                    "sync job %s: the database is unavailable (%s); left to its lease",
                    self.job.id,
                    type(exc).__name__,
                )
                return None
            logger.exception("sync job %s failed", self.job.id)
            return await self._finish(
                SyncStatus.FAILED, f"Internal error: {type(exc).__name__}: {exc}"
            )

    async def _finish(self, status: SyncStatus, error: str | None) -> SyncStatus | None:
        warning = None
        if status == SyncStatus.COMPLETED:
            failed = await self._failed_count()
            if failed:
                warning = (
                    f"{failed} order(s) or customer(s) could not be stored; "
                    "see the worker log for the reasons"
                )
            if self.returns_warning:
                warning = "; ".join(part for part in (warning, self.returns_warning) if part)
        if not await jobs.finish_job(
            self.job.tenant_id, self.job.id, self.worker_id, status, error, warning=warning
        ):
            return None
        metrics.sync_jobs_finished(self.job.type.value, status.value)
        log = logger.info if status == SyncStatus.COMPLETED else logger.warning
        log(
            "sync job %s of %s %s%s",
            self.job.id,
            self.job.tenant_id,
            status.value,
            f": {error}" if error else "",
        )
        return status

    async def _failed_count(self) -> int:
        doc = await SyncJob.get_pymongo_collection().find_one(
            jobs.lease_filter(self.job.tenant_id, self.job.id, self.worker_id),
            {"progress.failed": 1},
        )
        return int(((doc or {}).get("progress") or {}).get("failed") or 0)

    async def _integration_gone(self) -> bool:
        doc = await ShopifyIntegration.get_pymongo_collection().find_one(
            {"tenant_id": self.job.tenant_id}, {"status": 1}
        )
        return doc is None or doc.get("status") != IntegrationStatus.CONNECTED.value

    async def _set(self, fields: dict[str, Any]) -> None:
        doc = await jobs.update_job(self.job.tenant_id, self.job.id, self.worker_id, fields)
        if doc is None:
            raise LeaseLost
        self.job = SyncJob.model_validate(doc)

    async def _check_cancel(self) -> None:
        doc = await SyncJob.get_pymongo_collection().find_one(
            jobs.lease_filter(self.job.tenant_id, self.job.id, self.worker_id),
            {"cancel_requested": 1},
        )
        if doc is None:
            raise LeaseLost
        if doc.get("cancel_requested"):
            raise JobCanceled(CANCELED_BY_MERCHANT)

    # Plan ------------------------------------------------------------------------------------
    async def _plan(self, client: ShopifyAdminClient) -> None:
        if self.job.mode is not None and self.job.query is not None:
            return
        now = utcnow()
        days = self.job.days or jobs.DEFAULT_DAYS
        since: datetime | None = None
        warnings = list(self.job.warnings)
        if self.job.type == SyncType.INCREMENTAL:
            last = await jobs.last_completed_sync(self.job.tenant_id)
            if last is not None and last.started_at is not None:
                since = last.started_at - self.options.incremental_overlap
            else:
                warnings.append(f"No completed sync yet: pulled orders of the last {days} days")
        if since is not None:
            search = f"updated_at:>='{shopify_time(since)}'"
        else:
            search = f"created_at:>='{shopify_time(now - timedelta(days=days))}'"
        data = await client.execute(operations.ORDERS_COUNT, {"query": search})
        count = int((data.get("ordersCount") or {}).get("count") or 0)
        mode = "bulk" if count > self.options.bulk_threshold else "paged"
        await self._set(
            {
                "mode": mode,
                "query": search,
                "since": since,
                "warnings": warnings,
                "progress.total_estimate": count,
            }
        )

    async def _pull_with_retries(self, client: ShopifyAdminClient) -> None:
        attempt = 0
        while True:
            try:
                if attempt:
                    await self._reload()  # from the stored cursor (the database may be back)
                if self.job.mode == "bulk":
                    await self._pull_bulk(client)
                else:
                    await self._pull_pages(client)
                return
            except Exception as exc:
                if not isinstance(
                    exc, ShopifyUnavailableError | ShopifyThrottledError
                ) and not is_database_unavailable(exc):
                    raise
                attempt += 1
                if attempt > self.options.retries:
                    raise
                delay = self.options.retry_backoff * 2 ** (attempt - 1)
                logger.warning(
                    "sync job %s: %s; retry %s in %.1fs", self.job.id, exc, attempt, delay
                )
                await asyncio.sleep(delay)

    async def _reconcile_returns(self, client: ShopifyAdminClient) -> None:
        """The synced orders' returns brought in line with Shopify (`returns.reconcile`). The
        orders are stored by now: Shopify failing this pass leaves the job completed with a
        warning (the next resync tries again), never failed."""
        try:
            counts = await reconcile_returns(
                self.job.tenant_id, client, self.job.query or "", self._check_cancel
            )
        except ShopifyAuthError:
            raise
        except ShopifyError as exc:
            self.returns_warning = f"returns not reconciled with Shopify: {exc}"
            logger.warning("sync job %s: %s", self.job.id, self.returns_warning)
            return
        if counts.failed:
            self.returns_warning = (
                f"{counts.failed} return(s) could not be read from Shopify; the next resync"
                " tries them again"
            )
        await self._set(
            {
                "progress.returns_seen": counts.seen,
                "progress.returns_applied": counts.applied,
            }
        )
        if counts.waiting:
            logger.info(
                "sync job %s: %s returns wait for their orders", self.job.id, counts.waiting
            )

    async def _reload(self) -> None:
        doc = await SyncJob.get_pymongo_collection().find_one(
            jobs.lease_filter(self.job.tenant_id, self.job.id, self.worker_id)
        )
        if doc is None:
            raise LeaseLost
        self.job = SyncJob.model_validate(doc)

    # Storing ---------------------------------------------------------------------------------
    async def _store(
        self, nodes: list[JSON], line_items: dict[str, list[JSON]], cursor: str | None
    ) -> None:
        tenant_id = self.job.tenant_id
        orders = []
        unmappable = 0
        for node in nodes:
            try:
                orders.append(order_from_node(tenant_id, node, line_items.get(str(node.get("id")))))
            except (MappingError, ValidationError, ValueError, TypeError) as exc:
                unmappable += 1
                logger.warning(
                    "sync job %s: order %s not stored: %s", self.job.id, node.get("id"), exc
                )
        customers = await keep_redacted_customers_erased(
            tenant_id,
            orders,
            customers_of_orders(tenant_id, nodes),
            self.options.redaction_secret,
            utcnow(),
        )
        order_counts, customer_counts = await asyncio.gather(
            upsert_orders(orders), upsert_customers(customers)
        )
        for counts in (order_counts, customer_counts):
            if counts.errors:
                logger.warning("sync job %s: %s", self.job.id, "; ".join(counts.errors[:3]))
        state = await jobs.record_progress(
            self.job.tenant_id,
            self.job.id,
            self.worker_id,
            cursor=cursor,
            increments={
                "pages": 1,
                "orders": len(nodes),
                "customers": len(customers),
                "upserted": order_counts.upserted,
                "unchanged": order_counts.unchanged,
                "failed": order_counts.failed + customer_counts.failed + unmappable,
            },
            lease_seconds=self.options.lease_seconds,
        )
        if state is None:
            await self._erase_if_shop_redacted(
                [order.shopify_id for order in orders],
                [customer.shopify_id for customer in customers],
            )
            raise LeaseLost
        self.job.cursor = cursor
        if state.get("cancel_requested"):
            raise JobCanceled(CANCELED_BY_MERCHANT)

    async def _erase_if_shop_redacted(self, order_ids: list[str], customer_ids: list[str]) -> None:
        """The job is gone: if `shop/redact` deleted the tenant while this page was being
        written, delete what the page wrote, so no personal data outlives the redaction."""
        tenant_id = self.job.tenant_id
        if await Tenant.get_pymongo_collection().find_one({"_id": tenant_id}, {"_id": 1}):
            return
        if order_ids:
            await Order.get_pymongo_collection().delete_many(
                {"tenant_id": tenant_id, "shopify_id": {"$in": order_ids}}
            )
        if customer_ids:
            await Customer.get_pymongo_collection().delete_many(
                {"tenant_id": tenant_id, "shopify_id": {"$in": customer_ids}}
            )
        logger.warning(
            "sync job %s: shop %s was redacted during the sync; erased the page just written",
            self.job.id,
            tenant_id,
        )

    # Paged path ------------------------------------------------------------------------------
    async def _pull_pages(self, client: ShopifyAdminClient) -> None:
        queue: asyncio.Queue[FetchedPage | BaseException | None] = asyncio.Queue(
            maxsize=max(1, self.options.prefetch_pages)
        )

        async def produce() -> None:
            try:
                async for page in self._pages(client, self.job.cursor):
                    await queue.put(page)
                await queue.put(None)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                await queue.put(exc)

        producer = asyncio.create_task(produce(), name=f"sync-fetch:{self.job.id}")
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                await self._store(item.nodes, item.line_items, item.end_cursor)
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer

    def _page_size(self, client: ShopifyAdminClient) -> int:
        budget = float(operations.SINGLE_QUERY_MAX_COST)
        if client.last_cost is not None:
            budget = min(budget, client.last_cost.maximum_available)
        return operations.page_size_for(
            budget, self.options.line_items_first, self.options.fulfillments_first
        )

    async def _pages(
        self, client: ShopifyAdminClient, after: str | None
    ) -> AsyncIterator[FetchedPage]:
        size = self._page_size(client)
        while True:
            variables = {
                "first": size,
                "after": after,
                "query": self.job.query,
                "lineItemsFirst": self.options.line_items_first,
                "fulfillmentsFirst": self.options.fulfillments_first,
            }
            try:
                data = await client.execute(operations.ORDERS_PAGE, variables)
            except ShopifyThrottledError:
                cost = client.last_cost
                if size > 1 and cost is not None and (cost.requested or 0) > cost.maximum_available:
                    size = max(1, min(size - 1, self._page_size(client)))  # the bucket is smaller
                    continue
                raise
            except ShopifyGraphQLError as exc:
                if size > 1 and "MAX_COST_EXCEEDED" in exc.codes:
                    size = max(1, size // 2)
                    continue
                raise
            connection = data.get("orders") or {}
            nodes = [node for node in connection.get("nodes") or [] if isinstance(node, dict)]
            info = connection.get("pageInfo") or {}
            page = FetchedPage(
                nodes=nodes,
                line_items=await self._remaining_line_items(client, nodes),
                end_cursor=info.get("endCursor") or after,
                has_next_page=bool(info.get("hasNextPage")),
            )
            if nodes or page.end_cursor != after:
                yield page
            if not page.has_next_page or not info.get("endCursor"):
                return
            after = page.end_cursor
            size = self._page_size(client)

    async def _remaining_line_items(
        self, client: ShopifyAdminClient, nodes: list[JSON]
    ) -> dict[str, list[JSON]]:
        """Orders with more lines than the page asked for get the rest (rare; no per-order
        query otherwise)."""
        completed: dict[str, list[JSON]] = {}
        for node in nodes:
            connection = node.get("lineItems") or {}
            info = connection.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                continue
            lines = list(connection.get("nodes") or [])
            after = info.get("endCursor")
            while after:
                data = await client.execute(
                    operations.ORDER_LINE_ITEMS, {"id": node["id"], "first": 50, "after": after}
                )
                more = ((data.get("order") or {}).get("lineItems")) or {}
                lines.extend(more.get("nodes") or [])
                more_info = more.get("pageInfo") or {}
                after = more_info.get("endCursor") if more_info.get("hasNextPage") else None
            completed[str(node["id"])] = lines
        return completed

    # Bulk path -------------------------------------------------------------------------------
    async def _pull_bulk(self, client: ShopifyAdminClient) -> None:
        query = self.job.query or ""
        operation_id = self.job.bulk_operation_id
        if operation_id is not None:
            current = await bulk.current_bulk_operation(client)
            if (
                current is None
                or current.get("id") != operation_id
                or current.get("status")
                not in (
                    *bulk.RUNNING_STATUSES,
                    "COMPLETED",
                )
            ):
                operation_id = None  # expired or replaced: export again
        if operation_id is None:
            operation_id = await bulk.start_bulk_export(client, query)
            # A new file: the cursor counted orders of the old one, so start it from 0 and
            # count afresh (orders already stored from the old file come back as unchanged).
            await self._set(
                {
                    "bulk_operation_id": operation_id,
                    "cursor": None,
                    **{f"progress.{name}": 0 for name in _BULK_RESTART_COUNTERS},
                }
            )
        try:
            result = await bulk.wait_for_bulk_operation(
                client,
                operation_id,
                poll_interval=self.options.bulk_poll_interval,
                timeout=self.options.bulk_timeout,
                check=self._check_cancel,
            )
        except JobCanceled:
            await bulk.cancel_bulk_operation(client, operation_id)
            raise
        if not result.url:
            return
        recorded = int(self.job.cursor or 0)
        async for batch in bulk.read_bulk_orders(
            self.http, result.url, batch_size=self.options.bulk_batch_size, skip=recorded
        ):
            recorded += len(batch)
            await self._store(
                [item.node for item in batch],
                {str(item.node.get("id")): item.line_items for item in batch},
                str(recorded),
            )


# Progress counters of one pass over a bulk file (reset when a new export replaces it).
_BULK_RESTART_COUNTERS = ("pages", "orders", "customers", "upserted", "unchanged", "failed")


def _refresh_refused(exc: ShopifyAuthError) -> bool:
    """The token could not be refreshed because Shopify refused (uninstalled, revoked)."""
    return isinstance(exc, TokenRefreshFailed) and isinstance(exc.__cause__, ShopifyOAuthError)
