"""Operations of this domain, merged into the schema by app/graphql/schema.py."""

import strawberry


@strawberry.type
class ReturnMutations:
    """No operations yet."""
