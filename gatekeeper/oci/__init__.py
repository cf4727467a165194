"""Pure OCI distribution vocabulary: grammar, routes, digests, media types, error bodies.

Nothing here does I/O or imports aiohttp.
"""
