"""Talking to the upstream registry: one shared ClientSession, errors translated."""
