"""What the page gets besides the components: its CSS, its start script and the theme (``LAUNCH_KWARGS``).

The CSS is ``vae_demo/web/app.css`` and each registered tab's own file; the start script is
``vae_demo/web/page.js``, given the URLs of the in-page decoder, its runtime and each tab's script, all
served from the app's own files (no outside host).
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from vae_demo import language
from vae_demo.app.lesson import lesson_config
from vae_demo.app.registry import Registry, view_state
from vae_demo.services import versions, webdecode

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
# the graph interpreter, the in-page decoder over it (window.vaeDecoder), the view in a link (window.vaeViewState)
CORE_SCRIPTS = ("language.js", "graph.js", "decoder.js", "viewstate.js")
PAGE_SCRIPTS = ("lesson.js",)  # after the tabs' scripts: the lesson (its steps open views through viewstate.js)
# stylesheets the page loads itself (rules that start at <body>, which Gradio's scoped css cannot hold)
PAGE_STYLES = ("present.css", "lesson.css")


def page_css(tabs: Registry) -> str:
    files = [WEB_DIR / "app.css", *(t.css for t in tabs.walk() if t.css is not None)]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def page_config(tabs: Registry) -> dict:
    """What page.js is given (window.vaeDemoPage)."""
    return {
        "runtime": webdecode.runtime_base(),
        "core": [webdecode.file_url(WEB_DIR / f) for f in CORE_SCRIPTS],
        "scripts": [*(webdecode.file_url(t.script) for t in tabs.walk() if t.script is not None),
                    *(webdecode.file_url(WEB_DIR / f) for f in PAGE_SCRIPTS)],
        "lesson": lesson_config(),
        "language": page_language(tabs),
        "styles": [webdecode.file_url(WEB_DIR / f) for f in PAGE_STYLES],
        "pollMs": int(versions.PAGE_POLL_S * 1000),
        "tabs": {t.id: t.config for t in tabs.walk() if t.config},
        "views": [{"id": t.id, "title": t.title, "state": view_state(t)} for t in tabs],  # what a link can open
    }


def page_language(tabs: Registry) -> dict:
    """The page scripts' strings (web/language.js): each language's translations of what the scripts show
    (their ``t('…')`` strings, the lesson, the tabs' and views' titles, which links name)."""
    from vae_demo.app.strings import lesson_strings, script_strings

    wanted = script_strings() | lesson_strings() | {t.title for t in tabs.walk()}
    strings = {code: {k: v for k, v in language.catalog(code).items() if k in wanted and v}
               for code in language.LANGUAGES if code != language.SOURCE}
    return {"languages": list(language.LANGUAGES), "strings": strings}


def page_js(tabs: Registry) -> str:
    """Gradio's ``js``: a function run once the page has loaded: page.js called with its config."""
    start = (WEB_DIR / "page.js").read_text(encoding="utf-8")
    start = "\n".join(line for line in start.splitlines() if not line.startswith("//")).strip()
    return f"() => ({start})({json.dumps(page_config(tabs))})"


def script_paths(tabs: Registry) -> list[Path]:
    """Folders Gradio must serve for the page: the web folder and each tab's script's folder."""
    return [WEB_DIR, *{t.script.resolve().parent for t in tabs.walk() if t.script is not None}]


# Gradio's default theme asks for Source Sans Pro at weights 400 and 600, and the 600 file it ships is a
# subset of a few glyphs: bold text (the title, headings, captions) was drawn in two fonts, the fallback
# for most letters. The theme here uses the complete regular and bold files shipped with Gradio (served
# by the app itself, no outside host), so the page looks the same offline and online, on any machine.
THEME = gr.themes.Default(
    font=(gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"),
    font_mono=(gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "Consolas", "monospace"))


def launch_kwargs(tabs: Registry) -> dict:
    return {"css": page_css(tabs), "js": page_js(tabs), "theme": THEME, "max_file_size": "20mb",
            "footer_links": ["api", "gradio"]}
