"""Every string of the page, gathered for its translations (``vae_demo/locales/<code>.json``).

``python -m vae_demo.app.strings``: for each language, the strings its file lacks (and those it has that the page
no longer uses); ``--write`` adds the missing ones with an empty translation (for a translator to fill) and
drops the unused ones. The strings are:

- each ``_("…")`` in the package's Python code (its literal: a template with ``{fields}``);
- each text the built page shows (labels, info lines, Markdown, buttons, tabs, options' names) that is not
  itself made by a ``_()`` template;
- the words the code shows from its data (class names, corruptions and their severities, model kinds);
- the page scripts' ``t('…')`` strings (``vae_demo/web``) and the lesson's texts.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from pathlib import Path

from vae_demo import language

PACKAGE = Path(__file__).resolve().parents[1]
JS_STRING = re.compile(r"""\bt\(\s*(['"])((?:\\.|(?!\1).)*)\1""")


def source_strings(root: Path = PACKAGE) -> set[str]:
    """The literal of every ``_("…")`` call in the package's Python files (and ``N_("…")``, a string kept as data,
    and ``deferred("…")``, a text made in a training thread)."""
    out = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_", "deferred")
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                out.add(node.args[0].value)
    return out


def script_strings(root: Path = PACKAGE / "web") -> set[str]:
    """The literal of every ``t('…')`` call in the page's scripts (vendored files aside)."""
    out = set()
    for path in root.rglob("*.js"):
        if "vendor" in path.parts:
            continue
        for m in JS_STRING.finditer(path.read_text(encoding="utf-8")):
            out.add(json.loads('"' + m.group(2).replace("\\'", "'").replace('"', '\\"') + '"'))
    return out


def has_words(text: str) -> bool:
    """Does a text hold anything to translate (a word outside HTML tags and LaTeX)?"""
    text = re.sub(r"<[^>]*>", " ", text)
    return re.search(r"[A-Za-zÀ-ÿ]{2,}", text) is not None


def page_strings(demo=None) -> set[str]:
    """What the built page shows in English, less what ``_()`` templates made (their templates are listed)."""
    from vae_demo.app import localize
    from vae_demo.app.build import build_app

    book = {}
    with language.recording(book):
        demo = demo if demo is not None else build_app()
    out = set()
    for _block, texts in localize.page_texts(demo):
        for prop, text in texts.items():
            for t in ([str(label) for label, _v in text] if prop == "choices" else [text]):
                if has_words(t) and t not in book:
                    out.add(t)
    return out


def vocabulary() -> set[str]:
    """Words the page shows from the ground floors' data: class names, corruptions, severities, model kinds."""
    from vae_demo.corruptions import SEVERITY
    from vae_demo.data import DATASETS, dataset_info
    from vae_demo.models import MODELS
    from vae_demo.services.restore import KIND_LABELS

    out = set(KIND_LABELS.values()) | {v[0] for v in SEVERITY.values()} | {"blind", "mask-aware", "classical"}
    out |= {"image", "encoder", "decoder", "code", "unused", "train", "test"}  # a network's parts, a run's splits
    out |= {"idle", "running", "stopping", "done", "stopped", "failed"}  # a training job's status
    out |= {"waiting for a GPU", "training on the GPU", "saving the checkpoint"}  # its phase on ZeroGPU
    out |= {"latent values", "base latent"}  # what a latent's numbers are called in a message
    out |= {"not logged in", "free account", "PRO account"}  # ZeroGPU's kinds of visitor
    for name in DATASETS:
        out |= set(dataset_info(name).class_names)
    for cls in MODELS.values():
        out |= {cls.description, cls.family}
    return {t for t in out if has_words(t)}


def lesson_strings() -> set[str]:
    from vae_demo.app.lesson import STEPS

    return {t for s in STEPS for t in (s.title, s.text, s.question)}


def all_strings() -> set[str]:
    return source_strings() | script_strings() | page_strings() | vocabulary() | lesson_strings()


def check(code: str, strings: set[str] | None = None) -> tuple[list[str], list[str], list[str]]:
    """For language ``code``: (missing, untranslated or wrong fields, unused)."""
    strings = all_strings() if strings is None else strings
    table = language.catalog(code)
    missing = sorted(strings - table.keys())
    templates = source_strings() | script_strings()  # filled in with values: a translation keeps their fields
    bad = sorted(k for k in strings & table.keys()
                 if not table[k].strip() or (k in templates and language.fields(table[k]) != language.fields(k)))
    unused = sorted(table.keys() - strings)
    return missing, bad, unused


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vae_demo.app.strings", description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help="add the missing strings (empty) and drop the unused ones")
    args = p.parse_args(argv)
    strings = all_strings()
    worst = 0
    for code in language.LANGUAGES:
        if code == language.SOURCE:
            continue
        missing, bad, unused = check(code, strings)
        print(f"{code}: {len(strings)} strings, {len(missing)} missing, {len(bad)} untranslated or with other "
              f"fields, {len(unused)} unused")
        for k in missing[:20] + bad[:20]:
            print("  ", json.dumps(k, ensure_ascii=False)[:150])
        if args.write:
            table = {k: v for k, v in language.catalog(code).items() if k in strings}
            table.update({k: "" for k in missing})
            path = language.LOCALES / f"{code}.json"
            path.write_text(json.dumps(dict(sorted(table.items())), ensure_ascii=False, indent=1) + "\n",
                            encoding="utf-8")
            language.catalog.cache_clear()
        worst = max(worst, len(missing) + len(bad))
    return 1 if worst else 0


if __name__ == "__main__":
    raise SystemExit(main())
