"""Files a compiled policy depends on besides its own, and the stamps that tell they changed.

Key files and trusted roots are read once, when the policy is compiled; the policy store
watches their stamps and recompiles when one changes. The loader stamps a file *before*
reading it, so a change racing with the read shows up as a changed stamp at the next poll
(a redundant reload) rather than as bytes in use that no stamp describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FileStamp = tuple[int, int, int]  # st_mtime_ns, st_size, st_ino


def file_stamp(path: Path) -> FileStamp | None:
    """The stamp of ``path`` now; None when it cannot be stat'ed (missing, no permission)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass(frozen=True, slots=True)
class WatchedFile:
    """A trust file a policy names, with its stamp as it was when the policy read it."""

    path: Path
    stamp: FileStamp | None  # None: it could not be stat'ed then

    def changed(self) -> bool:
        """True when the file's stamp now differs from the one it was read under."""
        return file_stamp(self.path) != self.stamp
