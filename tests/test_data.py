import gzip
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.helpers.images import synthetic_images
from vae_demo import data
from vae_demo.data import DataNotFoundError, load_dataset, write_idx


def test_npz_layout_gray_and_rgb(data_dir):
    mn = load_dataset("mnist", "train", data_dir, download=False)
    assert mn.images.dtype == torch.uint8 and mn.images.shape == (96, 1, 28, 28)
    assert mn.labels.dtype == torch.int64 and mn.labels.shape == (96,)
    assert mn.class_names[3] == "3"
    cf = load_dataset("cifar10", "test", data_dir, download=False)
    assert cf.images.shape == (48, 3, 32, 32)  # NHWC on disk -> NCHW
    raw = np.load(data_dir / "cifar10.npz")["x_test"]
    assert torch.equal(cf.images[5], torch.from_numpy(raw[5]).permute(2, 0, 1))
    assert cf.class_names[5] == "dog"
    f = load_dataset("fashion-mnist", "test", data_dir, download=False)
    assert f.class_names[0] == "T-shirt/top"
    x = f.floats(slice(0, 4))
    assert x.dtype == torch.float32 and 0.0 <= x.min() and x.max() <= 1.0


def test_env_variable_is_the_default_data_dir(data_dir):
    # the data_dir fixture sets VAE_DEMO_DATA; no argument given here
    assert len(load_dataset("mnist", "test", download=False)) == 48


@pytest.mark.parametrize("gz", [False, True])
def test_torchvision_mnist_layout(tmp_path, gz):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    x = synthetic_images(20, (28, 28), seed=3)
    y = np.arange(20, dtype=np.uint8) % 10
    for name, arr in [("t10k-images-idx3-ubyte", x), ("t10k-labels-idx1-ubyte", y)]:
        blob = write_idx(arr)
        if gz:
            (raw / (name + ".gz")).write_bytes(gzip.compress(blob))
        else:
            (raw / name).write_bytes(blob)
    ds = load_dataset("fashion-mnist", "test", tmp_path, download=False)
    assert torch.equal(ds.images[:, 0], torch.from_numpy(x))
    assert ds.labels.tolist() == y.tolist()


def _cifar_batch(x_nchw, labels):
    return pickle.dumps({"data": x_nchw.reshape(len(x_nchw), -1), "labels": list(labels)})


def test_torchvision_cifar_layout(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    parts = []
    for i in range(1, 6):
        x = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
        parts.append(x)
        (folder / f"data_batch_{i}").write_bytes(_cifar_batch(x, [i] * 4))
    xt = rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
    (folder / "test_batch").write_bytes(_cifar_batch(xt, [7, 8, 9]))
    train = load_dataset("cifar10", "train", tmp_path, download=False)
    assert train.images.shape == (20, 3, 32, 32)
    assert torch.equal(train.images, torch.from_numpy(np.concatenate(parts)))
    assert train.labels.tolist() == sum([[i] * 4 for i in range(1, 6)], [])
    test = load_dataset("cifar10", "test", tmp_path, download=False)
    assert test.labels.tolist() == [7, 8, 9]


def test_cifar_batch_with_code_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps({"data": Evil(), "labels": [1]}))
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(b"")
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_dataset("cifar10", "test", tmp_path, download=False)


def test_missing_and_offline_error_is_clear(tmp_path, monkeypatch):
    monkeypatch.delenv("VAE_DEMO_DATA", raising=False)
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("cifar10", "test", tmp_path, download=False)
    msg = str(err.value)
    assert "'cifar10'" in msg and str(tmp_path) in msg and "cifar10.npz" in msg
    assert "VAE_DEMO_DATA" in msg and "--data-dir" in msg

    def offline(info, root):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data, "_download", offline)
    with pytest.raises(DataNotFoundError, match="download .*failed.*name resolution"):
        load_dataset("mnist", "train", tmp_path, download=True)


