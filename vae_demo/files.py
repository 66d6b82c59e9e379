"""Atomic file writes, shared by checkpoints, the classical restorers' tuned parameters and the benchmark."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(*files: tuple[str | os.PathLike, bytes | str]) -> None:
    """Write every (path, data) to a temporary file beside it and fsync them all; only then rename
    them into place. A failure while writing (a full disk, a crash) leaves every old file as it
    was, so files written together (a checkpoint's weights and the JSON holding their hash) never
    get out of step. ``str`` data is written as UTF-8."""
    tmps: list[str] = []
    try:
        for path, data in files:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            tmps.append(tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it private; these files are for everyone to read
        for tmp, (path, _) in zip(tmps, files):
            os.replace(tmp, path)
    except BaseException:
        for tmp in tmps:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise
