"""Pure policy core: the compiled policy model, its strict loader and ``decide()``.

Nothing here does network I/O or imports aiohttp; the loader reads only policy files and
the key and trusted root files they name.
"""
