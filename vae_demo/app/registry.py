"""What a tab (or a view inside a tab) is, and the ordered registries the page is built from.

A tab is one module that declares a :class:`Tab`: its id, its title, a ``build(ctx)`` that lays out its
components and wires them to :mod:`vae_demo.services`, and, as files, its CSS and its page script (loaded
after the in-page decoder, ``vae_demo/web/decoder.js``). One line registers it (``TABS.register(...)``,
in :mod:`vae_demo.app.tabs`); nothing else in the app names it. The "Inside a VAE" tab holds views the
same way (:mod:`vae_demo.app.tabs.inside`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

TAB_FILES = Path(__file__).resolve().parents[1] / "web" / "tabs"  # each tab's .css and .js


@dataclass(frozen=True)
class Tab:
    id: str  # the gr.Tab's id, and the prefix of its elements' ids
    title: str
    build: Callable  # build(ctx: Context) -> None, inside the gr.Tab
    css: Path | None = None  # a .css file of this tab's rules
    script: Path | None = None  # a .js file, run once in the page after decoder.js has loaded
    config: dict = field(default_factory=dict)  # what its script reads as window.vaeDemoPage.tabs[id]; its
    # "state": the controls that make its view, [[elem_id, kind], ...] in the order a link sets them
    # (kinds: web/viewstate.js)
    views: Registry | None = None  # a tab made of views (sub-tabs), each a Tab of its own


def view_state(tab: Tab) -> list:
    """The controls a link to ``tab`` holds, in the order they are set: its own, then for a tab made of views,
    which view is shown (its gr.Tabs has the id ``<tab id>-views``) and each view's own."""
    state = list(tab.config.get("state", []))
    if tab.views is not None:
        state.append([f"{tab.id}-views", "view"])
        for view in tab.views.walk():
            state.extend(view_state(view))
    return state


class Registry:
    """Tabs in the order they are shown; registering an id again replaces that tab in its place."""

    def __init__(self) -> None:
        self._tabs: list[Tab] = []

    def register(self, tab: Tab) -> Tab:
        for i, t in enumerate(self._tabs):
            if t.id == tab.id:
                self._tabs[i] = tab
                return tab
        self._tabs.append(tab)
        return tab

    def unregister(self, tab_id: str) -> None:
        self._tabs = [t for t in self._tabs if t.id != tab_id]

    def __iter__(self) -> Iterator[Tab]:
        return iter(list(self._tabs))

    def __len__(self) -> int:
        return len(self._tabs)

    def walk(self) -> Iterator[Tab]:
        """Every tab and, after it, its views (depth first): what the page loads CSS and scripts for."""
        for tab in self:
            yield tab
            if tab.views is not None:
                yield from tab.views.walk()
