"""Build the course site's content from the stored notebooks, offline, and check
its internal links.

The site is MyST / Jupyter Book 2 (``myst.yml``). Its pages are made from the
notebooks as stored (not run), so this takes seconds. Rendering them to HTML needs
the book theme, which jupyter-book fetches from api.mystmd.org: CI cannot reach it,
so here the build stops after the content (one JSON page per file), and this script
checks that every page was built, that MyST reported no error or warning (a broken
cross-reference is one), and that every relative link in the pages points at a file
that exists. Where the theme can be fetched, the same command finishes the site.

jupyter-book lives in its own environment (~/.cache/s2st-ci/site-venv): it is a
tool for this step, not a dependency of the workbook. It needs Node.js (setup.sh).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = "jupyter-book==2.1.7"
VENV = Path.home() / ".cache" / "s2st-ci" / "site-venv"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def jupyter_book() -> Path:
    exe = VENV / "bin" / "jupyter-book"
    if not exe.exists() or JUPYTER_BOOK.split("==")[1] not in subprocess.run(
            [str(exe), "--version"], capture_output=True, text=True).stdout:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        install = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", JUPYTER_BOOK], capture_output=True,
                                 text=True)
        if install.returncode:
            raise SystemExit(f"could not install {JUPYTER_BOOK}:\n{install.stderr[-2000:]}")
    return exe


def pages() -> list[Path]:
    """The files of myst.yml's table of contents."""
    return [ROOT / f for f in re.findall(r"-\s*file:\s*(\S+)", (ROOT / "myst.yml").read_text())]


def relative_links(page: Path) -> list[tuple[str, str]]:
    """(target, where) for every relative link in a page's Markdown."""
    if page.suffix == ".ipynb":
        cells = json.loads(page.read_text(encoding="utf-8"))["cells"]
        texts = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    else:
        texts = [page.read_text(encoding="utf-8")]
    found = []
    for text in texts:
        for target in LINK.findall(text):
            if not re.match(r"^([a-z]+:|#)", target):
                found.append((target.split("#")[0], page.name))
    return found


def main() -> int:
    exe = jupyter_book()
    build = ROOT / "_build"
    done = subprocess.run([str(exe), "build", "--site", "--ci"], cwd=ROOT, capture_output=True, text=True)
    log = done.stdout + done.stderr
    problems = [line for line in log.splitlines() if "⛔" in line or "⚠" in line]
    theme_unreachable = "api.mystmd.org" in log and "failed" in log
    built = sorted((build / "site" / "content").glob("*.json"))
    broken = [f"{where}: {target}" for page in pages() for target, where in relative_links(page)
              if not (page.parent / target).exists()]
    print(f"site content: {len(built)} pages built of {len(pages())} in myst.yml; "
          f"{sum(len(relative_links(p)) for p in pages())} relative links checked")
    for line in problems + [f"broken link: {b}" for b in broken]:
        print("  " + line)
    if done.returncode and not theme_unreachable:
        print(log[-3000:])
        return 1
    if theme_unreachable:
        print("  the book theme (api.mystmd.org) is out of reach here: content built, HTML not rendered")
    return 1 if problems or broken or len(built) != len(pages()) else 0


if __name__ == "__main__":
    sys.exit(main())
