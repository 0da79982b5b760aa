"""Operations of this domain, merged into the schema by app/graphql/schema.py."""

import strawberry


@strawberry.type
class PortalQueries:
    """No operations yet."""


@strawberry.type
class PortalMutations:
    """No operations yet."""
