"""The aiohttp application: routing, admission on the request path, enforcement."""
