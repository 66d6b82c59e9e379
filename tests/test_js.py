"""The page's JavaScript: ESLint over vae_demo/web (and the tests' scripts), and Node's own test runner over
tests/js, its graph-interpreter test given reference outputs written here by the exporter's reference interpreter
(vae_demo/export.py run_graph) for committed checkpoints: a dense, a convolutional and a discrete (VQ) decoder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from vae_demo.export import export_decoder, run_graph
from vae_demo.services.registry import ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = ("mnist_mlp_vae_z2", "mnist_conv_vae_z16", "cifar10_conv_vae_z128", "mnist_vqvae")


def _require(tool: str) -> str:
    """node/npx, and the project's npm packages (`npm ci`); a skip with the reason, a failure in CI."""
    path = shutil.which(tool)
    problem = None if path else f"{tool} is not installed (Node 20)"
    if problem is None and not (ROOT / "node_modules" / "eslint").is_dir():
        problem = "the npm packages are missing: run `npm ci`"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"JavaScript checks cannot run in CI: {problem}")
        pytest.skip(problem)
    return path


def _fixtures(folder: Path) -> Path:
    registry = ModelRegistry(ROOT / "checkpoints", user_directory=folder / "none")
    cases, gen = [], torch.Generator().manual_seed(0)
    for name in GRAPHS:
        e = registry.get(name)
        g = export_decoder(e.model, name)
        (folder / f"{name}.json").write_text(json.dumps(g))
        if e.model.discrete:
            grid = torch.randint(0, e.model.codebook_size, (1, *e.model.code_grid), generator=gen)
            cases.append({"name": name, "graph": f"{name}.json", "grid": grid[0].tolist(),
                          "expected": run_graph(g, codes=grid).tolist()})
        else:
            z = torch.randn(3, e.latent_dim, generator=gen)
            cases.append({"name": name, "graph": f"{name}.json", "z": z.tolist(),
                          "expected": run_graph(g, z=z).tolist()})
    (folder / "cases.json").write_text(json.dumps(cases))
    return folder


def test_eslint_passes():
    npx = _require("npx")
    r = subprocess.run([npx, "eslint", "vae_demo/web", "tests/js", "tests/toys", "eslint.config.js"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_node_unit_tests_pass(tmp_path):
    node = _require("node")
    env = {**os.environ, "VAE_DEMO_JS_FIXTURES": str(_fixtures(tmp_path))}
    r = subprocess.run([node, "--test", "tests/js/"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    # the graph interpreter's 2, the view-in-a-link's 3 and the language's 2, none skipped
    assert "# pass 7" in r.stdout and "# skipped 0" in r.stdout and "# fail 0" in r.stdout, r.stdout[-2000:]
