"""Operations of this domain, merged into the schema by app/graphql/schema.py."""

import strawberry


@strawberry.type
class IntegrationQueries:
    """No operations yet."""


@strawberry.type
class IntegrationMutations:
    """No operations yet."""
