"""Thin aiohttp handlers, one module per resource."""
