"""python -m vae_demo.deploy: exactly what a Space needs goes up (checked with --dry-run; no test can reach the Hub)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vae_demo import deploy

ROOT = Path(__file__).resolve().parent.parent


def _touch(root: Path, rel: str, data: bytes = b"x") -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def test_dry_run_lists_what_the_space_needs_and_nothing_else(tmp_path, capsys):
    readme = "---\nsdk: gradio\napp_file: app.py\npython_version: \"3.12\"\n---\n# x\n"
    for rel in ("app.py", "requirements.txt", "vae_demo/__init__.py", "vae_demo/app/tabs/tab.py",
                "vae_demo/classical_params.json", "vae_demo/sample_test_images.npz",
                "checkpoints/m.safetensors", "checkpoints/m.json"):
        _touch(tmp_path, rel)
    _touch(tmp_path, "README.md", readme.encode())
    decoys = ("tests/test_x.py", "bench_out/BENCHMARKS.md", ".venv/lib/site.py", "data/mnist.npz",
              "vae_demo/__pycache__/x.cpython-311.pyc", "checkpoints/.m.json.123.tmp", ".git/config",
              ".pytest_cache/v", "docs/screenshots/a.png", "loadtest.json", "scripts/make_checkpoints.sh")
    for rel in decoys:
        _touch(tmp_path, rel)
    assert deploy.main(["--space", "me/vae-demo", "--dry-run", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[-1] for line in out.splitlines()[:-1]]
    assert listed == sorted(["README.md", "app.py", "requirements.txt", "checkpoints/m.json",
                             "checkpoints/m.safetensors", "vae_demo/__init__.py", "vae_demo/classical_params.json",
                             "vae_demo/sample_test_images.npz", "vae_demo/app/tabs/tab.py"])
    assert "9 files" in out.splitlines()[-1] and "nothing uploaded" in out


def test_dry_run_of_this_project_includes_every_committed_checkpoint():
    out = subprocess.run([sys.executable, "-m", "vae_demo.deploy", "--space", "me/vae-demo", "--dry-run"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    listed = {line.split()[-1] for line in out.stdout.splitlines()[:-1]}
    committed = {p.relative_to(ROOT).as_posix() for p in (ROOT / "checkpoints").glob("*.safetensors")}
    assert committed and committed <= listed
    assert {"app.py", "requirements.txt", "README.md", "vae_demo/sample_test_images.npz", "vae_demo/services/gpu.py"} <= listed
    assert not any(f.startswith(("tests/", "bench_out/", ".venv/", "data/", "docs/")) or "__pycache__" in f
                   for f in listed)


def test_bad_space_names_and_a_readme_without_gradio_front_matter_are_refused(tmp_path, capsys):
    assert deploy.main(["--space", "no-owner", "--dry-run"]) == 2
    assert "OWNER/NAME" in capsys.readouterr().err
    _touch(tmp_path, "README.md", b"# no front matter\n")
    assert deploy.main(["--space", "me/x", "--dry-run", "--root", str(tmp_path)]) == 2
    assert "front matter" in capsys.readouterr().err


def test_the_readme_front_matter_is_one_zerogpu_accepts():
    text = (ROOT / "README.md").read_text()
    assert deploy.check_front_matter(ROOT / "README.md") == []
    head = text.split("---")[1]
    assert 'python_version: "3.12"' in head and "suggested_hardware: zero-a10g" in head
    reqs = (ROOT / "requirements.txt").read_text()
    assert "torch==2.13.0" in reqs and "spaces==" in reqs  # 2.13.0: on ZeroGPU's list of PyTorch versions
