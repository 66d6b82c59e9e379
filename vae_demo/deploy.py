"""Put the app on a Hugging Face Space: ``python -m vae_demo.deploy --space OWNER/NAME``.

Uploads exactly what the Space runs — ``app.py``, ``requirements.txt``, ``README.md`` (its front matter
configures the Space: Gradio SDK, Python version, ZeroGPU as the suggested hardware), the ``vae_demo/``
package (code, the tuned classical parameters, the sample test images) and the committed
``checkpoints/`` — and nothing else: no tests, benchmark output, virtual environments, data or caches.
It goes through ``huggingface_hub``'s ``upload_folder`` (one commit; binary files are stored the way
the Hub requires, which a plain ``git push`` of them no longer is). The Space is created if it does
not exist, on ZeroGPU: since July 2026 that is the hardware a free account can host a Gradio Space on
(up to 2). ``--dry-run`` lists the files and their total size and uploads nothing.

The token comes from ``HF_TOKEN`` or a ``hf auth login`` (``huggingface-cli login``) as usual.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_FILES = ("app.py", "requirements.txt", "README.md")
PACKAGE_SUFFIXES = (".py", ".json", ".npz")  # code, tuned parameters, the sample test images
WEB_FILES = ("vae_demo/web",)  # the in-page decoder and its vendored runtime: every file, licence included
CHECKPOINT_SUFFIXES = (".safetensors", ".json")
HARDWARE = "zero-a10g"  # huggingface_hub's name for ZeroGPU
SPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


def space_files(root: Path = ROOT) -> list[Path]:
    """The files a Space needs, relative to ``root``, sorted."""
    root = Path(root)
    out = [Path(f) for f in TOP_FILES if (root / f).is_file()]
    for p in sorted((root / "vae_demo").rglob("*")):
        rel = p.relative_to(root)
        web = any(rel.as_posix().startswith(w + "/") for w in WEB_FILES)
        if p.is_file() and (p.suffix in PACKAGE_SUFFIXES or web) and "__pycache__" not in rel.parts \
                and not any(part.startswith(".") for part in rel.parts):
            out.append(rel)
    for p in sorted((root / "checkpoints").glob("*")):
        if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES and not p.name.startswith("."):
            out.append(p.relative_to(root))
    return sorted(out)


def check_front_matter(readme: Path) -> list[str]:
    """Problems with the README's Space configuration (empty when it is fine)."""
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not m:
        return ["README.md has no front matter (--- sdk: gradio ... ---): the Space would not know how to run"]
    conf = dict(re.findall(r"^([a-z_]+):\s*\"?([^\"\n]*)\"?\s*$", m.group(1), re.M))
    problems = []
    if conf.get("sdk") != "gradio":
        problems.append("front matter: sdk must be gradio (ZeroGPU runs Gradio Spaces only)")
    if conf.get("app_file", "app.py") != "app.py":
        problems.append("front matter: app_file must be app.py")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vae_demo.deploy", description=__doc__.split("\n")[0])
    p.add_argument("--space", required=True, help="the Space, OWNER/NAME (created on ZeroGPU if it does not exist)")
    p.add_argument("--dry-run", action="store_true", help="list the files and their total size; upload nothing")
    p.add_argument("--private", action="store_true", help="create the Space private")
    p.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)  # the project folder (tests)
    args = p.parse_args(argv)
    if not SPACE_RE.match(args.space):
        print(f"error: --space must look like OWNER/NAME, got {args.space[:60]!r}", file=sys.stderr)
        return 2
    files = space_files(args.root)
    problems = check_front_matter(args.root / "README.md")
    if problems:
        print("error: " + "; ".join(problems), file=sys.stderr)
        return 2
    total = sum((args.root / f).stat().st_size for f in files)
    if args.dry_run:
        for f in files:
            print(f"{(args.root / f).stat().st_size:>12,}  {f.as_posix()}")
        print(f"{len(files)} files, {total / 1e6:.1f} MB, would go to the Space {args.space} (dry run: nothing uploaded)")
        return 0
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError
    except ImportError:
        print("error: huggingface_hub is missing: pip install -r requirements.txt", file=sys.stderr)
        return 2
    api = HfApi()
    try:
        api.create_repo(args.space, repo_type="space", space_sdk="gradio", space_hardware=HARDWARE,
                        private=args.private, exist_ok=True)
        info = api.upload_folder(
            repo_id=args.space, repo_type="space", folder_path=str(args.root),
            allow_patterns=[f.as_posix() for f in files],
            delete_patterns=["app.py", "vae_demo/**", "checkpoints/**"],  # drop what is gone here
            commit_message="Deploy vae_demo",
        )
    except LocalTokenNotFoundError:
        print("error: no Hugging Face token: set HF_TOKEN or run `hf auth login`", file=sys.stderr)
        return 2
    except (HfHubHTTPError, OSError, ValueError) as err:
        print(f"error: the upload failed: {str(err).splitlines()[0][:300]}", file=sys.stderr)
        return 2
    print(f"uploaded {len(files)} files ({total / 1e6:.1f} MB) to {args.space}: {getattr(info, 'commit_url', info)}")
    print("On the Space's page: Settings → Hardware must say ZeroGPU (a free account can host 2 such Spaces).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
