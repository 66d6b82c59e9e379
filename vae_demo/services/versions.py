"""How an open page learns that the models or the test images changed: it polls a tiny static file.

A Gradio timer event every 5 s on every open page cost the page tens of milliseconds of Gradio's front end
each time (~60 ms measured in headless Chromium) and the server a few: 30 idle pages kept the server at
~0.10 CPU-s/s (~0.04 of it Gradio's own idle loops). Instead the server rewrites a small JSON file of the
versions when one changes; the page fetches it every few seconds (a static GET, ~2.5 ms of the server's
CPU, no event) and only when it changed does it click a hidden button, whose event gives the page's
pickers the new versions.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from vae_demo.files import atomic_write

PAGE_POLL_S = 5.0  # how often a page fetches the file


class VersionsFile:
    """Keeps ``directory/versions-<id>.json`` holding ``read()`` (checked every ``period`` s, rewritten
    only when it changed) from a daemon thread."""

    def __init__(self, read: Callable[[], object], directory: Path, period: float = 1.0):
        self.path = Path(directory) / f"versions-{uuid.uuid4().hex[:12]}.json"
        self._read, self._period = read, period
        self._last = None
        self.check()
        threading.Thread(target=self._loop, daemon=True, name="versions-file").start()

    def check(self) -> None:
        value = self._read()
        if value != self._last:
            atomic_write((self.path, json.dumps(value)))
            self._last = value

    def _loop(self) -> None:
        while True:
            time.sleep(self._period)
            try:
                self.check()
            except Exception:  # noqa: BLE001  (a failed write is retried at the next check)
                pass
