"""Operations of this domain, merged into the schema by app/graphql/schema.py."""

import strawberry


@strawberry.type
class OperationsQueries:
    """No operations yet."""


@strawberry.type
class OperationsMutations:
    """No operations yet."""
