"""The app's Blocks: the header, the dataset picker every tab shares, each registered tab, and the poll
that tells an open page about new checkpoints or test images."""

from __future__ import annotations

import os

import gradio as gr

from vae_demo import language
from vae_demo.app import api, localize
from vae_demo.app.common import CheckedBlocks, Context, default_dataset, safe
from vae_demo.app.page import script_paths
from vae_demo.app.registry import Registry
from vae_demo.data import DATASETS
from vae_demo.language import _
from vae_demo.services import versions, webdecode
from vae_demo.services.jobs import JobManager
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.testdata import TestImages, data_banner

TITLE = "Autoencoders & VAEs, hands on"
SUBTITLE = ("Corrupt real images and watch autoencoders restore them, drive the latent space, compare "
            "interpolations, and train your own model.")


def build_app(registry: ModelRegistry | None = None, images: TestImages | None = None,
              jobs: JobManager | None = None, tabs: Registry | None = None) -> gr.Blocks:
    """Build the Blocks (not launched). Services default to the environment's folders; ``tabs`` to the
    app's own (:data:`vae_demo.app.tabs.TABS`)."""
    if tabs is None:
        from vae_demo.app.tabs import TABS as tabs
    registry = registry if registry is not None else ModelRegistry()
    images = images if images is not None else TestImages()
    jobs = jobs if jobs is not None else JobManager(registry, images.data_dir)
    ctx = Context(registry, images, jobs, start_dataset=default_dataset(registry, images))
    gr.set_static_paths([*webdecode.static_paths(), *script_paths(tabs)])  # the page's scripts, the decoders

    # no telemetry unless asked for: the app must work (and start quickly) without network
    analytics = None if os.environ.get("GRADIO_ANALYTICS_ENABLED") else False
    # delete_cache: every 10 min, remove generated/uploaded files older than 30 min (a public Space
    # would otherwise fill its disk with one PNG per slider move). CheckedBlocks: every raw input value
    # is checked before Gradio converts it, so a bad API call gets a one-line message, never a bare error
    book = {}  # the texts built from parts (_() with values), to be built again in a visitor's language
    with language.recording(book), \
            CheckedBlocks(title=TITLE, analytics_enabled=analytics, delete_cache=(600, 1800)) as demo:
        _header(ctx)
        with gr.Tabs():
            for tab in tabs:
                with gr.Tab(tab.title, id=tab.id):
                    tab.build(ctx)
        _versions_poll(ctx)
        api.register(ctx)  # the API-only calls
        for fn, inputs, outputs, *options in ctx.load_events:
            demo.load(fn, inputs, outputs, **{"show_progress": "hidden", **(options[0] if options else {})})
        localize.register(demo, book)  # last: it leaves alone what the load events above set
    # every tab bar wraps onto a second line where it is too narrow (a phone) instead of hiding tabs
    # behind Gradio's "•••" menu, the sub-tabs of a view included
    for block in demo.blocks.values():
        if isinstance(block, gr.Tabs):
            block.overflow_behavior = "wrap"
    hide_internal_events(demo)
    return demo


def hide_internal_events(demo: gr.Blocks) -> list[str]:
    """The API page lists the calls an API user needs, nothing else: an event is public when its tab gave it
    a one-line ``api_description`` (and a stable ``api_name``); every other one (a relist, a heading, a page
    button) is private: the page still runs it, no API client can. Returns the public endpoints' names."""
    public = []
    for fn in demo.fns.values():
        if fn.api_visibility == "public" and fn.api_description:
            public.append(fn.api_name)
        else:
            fn.api_visibility = "private"
    return public


def _header(ctx: Context) -> None:
    """The title, the offline banner, the dataset picker and the checkpoints line with its rescan."""
    registry, images = ctx.registry, ctx.images
    # compact header: on a 1280×720 projector the restore row must be on screen without scrolling
    with gr.Row(elem_id="title-row"):
        gr.Markdown(f"## {TITLE}\n{SUBTITLE}", elem_id="title")
        gr.Button("▶ Lesson", size="sm", scale=0, min_width=100, elem_id="lesson-start")  # web/lesson.js
    banner = data_banner(images)
    ctx.banner = gr.Markdown(banner, visible=bool(banner), elem_id="offline-banner")
    with gr.Row(equal_height=True, elem_id="top-row"):
        ctx.dataset = gr.Radio(list(DATASETS), value=ctx.start_dataset, label="Dataset (all tabs)",
                               show_label=False, elem_id="dataset", scale=2, container=False)
        models_note = gr.Markdown(models_note_text(registry), elem_id="models-note")
        rescan = gr.Button("↻ Rescan", size="sm", scale=0, min_width=96, elem_id="rescan")
        link = gr.Button("Copy link", size="sm", scale=0, min_width=96, elem_id="copy-link")
        reset = gr.Button("↺ Reset tab", size="sm", scale=0, min_width=104, elem_id="reset-tab")
        present = gr.Checkbox(False, label="Presentation mode", scale=0, min_width=180, container=False,
                              elem_id="present")
    gr.HTML("", elem_id="lesson", padding=False)  # the lesson's step, drawn by web/lesson.js when it is open
    ctx.models_version = gr.State(registry.version)
    ctx.data_version = gr.State(images.version)
    ctx.current = gr.State(None)

    @safe
    def on_rescan():
        for w in registry.refresh():
            gr.Warning(w)
        return registry.version, models_note_text(registry)

    rescan.click(on_rescan, None, [ctx.models_version, models_note])
    # the page alone, no server call: presentation mode; a link to this view (web/viewstate.js); this tab afresh
    present.change(None, present, None, js="(on) => window.vaeDemo.present(on)")
    link.click(None, None, None, js="() => window.vaeViewState.copyLink()")
    reset.click(None, None, None, js="() => window.vaeViewState.reset()")
    ctx.models_version.change(lambda: models_note_text(registry), None, models_note, show_progress="hidden")
    # texts made from the visitor's state, made again at load in the visitor's language
    ctx.load_events.append((lambda: models_note_text(registry), None, models_note))
    ctx.load_events.append((lambda: data_banner(images), None, ctx.banner))


def _versions_poll(ctx: Context) -> None:
    """Every open page learns about checkpoints another page (or session) trained, and about test splits a
    background download brought in: it polls a static file of the versions (services/versions.py) and
    clicks the hidden button only when it changed; pickers and galleries re-list only then."""
    registry, images = ctx.registry, ctx.images

    def now():
        return [registry.version, images.version]

    published = versions.VersionsFile(now, webdecode.cache_dir())
    gr.HTML(f'<span id="versions-url" data-url="{webdecode.file_url(published.path)}"></span>', padding=False,
            elem_id="versions")
    versions_check = gr.Button("check versions", elem_id="versions-check")
    versions_check.click(now, None, [ctx.models_version, ctx.data_version], show_progress="hidden",
                         api_visibility="private")

    def on_data_changed():
        text = data_banner(images)
        return gr.update(value=text, visible=bool(text))

    ctx.data_version.change(on_data_changed, None, ctx.banner, show_progress="hidden")


def models_note_text(registry: ModelRegistry) -> str:
    counts = {d: len(registry.names(d)) for d in DATASETS}
    text = _("Checkpoints: {counts}", counts=", ".join(f"{d} {n}" for d, n in counts.items()))
    if registry.warnings:
        text += _(" · {n} skipped (see the log)", n=len(registry.warnings))
    if not any(counts.values()):
        text += _(" — none in `{folder}` yet: train one in the Train tab.", folder=registry.directory)
    return text
