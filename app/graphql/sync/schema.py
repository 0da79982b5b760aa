"""Operations of this domain, merged into the schema by app/graphql/schema.py."""

import strawberry


@strawberry.type
class SyncQueries:
    """No operations yet."""


@strawberry.type
class SyncMutations:
    """No operations yet."""
