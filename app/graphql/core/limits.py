"""Depth and alias limits whose validation rules are built once per process.

Strawberry's limiters build a new rule class per instance, and a fresh instance per request makes
every request's validation-cache key new, so the cache never hits. These share one rule class per
limit value, keeping `ValidationCache` effective while each request still gets its own extension.
"""

from __future__ import annotations

from functools import cache

from graphql import ValidationRule
from strawberry.extensions import AddValidationRules
from strawberry.extensions.max_aliases import create_validator as aliases_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator


@cache
def _depth_rule(max_depth: int) -> type[ValidationRule]:
    return depth_validator(max_depth, None, None)


@cache
def _aliases_rule(max_aliases: int) -> type[ValidationRule]:
    return aliases_validator(max_aliases)


class QueryLimits(AddValidationRules):
    def __init__(self, max_depth: int, max_aliases: int) -> None:
        super().__init__([_depth_rule(max_depth), _aliases_rule(max_aliases)])
