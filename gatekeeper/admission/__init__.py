"""The admission core: every request kind is decided here, and nowhere else.

``evidence`` (the seam: :class:`Subject` and the gatherer Protocols), ``admit`` (facts in,
:class:`Decision` out, through the pure :func:`gatekeeper.policy.decide.decide`), the policy
store, the decision log and the wiring that builds all of it (``wiring.build_deps``). The
HTTP server and ``gatekeeper evaluate`` both build on this package; nothing here imports
``gatekeeper.server``.
"""
