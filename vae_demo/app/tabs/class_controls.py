"""The Latent sliders tab's class controls, for a conditional model (a cVAE): the class the decoder is told,
the grid "the same z, every class" and a path from the picked class to another, all from the current code."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from vae_demo.language import _
from vae_demo.services import classes, latent

EXPLAIN = r"""
**A conditional VAE is told the class.** Its decoder reads $g(z, y)$: the style $z$ and the class $y$ (as $K$
weights, one-hot for a real class). Its encoder is told $y$ too, and the KL term charges for every nat in $z$, so
$z$ keeps only what the class does not say: slant, stroke width, size. Keep $z$, change $y$, and the same hand
writes another digit (the grid: a row per code, a column per class; the rows after the first start from test
images, encoded with the class the model reads in them). Between two classes the weights blend,
$(1-t)\,y_A + t\,y_B$.
"""


@dataclass
class ClassUI:
    column: gr.Column  # shown for a conditional model only
    klass: gr.Radio  # the class the decoder is told (its value: the class number)
    every: gr.Image  # the same z, every class
    to_class: gr.Dropdown  # the other end of the class path
    path: gr.Image  # the same z, from the picked class to ``to_class``

    @property
    def outputs(self) -> list:
        return [self.column, self.klass, self.every, self.to_class, self.path]


def layout() -> ClassUI:
    with gr.Column(visible=False, elem_id="sliders-classes") as column:
        klass = gr.Radio(choices=[], label="Class the decoder is told", elem_id="sliders-class")
        # headings above the pictures, none over them
        gr.Markdown("**The same z, every class**: a column per class; the first row is the code on screen (the "
                    "sliders), each row after it a test image's code (the image at its left)",
                    elem_id="sliders-every-class-head")
        every = gr.Image(label="The same z, every class", show_label=False, type="numpy", interactive=False,
                         format="png", buttons=[], elem_id="sliders-every-class")
        to_class = gr.Dropdown(choices=[], label="From the picked class to", elem_id="sliders-to-class")
        gr.Markdown("**The same z, from one class to another**: the class weights blend, (1 − t)·y_A + t·y_B",
                    elem_id="sliders-class-path-head")
        path = gr.Image(label="The same z, from one class to another", show_label=False, type="numpy",
                        interactive=False, format="png", buttons=[], elem_id="sliders-class-path")
        gr.Markdown(EXPLAIN, latex_delimiters=[{"left": "$$", "right": "$$", "display": True},
                                               {"left": "$", "right": "$", "display": False}],
                    elem_classes=["explain"])
    return ClassUI(column, klass, every, to_class, path)


def show(ui: ClassUI, e, stats, values, images, to_class=None) -> dict:
    """The class controls for the code ``values`` (standard units) of ``e``; hidden for a model not told the
    class."""
    if not e.is_conditional:
        return {ui.column: gr.update(visible=False), ui.klass: gr.update(choices=[], value=None), ui.every: None,
                ui.to_class: gr.update(choices=[], value=None), ui.path: None}
    code = latent.to_latent(stats, np.asarray(values, dtype=np.float64))[0].numpy()
    names = [(_(n), i) for i, n in enumerate(classes.class_names(e))]
    y = classes.class_of(e, code)
    k = len(names)
    b = classes.check_class(e, to_class) if to_class not in (None, "") else (y + 1) % k
    return {ui.column: gr.update(visible=True), ui.klass: gr.update(choices=names, value=y),
            ui.every: classes.every_class_picture(e, code, images),
            ui.to_class: gr.update(choices=names, value=b), ui.path: classes.class_path_picture(e, code, y, b)}


def with_class(e, values, label) -> np.ndarray:
    """``values`` (standard units) with their class set to ``label``."""
    v = np.asarray(values, dtype=np.float64).copy()
    y = classes.check_class(e, label)
    v[e.latent_dim:] = 0.0
    v[e.latent_dim + y] = 1.0
    return v
