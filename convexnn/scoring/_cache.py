"""Answers kept on disk, one small JSON file per key, written atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

logger = logging.getLogger("convexnn.scoring")


class ScoreCache:
    """A directory of JSON entries named by the hash of what produced them.

    An entry is written to a temporary file in the same directory and moved
    into place with :func:`os.replace`, so readers see either the old entry or
    the new one, never half of one. An entry that cannot be read or decoded is
    reported in the log and treated as absent; the next :meth:`store` replaces
    it. A failed write warns and is otherwise ignored: the scores are still
    returned, only not remembered.

    Parameters
    ----------
    directory : str or path-like
        Where entries live; created on the first write.
    """

    def __init__(self, directory):
        self.directory = Path(directory)

    @staticmethod
    def key(**parts) -> str:
        """The SHA-256 of ``parts`` written as canonical JSON."""
        canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def load(self, key: str):
        """The decoded entry for ``key``, or ``None`` when absent or unreadable."""
        path = self._path(key)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("Ignoring the unreadable cache entry %s: %s", path, exc)
            return None

    def store(self, key: str, value) -> None:
        """Write ``value`` (anything JSON can encode) as the entry for ``key``."""
        path = self._path(key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(
                dir=self.directory, prefix=f".{key[:16]}.", suffix=".tmp"
            )
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    json.dump(value, file, ensure_ascii=False)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            message = f"Could not write the cache entry {path}: {exc}"
            warnings.warn(message, UserWarning, stacklevel=2)

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"
