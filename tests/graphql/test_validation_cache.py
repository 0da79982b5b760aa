"""Parsing and validation are cached across requests (the limits share their rule classes)."""

from __future__ import annotations

from typing import Any

from strawberry.extensions.validation_cache import _get_validate_cache

from app.graphql.core.limits import QueryLimits
from app.graphql.schema import build_schema


async def test_second_identical_request_hits_the_validation_cache() -> None:
    schema = build_schema()
    query = "query CacheProbe { __typename }"
    cache: Any = _get_validate_cache(1024)  # an lru_cache wrapper
    await schema.execute(query)
    before = cache.cache_info().hits
    result = await schema.execute(query)
    assert result.errors is None
    assert cache.cache_info().hits == before + 1


def test_limits_share_rule_classes_across_instances() -> None:
    assert QueryLimits(12, 30).validation_rules == QueryLimits(12, 30).validation_rules
