"""Notary Project (Notation) signatures: envelopes, trust stores, verification (offline).

Specification: github.com/notaryproject/specifications, ``specs/signature-specification.md``,
``signature-envelope-jws.md``, ``signature-envelope-cose.md``, ``trust-store-trust-policy.md``.
"""
