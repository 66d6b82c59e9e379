"""The benchmark end to end on synthetic data, and reproducing a checkpoint from its command."""

from __future__ import annotations

import json
import math
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.helpers.images import make_data_dir
from vae_demo import bench, classical
from vae_demo.bench import app_speed as app_section
from vae_demo.bench import core
from vae_demo.bench import report as bench_report
from vae_demo.bench import restore as restore_section
from vae_demo.checkpoints import load_checkpoint
from vae_demo.corruptions import corrupt
from vae_demo.data import load_dataset
from vae_demo.metrics import psnr, ssim
from vae_demo.models import build_model
from vae_demo.train import main as train_main

REPO = Path(__file__).resolve().parent.parent
FAST_CLASSICAL = "gaussian_filter,median_filter,inpaint_ns,wiener,unsharp_mask,interpolation"
TINY = [  # (dataset, model, latent dim, corruption, more flags)
    ("mnist", "mlp_vae", 4, "none"),
    ("mnist", "conv_vae", 4, "none"),
    ("mnist", "pca", 8, "none"),
    ("mnist", "conv_ae", 8, "gaussian:0.3"),
    ("cifar10", "conv_ae", 8, "none"),  # (no CIFAR PCA: its 3072×3072 eigh alone takes ~20 s here)
    ("mnist", "unet", 8, "erasure:0.5", ["--channels", "4,8", "--mask-input"]),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    data = make_data_dir(root / "data", ("mnist", "cifar10"), n_train=64, n_test=32)
    ckpts = root / "ckpt"
    # one torch thread: PCA's eigh is ~50× slower on two MKL threads when the cores are shared
    with core.torch_threads(1):
        for ds, model, z, corruption, *more in TINY:
            assert train_main(["--dataset", ds, "--model", model, "--latent-dim", str(z), "--epochs", "1",
                               "--corruption", corruption, "--data-dir", str(data), "--no-download",
                               "--checkpoint-dir", str(ckpts), *(more[0] if more else [])]) == 0
    out = root / "out" / "BENCHMARKS.md"
    rc = bench.main(["--quick", "--datasets", "mnist", "cifar10", "--data-dir", str(data),
                     "--checkpoint-dir", str(ckpts), "--out", str(out), "--workers", "1",
                     "--classical", FAST_CLASSICAL, "--sweep-dims", "2,4", "--nll-images", "8",
                     "--grid-images", "2", "--test-limit", "16", "--tune-images", "16", "--record", "yes"])
    assert rc == 0
    report = json.loads(out.with_name("benchmarks.json").read_text())
    return {"data": data, "ckpts": ckpts, "out": out, "report": report, "md": out.read_text()}


def test_report_has_every_section_and_bar(world):
    md, report = world["md"], world["report"]
    assert set(report["sections"]) == set(bench.SECTIONS)
    for heading in ("## Restoration quality", "## VAE test-set loss terms", "## Codes: their size", "## Anomaly scores",
                    "## Reconstruction error vs latent",
                    "## Importance-weighted test NLL", "## Training speed bar", "## App speed",
                    "## Classical restorers: tuned parameters", "## Load test", "## β and the rate–distortion plane",
                    "## Conditional models"):
        assert heading in md
    assert "Quick mode" in md and report["quick"] is True
    assert report["machine"]["cores"] >= 1 and report["machine"]["torch"] == torch.__version__
    bars = report["sections"]["restore"]["bars"]
    assert [b["dataset"] for b in bars] == ["mnist", "mnist", "mnist", "fashion-mnist", "cifar10"]
    assert bars[3]["status"] == "NOT RUN"  # not asked for
    for b in bars:
        assert f"**{b['status']}** — {b['text']}" in md
    assert "JPEG" in md.split("### cifar10", 1)[1]


def test_each_checkpoint_records_its_own_numbers(world):
    sec = world["report"]["sections"]["restore"]["datasets"]["mnist"]
    rows = {r["method"]: r for r in sec["corruptions"]["erasure:0.5"]["rows"]}
    ck = load_checkpoint("mnist_conv_ae_z8_gaussian0.3", world["ckpts"])  # still verifies after the update
    rec = ck.meta["benchmark"]["restore"]
    assert rec["test_images"] == 16 and rec["command"].startswith("python -m vae_demo.bench --quick")
    got = rec["corruptions"]["erasure:0.5"]
    assert got["psnr"] == rows[ck.name]["psnr"] and got["ssim"] == rows[ck.name]["ssim"]
    assert got["keep_observed_psnr"] == rows[f"{ck.name} + keep observed"]["psnr"]
    masked = load_checkpoint("mnist_unet_z8_erasure0.5_mask", world["ckpts"])  # trained with the mask as input
    assert f"{masked.name} + keep observed" not in rows
    given = rows[f"{masked.name} given the mask"]
    assert given["label"] == "mask-aware" and rows[masked.name]["label"] == "blind"
    got = masked.meta["benchmark"]["restore"]["corruptions"]["erasure:0.5"]
    assert got["keep_observed_psnr"] == given["psnr"] and got["psnr"] == rows[masked.name]["psnr"]
    x = load_dataset("mnist", "test", world["data"], download=False).floats()[:16]
    y, m = corrupt(x, "erasure:0.5", sec["corruptions"]["erasure:0.5"]["seed"])
    with torch.no_grad():  # the row really is the model given the mask, observed pixels kept
        expect = y * (1 - m) + masked.model.reconstruct(y, m).clamp(0, 1) * m
    assert given["psnr"] == pytest.approx(psnr(expect, x), abs=0.01)
    vae = load_checkpoint("mnist_conv_vae_z4", world["ckpts"]).meta["benchmark"]
    assert {"restore", "losses", "nll"} <= set(vae) and vae["nll"]["nll"] > 0 and vae["losses"]["kl"] >= 0


def test_load_section_drives_the_real_app(world):
    """--quick: 3 users through gradio_client against `python app.py` on loopback, training running."""
    sec = world["report"]["sections"]["load"]
    assert sec["server_alive"] and sec["errors"] == 0, sec["error_examples"]
    assert sec["requests"] >= 30 and sec["memory_phase"]["requests"] >= 30
    lat = sec["latency"]
    assert 0 < lat["p50_ms"] <= lat["p95_ms"] <= lat["max_ms"]
    assert {"pick_random", "restore"} <= set(lat["by_endpoint"])  # every user picks, then restores or slides
    assert sec["peak_rss_mb"] > 100 and sec["memory_phase"]["growth_mb"] is not None
    assert "started through the Train tab" in sec["training"]
    assert f"errors: 0 of {sec['requests']} requests" in world["md"]
    plot = world["out"].parent / sec["memory_plot"]
    assert Image.open(plot).size == (720, 300) and sec["memory_plot"] in world["md"]
    assert sec["cpu_s"]["server"] > 0 and sec["cpu_s"]["load_generator"] > 0
    assert sec["solo"]["requests"] >= 1 and "one user alone" in world["md"]


def test_restoration_numbers_are_reproducible(world):
    sec = world["report"]["sections"]["restore"]
    test = load_dataset("mnist", "test", world["data"], download=False)
    x = test.floats(slice(0, 16))  # --test-limit 16: the first 16 test images
    res = sec["datasets"]["mnist"]
    assert res["test_images"] == 16 and res["test_split_size"] == 32
    assert list(res["corruptions"]) == list(core.corruptions_for("mnist"))  # the ten, then blur as libraries do it
    assert "subset: the first 16 of 32" in world["md"]
    pca = load_checkpoint("mnist_pca_z8", world["ckpts"]).model
    for i, spec in enumerate(core.corruptions_for("mnist")):
        c = res["corruptions"][spec]
        y, mask = corrupt(x, spec, core.TEST_SEED + i)  # the same seed gives the same images
        rows = {r["method"]: r for r in c["rows"]}
        assert rows["corrupted input"]["psnr"] == pytest.approx(psnr(y, x), abs=1e-3)
        assert rows["corrupted input"]["ssim"] == pytest.approx(ssim(y, x), abs=1e-3)
        assert rows["mnist_pca_z8"]["psnr"] == pytest.approx(psnr(pca.reconstruct(y), x), abs=1e-3)
        classical_rows = [r for r in c["rows"] if r["type"] == "classical"]
        learned_rows = [r for r in c["rows"] if r["type"] == "learned"]
        assert classical_rows and all(r["restorer"] in FAST_CLASSICAL.split(",") for r in classical_rows)
        assert c["best_classical"]["psnr"] == max(r["psnr"] for r in classical_rows)
        assert c["best_learned"]["psnr"] == max(r["psnr"] for r in learned_rows)
        assert c["margin_db"] == pytest.approx(c["best_learned"]["psnr"] - c["best_classical"]["psnr"], abs=1e-3)
        # learned models: 4 checkpoints, plus a mask-aware row each where a mask exists
        assert len(learned_rows) == (8 if mask is not None else 4)
        assert {r["label"] for r in learned_rows} == ({"blind", "mask-aware"} if mask is not None else {"blind"})
        for r in classical_rows:
            assert r["label"] == classical.RESTORERS[r["restorer"]].label
            y_r = classical.apply(r["restorer"], y, mask, spec, r["params"])
            assert r["psnr"] == pytest.approx(psnr(y_r, x), abs=1e-3)
    assert res["corruptions"]["gaussian:0.5"]["best_classical"]["psnr"] > \
        res["corruptions"]["gaussian:0.5"]["rows"][0]["psnr"] + 2  # a tuned filter helps
    assert res["corruptions"]["block:10"]["best_classical"]["label"] == "mask-aware"


def test_quality_bar_margins_match_the_tables(world):
    sec = world["report"]["sections"]["restore"]
    mnist_bar = sec["bars"][0]
    assert list(mnist_bar["per_corruption"]) == list(core.MNIST_BAR_SPECS)
    for spec, v in mnist_bar["per_corruption"].items():
        assert v["margin_db"] == sec["datasets"]["mnist"]["corruptions"][spec]["margin_db"]
        assert v["pass"] == (v["margin_db"] >= 4.0)
    assert mnist_bar["status"] == ("PASS" if all(v["pass"] for v in mnist_bar["per_corruption"].values()) else "FAIL")


def test_quality_bar_thresholds():
    def ds(margins):
        return {"corruptions": {s: {"margin_db": m, "rows": [{"type": "learned"}]} for s, m in margins.items()}}

    ok = {s: 4.3 for s in core.corruptions_for("mnist")}
    bars = restore_section.quality_bars({"mnist": ds(ok), "fashion-mnist": ds({s: 0.01 for s in core.CORRUPTIONS}),
                               "cifar10": ds({**ok, "lowres:2": 0.0})})
    # MNIST: ≥ 4 dB on the 8, ≥ 4 dB on blur as libraries do it, ≥ 4.3 dB on every row of those two; strictly beats; a tie
    assert [b["status"] for b in bars] == ["PASS", "PASS", "PASS", "PASS", "FAIL"]
    assert list(bars[1]["per_corruption"]) == list(core.BLUR_VARIANT_SPECS)
    bars = restore_section.quality_bars({"mnist": ds({**ok, "block:16": 3.99, "blur:2:scipy": 4.1})})
    assert bars[0]["status"] == "FAIL" and not bars[0]["per_corruption"]["block:16"]["pass"]
    assert bars[1]["status"] == "PASS" and bars[2]["status"] == "FAIL"  # 4.1 dB: the bar, not the headroom
    assert list(bars[2]["per_corruption"]) == list(core.MNIST_BAR_SPECS + core.BLUR_VARIANT_SPECS)  # not saltpepper, lowres
    assert not bars[2]["per_corruption"]["blur:2:scipy"]["pass"] and not bars[2]["per_corruption"]["block:16"]["pass"]
    assert bars[2]["per_corruption"]["gaussian:0.3"]["pass"]  # exactly 4.3 dB holds the headroom
    bars = restore_section.quality_bars({"mnist": ds({**ok, "erasure:0.9": 4.29})})
    assert bars[0]["status"] == "PASS" and bars[2]["status"] == "FAIL"  # 4.29 dB: the bar, not the headroom
    assert bars[3]["status"] == bars[4]["status"] == "NOT RUN"


def test_grids_and_tuned_params_are_written(world):
    out_dir = world["out"].parent
    for ds, h in {"mnist": 28, "cifar10": 32}.items():
        rel = world["report"]["sections"]["restore"]["datasets"][ds]["grid"]
        assert rel == f"docs/bench/{ds}.png" and f"]({rel})" in world["md"]
        img = Image.open(out_dir / rel)
        assert img.size == (104 + len(core.corruptions_for(ds)) * (2 * 2 * h + 10), 22 + 4 * 2 * h)
    params = json.loads((out_dir / "classical_params.json").read_text())  # --quick: beside --out
    assert set(params["datasets"]) == {"mnist", "cifar10"}
    for ds, entries in params["datasets"].items():
        assert set(entries) == set(core.corruptions_for(ds))
        for e in entries.values():
            assert e["restorers"][e["best"]]["psnr"] == max(v["psnr"] for v in e["restorers"].values())
    tuned = world["report"]["sections"]["tune"]["datasets"]["mnist"]
    for e in tuned["corruptions"].values():  # the report keeps every candidate
        for v in e["restorers"].values():
            assert v["psnr"] == max(row["psnr"] for row in v["table"]) and len(v["table"]) > 1
    assert tuned["heldout_images"] == 16  # the last 16 of the 64 training images, never test images


def test_vae_losses_section(world):
    rows = world["report"]["sections"]["losses"]["datasets"]["mnist"]["rows"]
    assert {r["name"] for r in rows} == {"mnist_mlp_vae_z4", "mnist_conv_vae_z4"}
    for r in rows:
        assert r["loss"] == pytest.approx(r["recon"] + r["kl"], abs=2e-3)  # β = 1
        assert r["kl"] >= 0
        assert r["loss"] == pytest.approx(r["recorded_test_loss"], rel=0.05)  # same test set, other z draws
    assert world["report"]["sections"]["losses"]["datasets"]["cifar10"]["rows"] == []


def test_latent_sweep_section(world):
    sec = world["report"]["sections"]["sweep"]
    assert [r["latent_dim"] for r in sec["rows"]] == [2, 4] and sec["epochs"] == 1
    pca = [r["pca"]["mse"] for r in sec["rows"]]
    assert pca[1] <= pca[0] + 1e-6  # nested subspaces: more components never reconstruct worse
    for r in sec["rows"]:
        for kind in ("pca", "conv_ae"):
            assert r[kind]["psnr"] == pytest.approx(10 * math.log10(1 / r[kind]["mse"]), abs=1e-2)


def test_nll_section(world):
    sec = world["report"]["sections"]["nll"]
    assert sec["k"] == 500 and sec["test_images"] == 8 and "threshold" in sec["binarization"]
    (row,) = sec["rows"]
    assert row["name"] == "mnist_conv_vae_z4"
    assert 0 < row["nll"] <= row["neg_elbo"] + 1e-6  # log-mean-exp ≥ mean of logs, sample by sample


def test_iw_log_likelihood_is_exact_when_the_posterior_is_the_prior():
    model = build_model("mlp_vae", (1, 28, 28), 3).eval()
    logits = torch.randn(1, 1, 28, 28)
    model.encode = lambda x: (torch.zeros(len(x), 3), torch.zeros(len(x), 3))  # q(z|x) = p(z)
    model.decode_logits = lambda z: logits.expand(len(z), -1, -1, -1)  # p(x|z) does not depend on z
    x = (torch.rand(5, 1, 28, 28) > 0.5).float()
    ll, elbo = model.iw_log_likelihood(x, k=50, batch=2, max_decodes=30)
    exact = -torch.nn.functional.binary_cross_entropy_with_logits(
        logits.expand_as(x), x, reduction="none").flatten(1).sum(1)
    assert torch.allclose(ll.float(), exact, atol=1e-3) and torch.allclose(elbo.float(), exact, atol=1e-3)


def test_speed_section(world):
    sec = world["report"]["sections"]["speed"]
    (run,) = sec["runs"]
    assert run["returncode"] == 0 and run["wall_s"] > 0 and run["train_images"] == 64
    assert math.isfinite(run["test_loss"]) and run["test_loss"] > 0
    assert "--epochs 10" in sec["command"] and "--model mlp_vae" in sec["command"]
    passed = run["test_loss"] <= core.SPEED_BAR_LOSS and run["wall_s"] <= core.SPEED_BAR_WALL_S
    assert sec["status"] == ("PASS" if passed else "FAIL")
    assert f"**{sec['status']}** — median of 1 run(s)" in world["md"]


def test_app_section_reads_bench_app_json_and_keeps_other_sections(world, tmp_path):
    assert world["report"]["sections"]["app"]["source"] is None
    assert "Not supplied yet" in world["md"]
    out = tmp_path / "BENCHMARKS.md"
    out.with_name("benchmarks.json").write_text(json.dumps(world["report"]))
    (tmp_path / core.APP_JSON).write_text(json.dumps({"machine": "test box", "figures": [
        {"key": "startup", "name": "app start", "unit": "ms", "median": 900, "runs": 3, "bar": 3000},
        {"key": "restore", "name": "one restoration", "unit": "ms", "median": 150, "bar": 100},
    ]}))
    assert bench.main(["--only", "app", "--out", str(out), "--data-dir", str(world["data"])]) == 0
    report = json.loads(out.with_name("benchmarks.json").read_text())
    assert [f["status"] for f in report["sections"]["app"]["figures"]] == ["PASS", "FAIL"]
    assert report["sections"]["restore"] == world["report"]["sections"]["restore"]  # kept, not re-run
    md = out.read_text()
    assert "| app start | 900 ms | 3 | <= 3000 ms | PASS |" in md and "## Restoration quality" in md
    # the JSON that `python -m vae_demo.bench.latency` writes is read as its two figures
    (tmp_path / "app.json").write_text(json.dumps({
        "what": "latent-slider decode", "machine": {"cpu": "x86_64", "cores": 2},
        "untrained_weights": False, "handler_median_ms": {"a": 1.5, "b": 2.25}, "handler_median_ms_max": 2.25,
        "browser": {"median_ms": 80.5, "min_ms": 60.0, "max_ms": 120.0, "repeats": 25}}))
    figs = app_section.load_app_figures(tmp_path / "app.json")["figures"]
    assert [(f["key"], f["median"]) for f in figs] == [("slider_handler", 2.25), ("slider_browser", 80.5)]
    assert "a: 1.5 ms" in figs[0]["notes"] and figs[1]["runs"] == 25
    (tmp_path / "app.json").write_text(json.dumps({"handler_median_ms": {"a": 1.5}, "handler_median_ms_max": 1.5,
                                                   "browser": {"skipped": "--no-browser"}}))
    figs = app_section.load_app_figures(tmp_path / "app.json")["figures"]
    assert figs[1]["median"] is None and "skipped" in figs[1]["notes"]
    with pytest.raises(ValueError, match="median"):
        (tmp_path / "bad.json").write_text(json.dumps({"figures": [{"name": "x", "unit": "ms"}]}))
        app_section.load_app_figures(tmp_path / "bad.json")


def test_recorded_command_reproduces_the_checkpoint(world, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert train_main(["--dataset", "mnist", "--model", "mlp_vae", "--latent-dim", "3", "--epochs", "2",
                       "--train-limit", "48", "--batch-size", "16", "--name", "repro", "--seed", "3",
                       "--data-dir", str(world["data"]), "--no-download", "--checkpoint-dir", str(first)]) == 0
    meta = json.loads((first / "repro.json").read_text())
    cmd = shlex.split(meta["command"])
    assert cmd[:3] == ["python", "-m", "vae_demo.train"] and "--data-dir" not in cmd  # no machine paths
    cmd[0] = sys.executable
    proc = subprocess.run(cmd + ["--data-dir", str(world["data"]), "--no-download", "--checkpoint-dir", str(second)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = json.loads((second / "repro.json").read_text())
    assert again["config"] == meta["config"] and again["epochs"] == meta["epochs"] == 2
    for key in ("train_loss", "train_kl", "test_loss", "test_recon", "test_kl", "test_psnr"):
        assert again["metrics"][key] == pytest.approx(meta["metrics"][key], rel=1e-4), key


def test_a_run_for_some_datasets_keeps_the_others(world):
    old = world["report"]["sections"]["restore"]
    new = {"datasets": {"cifar10": old["datasets"]["cifar10"]}, "bars": [],
           "_meta": {"generated": "later", "command": "python -m vae_demo.bench --only restore --datasets cifar10"}}
    merged = bench_report.merge_section("restore", old, new)
    assert list(merged["datasets"]) == ["mnist", "cifar10"]
    assert merged["datasets"]["mnist"] is old["datasets"]["mnist"]
    assert merged["bars"] == old["bars"]  # recomputed from the merged tables
    assert merged["_meta"]["kept_from_earlier_run"]["mnist"] == old["_meta"]
    assert "_mnist: kept from the run of" in restore_section.render_restore(merged)
    # a later run of mnist alone: the report still lists mnist first, as every run does
    again = bench_report.merge_section("restore", merged, {**new, "datasets": {"mnist": old["datasets"]["mnist"]}})
    assert list(again["datasets"]) == ["mnist", "cifar10"]
    text = restore_section.render_restore(again)
    assert text.index("### mnist") < text.index("### cifar10")
    assert bench_report.merge_section("speed", {"runs": []}, {"runs": [1]}) == {"runs": [1]}
    # ... and so does a fresh run, whatever order --datasets names them in
    ctx = bench.make_ctx(bench.build_parser().parse_args(["--datasets", "cifar10", "mnist", "cifar10"]))
    assert ctx.datasets == ["mnist", "cifar10"]


def test_side_by_side_runs_of_different_datasets_keep_each_others_results(world, tmp_path):
    """Two --only runs started from the same file: the one writing last merges into the file as it
    is then, so neither dataset is lost (and a dataset kept twice keeps its own run's metadata)."""
    old = world["report"]["sections"]["restore"]
    out = tmp_path / "BENCHMARKS.md"
    out.with_name("benchmarks.json").write_text(json.dumps(
        {"sections": {"restore": {**old, "datasets": {}}, "speed": world["report"]["sections"]["speed"]}}))
    ctx = bench.Ctx(args=None, out=out, datasets=["mnist", "cifar10"], data_dir=world["data"], ckpt_dir=None,
                    params_out=tmp_path / "p.json", device=torch.device("cpu"), quick=True, test_limit=8,
                    tune_images=8)

    def section(ds, when):
        return {"datasets": {ds: old["datasets"][ds]}, "bars": [],
                "_meta": {"generated": when, "command": f"python -m vae_demo.bench --only restore --datasets {ds}"}}

    run_a, run_b = {"restore": section("mnist", "A")}, {"restore": section("cifar10", "B")}
    bench_report.write_report(ctx, {"generated": "A"}, run_a, keep=True)  # run A finishes first ...
    written = bench_report.write_report(ctx, {"generated": "B"}, run_b, keep=True)  # ... B started before A wrote
    on_disk = json.loads(out.with_name("benchmarks.json").read_text())
    assert on_disk == json.loads(json.dumps(written, default=str))
    assert set(on_disk["sections"]["restore"]["datasets"]) == {"mnist", "cifar10"}
    assert on_disk["sections"]["restore"]["_meta"]["kept_from_earlier_run"]["mnist"]["generated"] == "A"
    assert "speed" in on_disk["sections"]  # sections neither run touched stay
    bench_report.write_report(ctx, {"generated": "C"}, {"restore": section("cifar10", "C")}, keep=True)
    kept = json.loads(out.with_name("benchmarks.json").read_text())["sections"]["restore"]["_meta"]
    assert kept["kept_from_earlier_run"]["mnist"]["generated"] == "A"  # not B's, which only carried it
    assert "_mnist: kept from the run of A" in out.read_text()
    bench_report.write_report(ctx, {"generated": "D"}, run_a, keep=False)  # a full run replaces the file
    assert set(json.loads(out.with_name("benchmarks.json").read_text())["sections"]) == {"restore"}


def test_reuse_classical_keeps_the_classical_rows_and_measures_the_checkpoints_again(world, tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    shutil.copy(world["out"].with_name("benchmarks.json"), out.with_name("benchmarks.json"))
    rc = bench.main(["--quick", "--only", "restore", "--reuse-classical", "--datasets", "mnist",
                     "--data-dir", str(world["data"]), "--checkpoint-dir", str(world["ckpts"]), "--out", str(out),
                     "--workers", "1", "--classical", FAST_CLASSICAL, "--grid-images", "2", "--test-limit", "16",
                     "--tune-images", "16", "--record", "no"])
    assert rc == 0
    new = json.loads(out.with_name("benchmarks.json").read_text())["sections"]["restore"]["datasets"]["mnist"]
    old = world["report"]["sections"]["restore"]["datasets"]["mnist"]
    assert "--quick" in new["classical_reused_from"]
    for spec, c in new["corruptions"].items():
        before = {r["method"]: r for r in old["corruptions"][spec]["rows"]}
        for r in c["rows"]:
            if r["type"] == "classical":
                assert r["reused"] and r["psnr"] == before[r["method"]]["psnr"]
            else:
                assert "reused" not in r and r["psnr"] == pytest.approx(before[r["method"]]["psnr"], abs=1e-3)
    assert "classical rows" in out.read_text()


def test_codes_section_sizes_each_clean_models_code(world):
    sec = world["report"]["sections"]["codes"]["datasets"]["mnist"]
    rows = {r["checkpoint"]: r for r in sec["rows"]}
    assert set(rows) == {"mnist_mlp_vae_z4", "mnist_conv_vae_z4", "mnist_pca_z8"}  # clean, with a latent code
    x = load_dataset("mnist", "test", world["data"], download=False).floats(slice(0, 16))
    pca = load_checkpoint("mnist_pca_z8", world["ckpts"]).model
    assert rows["mnist_pca_z8"]["psnr"] == pytest.approx(psnr(pca.reconstruct(x), x), abs=1e-3)
    assert rows["mnist_conv_vae_z4"]["float_dims"] == 4 and rows["mnist_conv_vae_z4"]["bits"] is None
    assert rows["mnist_pca_z8"]["family"] == "PCA" and not any(r["discrete"] for r in rows.values())
    assert "4 float dims" in world["md"]


def test_anomaly_section_scores_the_other_datasets_images(world, tmp_path):
    from vae_demo.bench import anomaly
    from vae_demo.services.inside import roc_auc

    data = make_data_dir(tmp_path / "data", ("mnist", "fashion-mnist"), n_train=8, n_test=24)
    args = bench.build_parser().parse_args(["--quick", "--datasets", "mnist", "--data-dir", str(data),
                                            "--checkpoint-dir", str(world["ckpts"]), "--out",
                                            str(tmp_path / "B.md"), "--record", "no", "--test-limit", "0"])
    sec = anomaly.run_anomaly(bench.make_ctx(args))
    rows = {r["checkpoint"]: r for r in sec["datasets"]["mnist"]["rows"]}
    assert set(rows) == {"mnist_mlp_vae_z4", "mnist_conv_vae_z4", "mnist_pca_z8"}  # clean, with a latent code
    assert all(r["other"] == "fashion-mnist" and r["test_images"] == r["other_images"] == 24 for r in rows.values())
    m = load_checkpoint("mnist_conv_vae_z4", world["ckpts"]).model
    own = load_dataset("mnist", "test", data, download=False).floats()
    other = load_dataset("fashion-mnist", "test", data, download=False).floats()
    with torch.no_grad():
        s = [m.recon_loss(m.decode_logits(m.embed(v)), v).double().numpy() for v in (own, other)]
    assert rows["mnist_conv_vae_z4"]["auc"] == pytest.approx(roc_auc(*s), abs=1e-4)
    assert "ROC AUC" in anomaly.render_anomaly(sec)


def test_the_app_section_reads_the_in_page_and_server_decode_figures_side_by_side(tmp_path):
    from vae_demo.bench.load import render_load

    (tmp_path / "app.json").write_text(json.dumps({
        "handler_median_ms": {"a": 1.0}, "handler_median_ms_max": 1.0,
        "browser": {"median_ms": 24.0, "p95_ms": 31.0, "min_ms": 16.0, "max_ms": 40.0, "repeats": 60},
        "browser_server_decode": {"median_ms": 210.0, "p95_ms": 340.0, "min_ms": 130.0, "max_ms": 380.0,
                                  "repeats": 60},
        "hover": {"frames_per_s": 57.0, "pointer_events": 300, "seconds": 5.2, "model": "m",
                  "event_to_pixels": {"median_ms": 16.5, "p95_ms": 18.0}}}))
    figs = {f["key"]: f for f in app_section.load_app_figures(tmp_path / "app.json")["figures"]}
    assert figs["slider_browser"]["status"] == "PASS" and "decoded in the page" in figs["slider_browser"]["name"]
    assert figs["slider_browser_server"]["median"] == 210.0 and "p95 340.0 ms" in figs["slider_browser_server"]["notes"]
    assert figs["hover_fps"]["status"] == "PASS" and figs["hover_fps"]["unit"] == "frames/s"
    sec = {"users": 2, "think_s": [0.1, 0.5], "datasets": ["mnist"], "training": "none", "duration_s": 5,
           "errors": 0, "requests": 10, "error_examples": [], "server_alive": True, "pass_errors": True,
           "pass_memory": True, "peak_rss_mb": 700,
           "latency": {"requests": 8, "p50_ms": 1, "p95_ms": 2, "max_ms": 3, "throughput_rps": 1, "by_endpoint": {}},
           "memory_phase": {"requests": 2, "p50_ms": 1, "p95_ms": 2, "max_ms": 3, "rss_start_mb": 700,
                            "rss_end_mb": 701, "growth_mb": 1, "bar_mb": 20},
           "browser_users": {"pages": 30, "pages_open": 30, "seconds": 30, "wall_s": 31.0, "moves": 9000,
                             "repaints": 8000, "pages_decoding_in_page": 30, "server_cpu_s": 2.0,
                             "server_cpu_idle_s": 1.8, "server_cpu_alone_s": 1.5, "server_cpu_share": 0.03,
                             "server_cores": {"alone": 0.05, "idle": 0.06, "dragging": 0.065}, "errors": 0,
                             "requests": {"idle": {"all": 180, "not_version_polls": 0},
                                          "dragging": {"all": 190, "not_version_polls": 0}},
                             "error_examples": [], "pass": True}}
    md = render_load(sec)
    assert "**Browser users** — 30 of 30" in md and "**PASS** — errors: 0" in md and "idle: 1.80 s over 30 s" in md
    assert "before any page: 1.50 s" in md and "costs the server 0.005 of a core (0.5 %)" in md
    assert "190 while dragging (0 of them not the 5-s poll" in md and "no move asked the server anything" in md
