"""Keep the Colab badges and install cells in step with the repository URL.

The URL lives in one place, ``pyproject.toml``'s ``[project.urls] Repository``.
This rewrites, from it, each notebook's "Open in Colab" badge and its install cell,
and the README's badges and ``git clone`` line. ``--check`` changes nothing and
exits with 1 when a file disagrees (a test runs it).

    python tools/sync_colab.py           # rewrite
    python tools/sync_colab.py --check   # report
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/{repo}/blob/main/notebooks/{name}.ipynb)")
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/"
                      r"[^)]*/notebooks/(?P<name>[\w-]+)\.ipynb\)")
INSTALL_MARK = "# In Colab or Kaggle, install the workbook"
INSTALL = '''# In Colab or Kaggle, install the workbook once (a local clone already has it: see the README)
import importlib.metadata as metadata, os, sys
changed = []
if "google.colab" in sys.modules or "KAGGLE_KERNEL_RUN_TYPE" in os.environ:
    try:
        import s2st_helpers
    except ImportError:
        loaded = {m: metadata.version(m) for m in ("numpy", "torch", "transformers", "datasets", "gradio")
                  if m in sys.modules}
        %pip install -q "s2st-helpers[notebooks] @ git+{url}"
        changed = sorted(m for m, v in loaded.items() if metadata.version(m) != v)
if changed:
    print("Restart the session (Runtime > Restart session), then run the notebook again:",
          ", ".join(changed), "changed version after this session had loaded it.")
else:
    from s2st_helpers.environment import setup
    setup();'''


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    url = tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"].rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"[project.urls] Repository must be https://github.com/OWNER/NAME, got {url!r}")
    return url


def notebook_cells(path: Path, url: str) -> list[dict]:
    """The notebook's cells with the badge and the install cell made from ``url``."""
    repo = url.removeprefix("https://github.com/")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            source = BADGE_RE.sub(lambda m: BADGE.format(repo=repo, name=m["name"]), source)
        elif source.startswith(("# In Colab", INSTALL_MARK)):
            source = INSTALL.replace("{url}", url)
        cell["source"] = source.splitlines(keepends=True)
    return cells


def readme_text(text: str, url: str) -> str:
    repo = url.removeprefix("https://github.com/")
    text = BADGE_RE.sub(lambda m: BADGE.format(repo=repo, name=m["name"]), text)
    return re.sub(r"git clone https://github\.com/\S+", f"git clone {url}", text)


def differences(url: str | None = None, root: Path = ROOT) -> list[str]:
    """Files whose badges or install cell disagree with ``url`` (default: pyproject's)."""
    url = url or repository_url(root / "pyproject.toml")
    out = []
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if ["".join(c["source"]) for c in cells] != ["".join(c["source"]) for c in notebook_cells(path, url)]:
            out.append(str(path.relative_to(root)))
        if not any("".join(c["source"]).startswith(INSTALL_MARK) for c in cells):
            out.append(f"{path.relative_to(root)} (no install cell)")
    readme = (root / "README.md").read_text(encoding="utf-8")
    if readme_text(readme, url) != readme:
        out.append("README.md")
    return out


def sync(root: Path = ROOT) -> None:
    url = repository_url(root / "pyproject.toml")
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell, source in zip(notebook.cells, notebook_cells(path, url)):
            cell.source = "".join(source["source"])
        nbformat.write(notebook, path)
    readme = root / "README.md"
    readme.write_text(readme_text(readme.read_text(encoding="utf-8"), url), encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report disagreements, change nothing")
    args = parser.parse_args(argv)
    if args.check:
        found = differences()
        for name in found:
            print(f"out of step with pyproject.toml's repository URL: {name}", file=sys.stderr)
        return 1 if found else 0
    sync()
    return 0


if __name__ == "__main__":
    sys.exit(main())
