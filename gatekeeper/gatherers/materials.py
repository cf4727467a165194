"""The trust material a gatherer verifies with: exactly what the policy compiled.

Key files and trusted roots are read and parsed once, when the policy is compiled
(:mod:`gatekeeper.policy.trust_files`); a changed file reaches the gate by a policy reload,
which the policy store triggers when it sees the file change. Nothing re-reads them per
request, so the material in use is the one the policy fingerprint names.
"""

from __future__ import annotations

from gatekeeper.policy.model import SignaturePolicy
from gatekeeper.trust.errors import TrustError
from gatekeeper.trust.material import TrustMaterial


def compiled_material(policy: SignaturePolicy) -> TrustMaterial:
    """``policy.material``; TrustError (evidence not gathered: deny) when it has none."""
    if policy.material is None:
        # Only a SignaturePolicy built by hand lacks it; trusting nothing is fail-closed.
        raise TrustError("the signature policy carries no trust material (not compiled)")
    return policy.material
