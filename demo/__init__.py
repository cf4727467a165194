"""``make demo``: a registry, gatekeeper with the example policy, allowed and refused pulls."""
