"""The page in another language (vae_demo/language.py, vae_demo/locales/de.json): the string table walked for
strings left untranslated, the language chosen as the page chooses it, the built page and the services' texts in
German, and the page itself in Chromium (?lang=de, and a German browser)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import gradio as gr
import pytest

from tests.helpers import classroom
from vae_demo import language
from vae_demo.app import localize, strings

ROOT = Path(__file__).resolve().parents[1]


def test_the_string_table_has_every_string_of_the_page_translated():
    """Walks every string the page can show (each _() template, each text of the built page, the words shown from
    the ground floors' data, the page scripts' t() strings, the lesson): each has a German translation that keeps
    its {fields}, and the table holds nothing the page no longer uses."""
    every = strings.all_strings()
    assert len(every) > 300
    missing, bad, unused = strings.check("de", every)
    assert not missing, missing[:10]
    assert not bad, bad[:10]
    assert not unused, unused[:10]
    table = language.catalog("de")
    same = [k for k in every if table[k] == k and strings.has_words(k)]
    # the same in German: names (datasets, corruption specs, model kinds, "blind"), never a sentence
    assert same and all(len(k.split()) <= 3 for k in same), [k for k in same if len(k.split()) > 3]


def test_a_missing_translation_is_caught(monkeypatch):
    table = dict(language.catalog("de"))
    table.pop("Corrupt & restore")
    table["Step {n} of {total}"] = "Schritt {n}"
    monkeypatch.setattr(language, "catalog", lambda code: table if code == "de" else {})
    missing, bad, _unused = strings.check("de", strings.all_strings())
    assert missing == ["Corrupt & restore"] and bad == ["Step {n} of {total}"]


def test_every_template_in_the_code_is_found_by_the_walk():
    found = strings.source_strings()
    assert "Input: test image #{i}, **{name}**" in found and "mean KL per dim (nats)" in found  # _() and N_()
    assert "Step {n} of {total}" in strings.script_strings()


def test_no_function_hides_the_translation_function_behind_a_local_name():
    """``_, x = ...`` in a module that imports ``_`` makes every ``_("…")`` of that function call a value."""
    offenders = []
    for path in (ROOT / "vae_demo").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not any(isinstance(n, ast.ImportFrom) and n.module == "vae_demo.language"
                   and any(a.name == "_" for a in n.names) for n in tree.body):
            continue
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
                        offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders


@pytest.mark.parametrize("query,accept,want", [
    ("de", "en-US", "de"), ("DE", "", "de"), ("xx", "de-AT,en;q=0.5", "de"), (None, "fr-FR,de-DE;q=0.9,en;q=0.8", "de"),
    (None, "fr-FR,en-GB;q=0.9,de;q=0.8", "en"), (None, "fr", "en"), (None, "en;q=0.2,de;q=0.9", "de"), (None, "", "en"),
])
def test_the_language_is_chosen_as_the_page_chooses_it(query, accept, want):
    assert language.choose(query, accept) == want  # tests/js/language.test.js: the page's half, same cases


def test_a_request_gives_its_pages_language():
    assert language.of_request({"referer": "http://x/?tab=map&lang=de", "accept-language": "en"}) == "de"
    assert language.of_request({"referer": "http://x/", "accept-language": "de-DE,de;q=0.9"}) == "de"
    assert language.of_request({"accept-language": "en-US"}, {"lang": "de"}) == "de"
    assert language.of_request({}) == "en"


def test_texts_made_with_values_are_made_in_the_current_language():
    from vae_demo.corruptions import describe

    assert describe("gaussian:0.5") == "Gaussian noise σ=0.5"
    with language.use("de"):
        assert describe("gaussian:0.5") == "Gaußsches Rauschen σ=0.5"
        assert language._("test image #{i}", i=3) == "Testbild Nr. 3"
    with language.use("xx"):
        assert describe("blur:2") == "Gaussian blur σ=2"


def test_the_restore_row_and_its_summary_in_german(tiny_world):
    from vae_demo.services.restore import restore_row

    registry, images = tiny_world
    x = images.get("mnist").floats(slice(0, 1))
    with language.use("de"):
        panels, summary = restore_row(registry, "mnist", x, "gaussian", 0.3, 0, False, models=None)
    assert panels[0].title == "Original" and panels[1].title.startswith("gestört: Gaußsches Rauschen")
    assert "Seed 0" in summary and "restauriert in" in summary and "seed" not in summary


def test_the_built_page_is_sent_in_german_at_load():
    """Every text the built page shows goes out translated at load for a German page; nothing for English."""
    from vae_demo.app.build import build_app

    book = {}
    with language.recording(book):
        demo = build_app()
    plan = localize.page_texts(demo)
    fn = next(f for f in demo.fns.values() if getattr(f.fn, "localizes", False))
    with language.use("en"):
        assert fn.fn() == gr.skip()
    with language.use("de"):
        updates = fn.fn()
    assert len(updates) == len(plan) > 100
    table = language.catalog("de")
    untranslated = []
    for (_block, texts), update in zip(plan, updates):
        for prop, text in texts.items():
            shown = [label for label, _v in update[prop]] if prop == "choices" else [update[prop]]
            english = [str(label) for label, _v in text] if prop == "choices" else [text]
            for en, de in zip(english, shown):
                if strings.has_words(en) and de == en and table.get(en) != en:
                    untranslated.append(en)
    assert not untranslated, untranslated[:10]
    titles = {u.get("label") for (b, _t), u in zip(plan, updates) if isinstance(b, gr.Tab)}
    assert {"Stören & restaurieren", "Latente Regler", "Trainieren", "Die Form des Netzes"} <= titles


@pytest.fixture
def tiny_world(monkeypatch, tmp_path):
    """The committed checkpoints and the shipped sample (no data dir)."""
    from vae_demo.services.registry import ModelRegistry
    from vae_demo.services.testdata import TestImages

    monkeypatch.setenv("VAE_DEMO_DATA", str(tmp_path / "none"))
    return ModelRegistry(), TestImages()


# --- in the page -------------------------------------------------------------------------------------------

browser, server = classroom.browser, classroom.server  # module fixtures: one app, one Chromium


def _open(browser, url, locale="en-US"):
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.locator("#restore-row img").first.wait_for()
    page.wait_for_function("() => document.querySelector('#restore-summary').innerText.includes('ms')")
    page.wait_for_timeout(1000)
    return page


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("how", ["url", "browser"])
def test_the_page_in_german_from_the_link_or_the_browser(browser, server, how):
    url, locale = (server["url"] + "/?lang=de", "en-US") if how == "url" else (server["url"] + "/", "de-DE")
    page = _open(browser, url, locale)
    tabs = [t.strip() for t in page.locator("[role=tab]").all_inner_texts()]
    assert "Stören & restaurieren" in tabs and "Trainieren" in tabs and "Corrupt & restore" not in tabs
    assert "Was du siehst." in page.locator(".explain").first.inner_text() or \
        "Was du siehst." in page.inner_text("body")
    summary = page.locator("#restore-summary").inner_text()
    assert "restauriert in" in summary and "Seed" in summary, summary
    names = page.locator("#restore-row .vd-name").all_inner_texts()
    assert names[:2] == ["Original", "gestört"], names
    # the lesson in German, its view opened by its (English) link: the Inside tab's German view
    page.wait_for_function("() => window.vaeLesson")  # the lesson's script loads after every tab's and view's
    page.locator("#lesson-start").click()
    page.wait_for_function("() => document.body.dataset.lessonStep === '1'")
    assert page.locator(".vd-lesson-count").inner_text() == "Schritt 1 von 10"
    assert "PCA behält" in page.locator(".vd-lesson-text").inner_text()
    page.evaluate("() => window.vaeLesson.go(4)")
    page.wait_for_function("() => document.body.dataset.lessonStep === '4'", timeout=90_000)
    selected = page.locator("#inside-views [role=tab][aria-selected=true]").inner_text().strip()
    assert selected == "Ein Bild, Schritt für Schritt"
    if how == "url":
        page.screenshot(path=str(server["shots"] / "language_de.png"))
        # a link copied here keeps the language and names the view in English (it opens in any language)
        link = page.evaluate("() => window.vaeViewState.link()")
        assert "lang=de" in link and "inside-views=One+image" in link, link
    page.context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_an_english_browser_gets_english(browser, server):
    page = _open(browser, server["url"] + "/", "en-US")
    assert "Corrupt & restore" in [t.strip() for t in page.locator("[role=tab]").all_inner_texts()]
    assert "restored in" in page.locator("#restore-summary").inner_text()
    page.context.close()


def test_the_language_file_is_sorted_json():
    path = ROOT / "vae_demo" / "locales" / "de.json"
    table = json.loads(path.read_text(encoding="utf-8"))
    assert list(table) == sorted(table) and all(isinstance(v, str) for v in table.values())
