"""The app's support for any model whose interface declares a discrete code, tested with a toy model
(tests/helpers/toy_codes.py): the code-grid editor's handlers, the codebook map, stored test codes, and the
sliders/map tabs switching to them."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.images import write_npz
from tests.helpers.tabs import tab_handler
from tests.helpers.toy_codes import register_toy, save_toy, unregister_toy
from vae_demo.app.common import Context
from vae_demo.app.figures import latent as latent_figures
from vae_demo.models.base import code_usage
from vae_demo.services import codes, latent
from vae_demo.services.errors import UserInputError
from vae_demo.services.jobs import JobManager
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.testdata import TestImages


@pytest.fixture
def toy(tmp_path):
    register_toy()
    data, ck = tmp_path / "data", tmp_path / "ck"
    write_npz(data, "mnist.npz", (28, 28), n_train=32, n_test=40, seed=3)
    images = TestImages(data)
    x = images.get("mnist").floats()
    save_toy(ck, x=x)
    registry = ModelRegistry(ck)
    yield registry.get("t_toy_codes", "mnist", latent_code=True), images, Context(registry, images, JobManager(registry))
    unregister_toy()


class Sel:  # what gradio passes a .select handler
    def __init__(self, x, y):
        self.index = [x, y]


def test_code_usage_counts_perplexity_and_share():
    u = code_usage(torch.tensor([[0, 0], [1, 1]]), 4)
    assert u.counts.tolist() == [2, 2, 0, 0] and u.perplexity == pytest.approx(2.0) and u.used == 0.5
    assert code_usage(torch.zeros(10, dtype=torch.long), 8).perplexity == pytest.approx(1.0)


def test_the_code_handler_changes_exactly_one_cell_and_the_image(toy):
    from vae_demo.app.tabs import sliders

    e, images, ctx = toy
    select_cell, set_code = tab_handler(ctx, sliders, "select_cell"), tab_handler(ctx, sliders, "set_code")
    x = images.get("mnist").floats(slice(0, 1))
    grid = codes.image_codes(e, x)
    assert grid.shape == (4, 4)
    cell, view, _, _ = select_cell("mnist", "t_toy_codes", grid.tolist(), Sel(300, 100))
    assert cell == [1, 3]  # 336-px picture, 84 px per cell: x=300 → col 3, y=100 → row 1
    assert view.shape == (codes.VIEW_SIZE, codes.VIEW_SIZE, 3)
    new_code = (int(grid[1, 3]) + 3) % e.model.codebook_size
    g2, img, view2, _ = set_code("mnist", "t_toy_codes", grid.tolist(), cell, new_code)
    g2 = np.asarray(g2)
    changed = np.argwhere(g2 != grid)
    assert changed.tolist() == [[1, 3]] and g2[1, 3] == new_code
    before = codes.decode_grid(e, grid)
    after = codes.decode_grid(e, g2)
    diff = (after - before).abs()[0]
    assert diff[7:14, 21:28].min() > 0.1 and diff.sum() == pytest.approx(diff[7:14, 21:28].sum())  # that cell only
    assert img.shape == (224, 224) and not np.array_equal(view, view2)


def test_bad_grids_and_codes_get_clear_messages(toy):
    e, _, _ = toy
    grid = np.zeros((4, 4), int)
    with pytest.raises(UserInputError, match="must be 4×4"):
        codes.check_grid(e, [[0, 1]])
    with pytest.raises(UserInputError, match="0..7"):
        codes.set_cell(e, grid, 0, 0, 8)
    with pytest.raises(UserInputError, match="outside the 4×4 grid"):
        codes.set_cell(e, grid, 4, 0, 1)
    with pytest.raises(UserInputError, match="0..7"):
        codes.check_grid(e, np.full((4, 4), 2.5))
    assert codes.cell_at(e, -50, 10_000) == (3, 0)  # clicks are clamped into the grid


def test_codebook_map_counts_the_stored_codes(toy):
    e, images, _ = toy
    use = codes.codebook_use(e, images)
    assert use.source == "stored with the checkpoint" and use.images == 40
    assert use.counts.sum() == 40 * 16 and 0 < use.used <= 1 and 1 <= use.perplexity <= 8
    fig = latent_figures.codebook_figure(e, use, selected=2)
    assert len(fig.data[0].x) == 8  # one dot per code
    sizes = np.asarray(fig.data[0].marker.size)
    assert sizes[np.argmax(use.counts)] == sizes.max()  # sized by use
    bars = fig.data[-1]
    assert len(bars.y) == 8 and list(bars.y) == sorted(bars.y, reverse=True)  # every code's share, by use
    assert sum(bars.y) == pytest.approx(100.0)
    assert codes.codes_by_use(use)[0] == int(np.argmax(use.counts))


def test_the_continuous_views_refuse_a_discrete_code_with_a_message(toy):
    e, images, _ = toy
    with pytest.raises(UserInputError, match="discrete code"):
        latent.latent_stats(e, images)
    with pytest.raises(UserInputError, match="discrete code"):
        latent.latent_map(e, images)
    rows = latent.interpolate(e, images.get("mnist").floats(slice(0, 1)), images.get("mnist").floats(slice(1, 2)), 5)
    assert rows["linear"].shape == (5, 1, 28, 28)  # through the pre-quantised vectors, snapped per step
    levels = set(np.round(rows["linear"].numpy().ravel(), 4).tolist())
    assert levels <= set(np.round(e.model.levels.detach().numpy().ravel(), 4).tolist())


def test_the_sliders_tab_shows_the_code_editor_for_a_discrete_model(toy):
    from vae_demo.app.tabs import sliders

    e, images, ctx = toy
    out = tab_handler(ctx, sliders, "on_model")("mnist", "t_toy_codes", None)
    n = latent.MAX_SLIDERS
    assert all(o.get("visible") is False for o in out[:n])  # no sliders
    assert out[n + 2]["visible"] is False and out[n + 3]["visible"] is True  # slider row hidden, editor shown
    grid = np.asarray(out[n + 4])
    assert grid.shape == (4, 4) and np.array_equal(grid, codes.image_codes(e, images.get("mnist").floats(slice(0, 1))))
    assert "discrete code, 4×4 cells" in out[-3] and out[-2]["value"] == "Random codes (uniform)"
    assert out[-1]["value"] == "Reset to the image's codes"


def test_the_latent_map_tab_shows_the_codebook_for_a_discrete_model(toy):
    from vae_demo.app.tabs import latent_map

    e, images, ctx = toy
    fn = tab_handler(ctx, latent_map, "on_model")
    fig, text, x, y, example, manifold, note, method, web = fn("mnist", "t_toy_codes", "auto")
    assert web is None  # nothing for the page to decode: the codebook's images come from the server
    assert len(fig.data[0].x) == e.model.codebook_size  # one dot per code
    assert "perplexity" in text and "of 8" in text
    assert x["visible"] is False and y["visible"] is False and method["visible"] is False  # no x/y to move
    assert example["value"].shape == (codes.VIEW_SIZE, codes.VIEW_SIZE, 3)  # a test image as its code grid


def test_the_cifar_editor_cells_line_up_with_the_image(tmp_path):
    """A 32-pixel image upscales to 320 (not 336): the cells' borders and clicks follow its 40-px cells."""
    from vae_demo.services.registry import ModelRegistry

    root = Path(__file__).resolve().parent.parent
    e = ModelRegistry(root / "checkpoints", user_directory=tmp_path).get("cifar10_vqvae")
    grid = codes.random_grid(e, 0)
    view = codes.grid_view(e, codes.decode_grid(e, grid), grid, selected=(4, 4))
    assert codes.view_size(e) == 320 and view.shape == (320, 320, 3)
    assert codes.cell_at(e, 160, 160) == (4, 4) and codes.cell_at(e, 159, 319) == (7, 3)
    orange = np.argwhere((view[..., 0] == 255) & (view[..., 1] == 140) & (view[..., 2] == 0))
    assert orange.min(0).tolist() == [160, 160] and orange.max(0).tolist() == [200, 200]  # cell (4, 4)
