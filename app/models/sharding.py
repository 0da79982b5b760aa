"""How each collection sits in a sharded cluster: sharded on `tenant_id`, or kept unsharded
(on the primary shard) for a stated reason. `rms db shard-plan` prints the commands; a test
checks every collection is here and every unique index of a sharded one starts with the key.

The key is `{tenant_id: 1}` alone: MongoDB requires each unique index to start with the whole
shard key, and the unique keys here are (tenant_id, <id>). Every query on these collections
names `tenant_id`, so it goes to one shard. One tenant's documents stay together (a very large
tenant becomes one large chunk range, split by the balancer only at tenant boundaries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TENANT_SHARD_KEY: tuple[tuple[str, int], ...] = (("tenant_id", 1),)


@dataclass(frozen=True, slots=True)
class Sharded:
    key: tuple[tuple[str, int], ...] = TENANT_SHARD_KEY


@dataclass(frozen=True, slots=True)
class Unsharded:
    reason: str


ShardRule = Sharded | Unsharded

_BY_SHOP = "looked up by shop domain before the tenant is known (OAuth, webhooks); one per shop"

SHARDING: dict[str, ShardRule] = {
    "orders": Sharded(),
    "customers": Sharded(),
    "returns": Sharded(),
    "return_ledgers": Sharded(),
    "sync_jobs": Sharded(),
    "audit_log": Sharded(),
    "customer_data_exports": Sharded(),
    "portal_attempts": Sharded(),
    "journal_barrier": Sharded(),
    "webhook_endpoints": Sharded(),
    "webhook_deliveries": Sharded(),
    "notifications": Sharded(),
    "return_photos": Sharded(),
    "tenants": Unsharded(_BY_SHOP + " (`shop_domain_unique`)"),
    "integrations_shopify": Unsharded(_BY_SHOP + " (`shop_domain_unique`)"),
    "api_keys": Unsharded(
        "a key is looked up by its public `key_id` to learn its tenant (`key_id_unique`); small"
    ),
    "webhook_events": Unsharded(
        "deduplicated by (shop_domain, event_id) (`shop_event_unique`); its `tenant_id` is "
        "derived from the shop, so re-keying that index to (tenant_id, shop_domain, event_id) "
        "in a migration would make it shardable on tenant_id"
    ),
    "install_leases": Unsharded("keyed by shop: the tenant does not exist yet; one per install"),
    "oauth_states": Unsharded("not a tenant's: a nonce per install attempt, expires in minutes"),
    "persisted_queries": Unsharded("not a tenant's: one document serves every shop"),
    "schema_migrations": Unsharded("the database's own bookkeeping"),
    "schema_migrations_lock": Unsharded("the database's own bookkeeping"),
    "backup_restores": Unsharded("the database's own bookkeeping"),
}


def shard_plan(database: str, index_keys: Mapping[str, Sequence[Sequence[str]]]) -> list[str]:
    """mongosh commands that shard the service's database as `SHARDING` says. `index_keys`:
    each collection's declared indexes as field lists; a collection with none that starts with
    its shard key gets one first (MongoDB needs it to shard a collection that holds data)."""
    lines = [f'sh.enableSharding("{database}");']
    for name, rule in SHARDING.items():
        if isinstance(rule, Sharded):
            fields = [field for field, _ in rule.key]
            key = ", ".join(f"{field}: {order}" for field, order in rule.key)
            if not any(list(keys[: len(fields)]) == fields for keys in index_keys.get(name, [])):
                lines.append(f'db.getSiblingDB("{database}").{name}.createIndex({{{key}}});')
            lines.append(f'sh.shardCollection("{database}.{name}", {{{key}}});')
    lines.append("// Unsharded (on the primary shard):")
    lines += [
        f"//   {name}: {rule.reason}"
        for name, rule in SHARDING.items()
        if isinstance(rule, Unsharded)
    ]
    return lines
