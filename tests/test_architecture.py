"""The top floors' shape (issue 27): a tab or an Inside view is one module plus one registration line, even from
outside the package; modules and functions under vae_demo/app stay small; no page JavaScript in Python strings;
the API page lists only named, documented endpoints, and the README's gradio_client example runs."""

from __future__ import annotations

import ast
import json
import re
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "vae_demo" / "app"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 60
# what an API user needs (issue 27): restore, encode/decode, interpolate, the test images, train/follow/stop
API_NEEDS = {"restore", "test_images", "interpolate", "encode", "decode", "train", "follow_training",
             "stop_training"}


def _modules():
    return sorted(APP.rglob("*.py"))


def test_modules_and_functions_under_app_are_small():
    too_long = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {n} lines")
    assert len(_modules()) >= 10
    assert not too_long, too_long


def test_no_page_javascript_in_python_strings():
    """Page scripts are .js files (vae_demo/web); an event's ``js=`` is at most a one-line call into them."""
    found = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "js" and isinstance(node.value, ast.Constant):
                js = node.value.value
                if isinstance(js, str) and ("\n" in js or len(js) > 120):
                    found.append(f"{path.relative_to(ROOT)}:{node.value.lineno}: js= of {len(js)} chars")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    "document." in node.value or "querySelector" in node.value or "=> {" in node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
    assert not found, found
    scripts = sorted((ROOT / "vae_demo" / "web").rglob("*.js"))
    assert len([s for s in scripts if "vendor" not in s.parts]) >= 5


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app with a toy tab and a toy Inside view registered from outside the package (one line each)."""
    from tests.toys import toy_tab, toy_view
    from vae_demo.app.build import build_app
    from vae_demo.app.page import launch_kwargs
    from vae_demo.app.tabs import TABS
    from vae_demo.app.tabs.inside import VIEWS
    from vae_demo.bench.latency import free_port
    from vae_demo.services.gpu import queue_settings
    from vae_demo.services.jobs import JobManager
    from vae_demo.services.registry import ModelRegistry
    from vae_demo.services.testdata import TestImages

    TABS.register(toy_tab.TAB)  # the one registration line of a new tab
    VIEWS.register(toy_view.VIEW)  # and of a new view
    try:
        registry = ModelRegistry(ROOT / "checkpoints", user_directory=tmp_path_factory.mktemp("user_ck"))
        images = TestImages(tmp_path_factory.mktemp("no_data"))  # the sample shipped with the app
        demo = build_app(registry, images, JobManager(registry, None))
        port = free_port()
        demo.queue(**queue_settings())
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                    **launch_kwargs(TABS))
    finally:
        TABS.unregister("toy")
        VIEWS.unregister("inside-toy")
    yield {"url": f"http://127.0.0.1:{port}", "registry": registry, "images": images}
    demo.close()


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def test_api_page_lists_only_named_documented_endpoints(served):
    info = _get_json(served["url"] + "/gradio_api/info")  # what the page's "Use via API" shows
    named = info["named_endpoints"]
    assert not info.get("unnamed_endpoints")
    assert API_NEEDS <= {n.lstrip("/") for n in named}, sorted(named)
    for name, endpoint in named.items():
        assert re.fullmatch(r"/[a-z][a-z0-9_]*", name) and not re.search(r"_\d+$|lambda", name), name
        description = (endpoint.get("description") or "").strip()
        assert description and "\n" not in description and len(description) <= 160, (name, description)
    assert "/toy_encode" in named  # the toy tab's own call, found like any other
    assert len(named) <= 30, sorted(named)


def test_readme_gradio_client_example_runs(served):
    """The README's example, run against this server: every call it makes answers."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "gradio_client" in b]
    assert blocks, "the README shows no gradio_client example"
    code = blocks[0].replace("http://127.0.0.1:7860/", served["url"] + "/")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102  (the project's own README)
    assert scope.get("restored") is not None


def test_toy_tab_and_view_appear_in_the_page(served):
    from tests.helpers.browser import chromium

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(60_000)
        page.goto(served["url"])
        page.get_by_role("tab", name="Toy", exact=True).click()
        page.locator("#toy-script").get_by_text("script says hello").wait_for()  # its script ran, with its config
        border = page.locator("#toy-title").evaluate("el => getComputedStyle(el).borderLeftColor")
        assert border == "rgb(255, 0, 255)"  # its CSS is on the page
        page.locator("#toy-encode").click()
        page.locator("#toy-out").get_by_text("a code of").wait_for()
        text = page.locator("#toy-out").inner_text()
        assert re.search(r": a code of \d+ numbers for 784 pixels", text), text
        page.get_by_role("tab", name="Inside a VAE").click()
        page.get_by_role("tab", name="Toy view").click()
        page.locator("#toy-view-out").get_by_text("parameters").wait_for()
        entry = served["registry"].entries("mnist")[0]
        n = sum(p.numel() for p in entry.model.parameters())
        assert page.locator("#toy-view-out").inner_text().strip() == f"{entry.name} has {n} parameters"
        page.close()
