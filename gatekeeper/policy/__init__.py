"""Pure policy core: the compiled policy model, its strict loader and ``decide()``.

Nothing here does network I/O or imports aiohttp; the loader only reads policy files.
"""
