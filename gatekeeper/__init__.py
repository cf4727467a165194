"""gatekeeper: a policy gate in front of OCI registries."""

__version__ = "0.1.0"
