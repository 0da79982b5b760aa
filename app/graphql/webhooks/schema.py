"""Operations of this domain, merged into the schema by app/graphql/schema.py."""

import strawberry


@strawberry.type
class WebhookQueries:
    """No operations yet."""


@strawberry.type
class WebhookMutations:
    """No operations yet."""
