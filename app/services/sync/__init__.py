"""Pulling orders and customers from Shopify: sync jobs, the engine, the bulk path, mapping."""
