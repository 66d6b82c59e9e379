"""The page in its visitor's language: what the Blocks were built with (in English) is sent again, translated,
when a page in another language loads.

Every text a component shows when built (a label, an info line, a placeholder, a Markdown's or a button's
text, a tab's title, the names of a choice's options) is looked up in the language's table
(:func:`vae_demo.language.translate`); one load event sends the translations, nothing for an English page.
Texts set later by handlers are made in the visitor's language by the handlers themselves (``_()``); a
component whose value a load event sets keeps that value.
"""

from __future__ import annotations

import gradio as gr

from vae_demo import language

TEXT_PROPS = ("label", "info", "placeholder")
VALUE_TEXT = (gr.Markdown, gr.HTML, gr.Button)  # components whose value is a text the page shows
CHOICES = (gr.Radio, gr.Dropdown, gr.CheckboxGroup)


def page_texts(demo: gr.Blocks) -> list[tuple[gr.blocks.Block, dict]]:
    """Each component with a text to translate, and those texts by property (choices: a list of pairs)."""
    set_at_load = {b._id for fn in demo.fns.values() if any(t[1] == "load" for t in fn.targets)
                   and not getattr(fn.fn, "localizes", False) for b in fn.outputs}
    plan = []
    for block in demo.blocks.values():
        if not isinstance(block, (gr.components.Component, gr.Tab, gr.Accordion)) or block.get_block_name() == "api":
            continue
        texts = {p: getattr(block, p) for p in TEXT_PROPS
                 if isinstance(getattr(block, p, None), str) and getattr(block, p).strip()}
        if isinstance(block, VALUE_TEXT) and isinstance(block.value, str) and block.value.strip() and (
                block._id not in set_at_load or isinstance(block, gr.Button)):  # (a load event shows or hides it)
            texts["value"] = block.value
        if isinstance(block, CHOICES) and block._id not in set_at_load and block.choices:
            texts["choices"] = [tuple(c) for c in block.choices]
        if texts:
            plan.append((block, texts))
    return plan


def translated(texts: dict, code: str) -> dict:
    out = {}
    for prop, text in texts.items():
        if prop == "choices":
            out[prop] = [(language.translate(str(label), code), value) for label, value in text]
        else:
            out[prop] = language.translate(text, code)
    return out


def register(demo: gr.Blocks, book: dict) -> None:
    """The load event that sends a page its translated texts (``book``: what :func:`language.recording` kept
    while the page was built). Call last, inside the Blocks, once every other event is wired."""
    plan = page_texts(demo)
    if not plan:
        return

    def on_load():
        code = language.current()
        if code == language.SOURCE:
            return gr.skip()
        with language.recording(book):
            return [gr.update(**translated(texts, code)) for _block, texts in plan]

    on_load.localizes = True  # (not a load event that sets a value: page_texts looks past it)
    demo.load(on_load, None, [b for b, _t in plan], show_progress="hidden", api_visibility="private")
