"""`rms db shard-plan` and the sharding rules it prints: every collection is placed, and a
sharded one can really be sharded on tenant_id (MongoDB refuses a unique index that does not
start with the shard key)."""

from __future__ import annotations

import pytest

from app.migrations.indexes import collection_name, declared_indexes
from app.models import DOCUMENT_MODELS
from app.models.sharding import SHARDING, Sharded, Unsharded
from tools.cli import main


def test_every_collection_has_a_sharding_rule() -> None:
    collections = {collection_name(model) for model in DOCUMENT_MODELS}
    assert collections <= set(SHARDING), collections - set(SHARDING)


@pytest.mark.parametrize("model", DOCUMENT_MODELS, ids=lambda model: model.__name__)
def test_a_sharded_collections_unique_indexes_start_with_the_shard_key(model: type) -> None:
    rule = SHARDING[collection_name(model)]
    if isinstance(rule, Unsharded):
        assert rule.reason
        return
    assert "tenant_id" in model.model_fields  # type: ignore[attr-defined]
    key = [field for field, _ in rule.key]
    for index in declared_indexes(model):
        if index.document.get("unique"):
            assert list(index.document["key"])[: len(key)] == key, index.document["name"]


def test_the_plan_shards_on_tenant_id_and_says_why_the_rest_is_not(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONGODB_DB", "shop_returns")
    assert main(["db", "shard-plan"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'sh.enableSharding("shop_returns");'
    sharded = [name for name, rule in SHARDING.items() if isinstance(rule, Sharded)]
    for name in sharded:
        assert f'sh.shardCollection("shop_returns.{name}", {{tenant_id: 1}});' in out
    # return_ledgers has no index starting with tenant_id: one is created before sharding.
    create = 'db.getSiblingDB("shop_returns").return_ledgers.createIndex({tenant_id: 1});'
    assert out.index(create) < out.index(
        'sh.shardCollection("shop_returns.return_ledgers", {tenant_id: 1});'
    )
    assert not any("orders.createIndex" in line for line in out)  # it has tenant_* indexes
    assert any(line.startswith("//   webhook_events: ") for line in out)
