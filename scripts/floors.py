"""Print pip constraints pinning every runtime dependency of pyproject.toml to its floor.

``make test-floors`` installs gatekeeper with these constraints and runs the unit tests, so a
floor that no longer works (an import that fails, a missing method) is seen before a user
with an old environment sees it. Dependencies without a ``>=`` floor are left free.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?$")
EXTRAS = ("redis",)  # runtime extras; "dev" tools are not pinned to their floors


def floors(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements += project["optional-dependencies"][extra]
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = _FLOOR.match(requirement)
        if match is None:
            raise SystemExit(f"cannot read requirement {requirement!r}")
        name, spec, marker = match.groups()
        low = [part.strip()[2:] for part in spec.split(",") if part.strip().startswith(">=")]
        if low:
            pins[name.lower()] = f"{name}=={low[0]}{' ' + marker if marker else ''}"
    return sorted(pins.values())


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
    print("\n".join(floors(path)))
