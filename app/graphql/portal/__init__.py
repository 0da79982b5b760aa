"""GraphQL package."""
