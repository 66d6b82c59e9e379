import json
import os

import pytest
import torch

from vae_demo import checkpoints as ck
from vae_demo.checkpoints import CheckpointError, load_checkpoint, save_checkpoint, scan_checkpoints
from vae_demo.models import build_model


def make(tmp_path, name="m1", kind="conv_vae", latent=4, shape=(1, 28, 28)):
    torch.manual_seed(0)
    m = build_model(kind, shape, latent)
    save_checkpoint(name, m, {"dataset": "mnist", "metrics": {"test_loss": 1.5}}, tmp_path,
                    extras={"test_latents": torch.randn(10, latent).half()})
    return m


def test_round_trip_is_bit_exact(tmp_path):
    m = make(tmp_path, kind="conv_vae", shape=(3, 32, 32))
    c = load_checkpoint("m1", tmp_path)
    for k, v in m.state_dict().items():
        assert torch.equal(v, c.model.state_dict()[k]), k
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(m.eval().reconstruct(x), c.model.reconstruct(x))
    assert c.meta["model"] == "conv_vae" and c.meta["latent_dim"] == 4 and c.dataset == "mnist"
    assert c.meta["metrics"]["test_loss"] == 1.5
    assert c.extras["test_latents"].shape == (10, 4)
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_fp16_storage_halves_the_file_and_loads_back_as_fp32(tmp_path):
    torch.manual_seed(0)
    m = build_model("mlp_ae", (1, 28, 28), 2).eval()
    save_checkpoint("full", m, {"dataset": "mnist"}, tmp_path)
    save_checkpoint("half", m, {"dataset": "mnist"}, tmp_path, dtype=torch.float16,
                    extras={"test_latents": torch.randn(10, 2)})
    full, half = (tmp_path / "full.safetensors").stat().st_size, (tmp_path / "half.safetensors").stat().st_size
    assert 0.45 < half / full < 0.55
    c = load_checkpoint("half", tmp_path)
    assert all(p.dtype == torch.float32 for p in c.model.parameters())
    assert c.extras["test_latents"].dtype == torch.float32
    for k, v in m.state_dict().items():  # each weight rounded to fp16: relative error under 2^-11
        assert torch.allclose(c.model.state_dict()[k], v, rtol=2**-11, atol=1e-7), k
    x = torch.rand(4, 1, 28, 28)
    assert (c.model.reconstruct(x) - m.reconstruct(x)).abs().max() < 1e-3


def test_pca_round_trip(tmp_path):
    m = build_model("pca", (1, 28, 28), 8, max_components=16)
    m.fit(torch.rand(50, 1, 28, 28))
    save_checkpoint("p", m, {"dataset": "mnist"}, tmp_path)
    c = load_checkpoint("p", tmp_path)
    assert torch.equal(c.model.components, m.components) and c.model.max_components == 16


def test_truncated_weights_refused(tmp_path):
    make(tmp_path)
    w = tmp_path / "m1.safetensors"
    w.write_bytes(w.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint("m1", tmp_path)


def test_tampered_weights_refused(tmp_path):
    make(tmp_path)
    w = tmp_path / "m1.safetensors"
    blob = bytearray(w.read_bytes())
    blob[-5] ^= 0xFF
    w.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="changed by hand"):
        load_checkpoint("m1", tmp_path)


def test_hand_edited_metadata_refused(tmp_path):
    make(tmp_path)
    j = tmp_path / "m1.json"
    meta = json.loads(j.read_text())
    meta["latent_dim"] = 7  # the weights are for 4
    j.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint("m1", tmp_path)
    j.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint("m1", tmp_path)


def test_pickle_is_never_loaded(tmp_path):
    make(tmp_path)
    w = tmp_path / "m1.safetensors"
    torch.save(build_model("conv_vae", (1, 28, 28), 4).state_dict(), w)  # a pickle in disguise
    meta = json.loads((tmp_path / "m1.json").read_text())
    import hashlib
    meta["weights_sha256"] = hashlib.sha256(w.read_bytes()).hexdigest()  # even with a matching hash
    (tmp_path / "m1.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint("m1", tmp_path)


@pytest.mark.parametrize("name", ["../m1", "/etc/passwd", "a/b", "..", "", ".hidden", "m1\x00", "x" * 81,
                                  "..\\m1", "~root"])
def test_path_traversal_names_refused(tmp_path, name):
    make(tmp_path)
    with pytest.raises(CheckpointError, match="invalid checkpoint name"):
        load_checkpoint(name, tmp_path)
    with pytest.raises(CheckpointError):
        save_checkpoint(name, build_model("mlp_ae", (1, 28, 28), 2), {"dataset": "mnist"}, tmp_path)


def test_scan_skips_broken_files_with_a_warning(tmp_path):
    make(tmp_path, "good")
    make(tmp_path, "orphan")
    (tmp_path / "orphan.safetensors").unlink()
    (tmp_path / "junk.json").write_text("[]")
    good, warnings = scan_checkpoints(tmp_path)
    assert [m["name"] for m in good] == ["good"]
    assert any("junk.json" in w for w in warnings) and any("orphan" in w for w in warnings)
    assert ck.list_checkpoints(tmp_path, dataset="cifar10") == []


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    make(tmp_path)
    before = (tmp_path / "m1.safetensors").read_bytes()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint("m1", build_model("conv_vae", (1, 28, 28), 4), {"dataset": "mnist"}, tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "m1.safetensors").read_bytes() == before
    assert load_checkpoint("m1", tmp_path).meta["latent_dim"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m1.json", "m1.safetensors"]


def test_disk_full_between_weights_and_json_keeps_the_pair(tmp_path, monkeypatch):
    """The new weights are written but the disk fills up before the JSON (which holds their hash):
    the old pair must still load, so neither file may have been replaced."""
    make(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint("m1", build_model("conv_vae", (1, 28, 28), 6), {"dataset": "mnist"}, tmp_path)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert load_checkpoint("m1", tmp_path).meta["latent_dim"] == 4


def test_unknown_name_and_env_dir(tmp_path, monkeypatch):
    make(tmp_path)
    with pytest.raises(CheckpointError, match="no checkpoint named 'nope'"):
        load_checkpoint("nope", tmp_path)
    monkeypatch.setenv("VAE_DEMO_CHECKPOINTS", str(tmp_path))
    assert load_checkpoint("m1").name == "m1"