def test_bad_names_and_shapes(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'mnsit'"):
        load_dataset("mnsit", data_dir=tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_dataset("mnist", "valid", data_dir=tmp_path)
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 32, 32), np.uint8), y_train=np.zeros(2),
             x_test=np.zeros((2, 32, 32), np.uint8), y_test=np.zeros(2))
    with pytest.raises(ValueError, match=r"expected \(1, 28, 28\)"):
        load_dataset("mnist", "test", tmp_path, download=False)


def test_nothing_loaded_at_import():
    code = "import sys, vae_demo.data, vae_demo.train; print('torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the sample of test images shipped with the app ---------------------------------------------------

def test_shipped_sample_is_small_fixed_and_pickle_free():
    assert data.SAMPLE_FILE.stat().st_size < 1024 * 1024  # well under 1 MB, all three datasets
    with np.load(data.SAMPLE_FILE, allow_pickle=False) as f:  # raises if anything in it needs a pickle
        assert all(f[k].dtype != object for k in f.files)
    for name in data.DATASETS:
        s = data.load_sample(name)
        assert s.sample and s.split == "test" and len(s) == data.SAMPLE_SIZE == 64
        assert tuple(s.images.shape[1:]) == data.dataset_info(name).image_shape
        assert s.images.dtype == torch.uint8 and s.labels.dtype == torch.int64
        assert set(s.labels.tolist()) == set(range(10))  # every class is there to pick
        assert "test images 0-63 in the official order" in s.source
    assert "JPEG-derived" in data.load_sample("cifar10").source
    assert "exact" in data.load_sample("mnist").source


@pytest.mark.integration
def test_shipped_sample_is_the_first_test_images_of_the_real_data(shared_data):
    for name in data.DATASETS:
        full = load_dataset(name, "test", shared_data, download=False)
        s = data.load_sample(name)
        assert torch.equal(s.images, full.images[:64]) and torch.equal(s.labels, full.labels[:64])


def test_make_sample_prefers_the_exact_official_files_and_records_where_they_came_from(tmp_path):
    # a Keras npz with one set of images, and torchvision's raw IDX files (the official format) with another
    from tests.helpers.images import write_npz
    from vae_demo import make_sample

    write_npz(tmp_path, "mnist.npz", (28, 28), n_train=8, n_test=70, seed=1)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    x = synthetic_images(70, (28, 28), seed=9)
    y = np.arange(70, dtype=np.uint8) % 10
    (raw / "t10k-images-idx3-ubyte").write_bytes(write_idx(x))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(write_idx(y))
    write_npz(tmp_path, "fashion_mnist.npz", (28, 28), n_train=8, n_test=64, seed=2)
    out = tmp_path / "sample.npz"
    assert make_sample.main(["--data-dir", str(tmp_path), "--out", str(out), "-n", "64"]) == 2  # no cifar10
    make_sample.build(tmp_path, out, 64, datasets=("mnist", "fashion-mnist"))
    mn = data.load_sample("mnist", out)
    assert torch.equal(mn.images[:, 0], torch.from_numpy(x[:64])) and mn.labels.tolist() == y[:64].tolist()
    assert "exact: the official files" in mn.source
    fa = data.load_sample("fashion-mnist", out)
    keras = np.load(tmp_path / "fashion_mnist.npz")["x_test"][:64]
    assert torch.equal(fa.images[:, 0], torch.from_numpy(keras))
    assert "fashion_mnist.npz (sha256" in fa.source and "not documented" in fa.source
    with pytest.raises(DataNotFoundError, match="no cifar10 images"):
        data.load_sample("cifar10", out)


def test_load_test_images_prefers_the_whole_split_then_the_sample(data_dir, tmp_path):
    full = data.load_test_images("mnist", data_dir)
    assert not full.sample and len(full) == 48
    fallback = data.load_test_images("mnist", tmp_path / "empty")
    assert fallback.sample and len(fallback) == 64
    with pytest.raises(DataNotFoundError, match="not found"):
        data.load_test_images("mnist", tmp_path / "empty", sample_path=tmp_path / "none.npz")
