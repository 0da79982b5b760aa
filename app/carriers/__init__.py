"""Outbound carrier adapters: buy return labels, void them, verify tracking webhooks.

`easypost.py` is the first (EasyPost's REST API). Like `app.shopify`, this package imports
nothing of the service: `services/shipping/labels.py` calls it through `EasyPostClient`.
"""
