"""The two install routes name the same pinned packages."""

import re
import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def names(requirements):
    return {re.split(r"[=<>\[]", r, maxsplit=1)[0].strip().lower().replace("_", "-") for r in requirements}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= {r for r in extra if not r.startswith("s2st-helpers")}
    env = [line.strip()[2:] for line in (ROOT / "environment.yml").read_text().splitlines()
           if line.strip().startswith("- ") and "==" in line and "python=" not in line]
    assert names(wanted) == names(env)
    pinned = {r.split("==")[0].lower(): r.split("==")[1] for r in wanted if "==" in r}
    for line in env:
        name, version = line.split("==")
        if name.lower() in pinned:
            assert pinned[name.lower()] == version, name


def test_bundled_data_is_packaged():
    data = ROOT / "s2st_helpers" / "data"
    assert len(list((data / "speakers").glob("*.npy"))) == 6
    assert (data / "speakers" / "SOURCES.md").exists() and (data / "samples" / "SOURCES.md").exists()


def test_system_programs_are_installed_and_listed():
    """setup.sh installs every system program the tests use (.ci/run hides the rest);
    the conda environment lists those conda-forge has."""
    from .browser_support import setup_programs

    programs = setup_programs()
    assert {"chromium", "ffmpeg"} <= set(programs)
    assert "  - ffmpeg" in (ROOT / "environment.yml").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "PATH=$(bash .ci/system_path.sh) python3 -m pytest\n" in ci


def test_colab_links_follow_the_repository_url(tmp_path):
    """Badges and install cells are made from pyproject's URL; a change anywhere shows."""
    import shutil
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import sync_colab

    assert sync_colab.differences() == []
    assert sync_colab.repository_url() in (ROOT / "notebooks" / "01_speech_translation.ipynb").read_text()
    moved = sync_colab.differences("https://github.com/someone-else/fork")
    assert "README.md" in moved and "notebooks/04_demo.ipynb" in moved
    # a copy with another URL in pyproject is rewritten to it by sync()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("*.py", ".*"))
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("s2st-workbook/s2st-workbook", "someone-else/fork"))
    assert sync_colab.differences(root=tmp_path)
    sync_colab.sync(tmp_path)
    assert sync_colab.differences(root=tmp_path) == []
    assert "git+https://github.com/someone-else/fork" in (tmp_path / "notebooks" / "00_setup.ipynb").read_text()
