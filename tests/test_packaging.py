"""Packaging: ranges in pyproject, the tested set pinned once, system programs, links."""

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def constraints() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = [line.split("#")[0].strip() for line in lines]
    return {canonical(p.split("==")[0]): p.split("==")[1] for p in pins if p}


def canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def test_environment_yml_pins_the_tested_set():
    env = [line.strip()[2:] for line in (ROOT / "environment.yml").read_text().splitlines()
           if line.strip().startswith("- ") and "==" in line and "python=" not in line]
    env_pins = {canonical(line.split("==")[0]): line.split("==")[1] for line in env if not line.startswith("torch")}
    assert env_pins == constraints()


def test_the_tested_set_is_inside_the_ranges():
    """pyproject asks for ranges; constraints.txt pins a version inside each, for every
    package pyproject names (torch comes from the machine)."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        wanted += [Requirement(r) for r in extra if not r.startswith("s2st-helpers")]
    pins = constraints()
    for requirement in wanted:
        name = canonical(requirement.name)
        if name == "torch":
            continue
        assert name in pins, f"{name} has no tested version in constraints.txt"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement}"
    assert not any("==" in str(r.specifier) for r in wanted), "pyproject pins: pins go in constraints.txt"


def test_bundled_data_is_packaged():
    data = ROOT / "s2st_helpers" / "data"
    assert len(list((data / "speakers").glob("*.npy"))) == 6
    assert (data / "speakers" / "SOURCES.md").exists() and (data / "samples" / "SOURCES.md").exists()


def test_system_programs_are_installed_and_listed():
    """setup.sh installs every system program the tests use (.ci/run hides the rest);
    the conda environment lists those conda-forge has."""
    from .browser_support import setup_programs

    programs = setup_programs()
    assert {"chromium", "ffmpeg", "node"} <= set(programs)
    assert "  - ffmpeg" in (ROOT / "environment.yml").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "PATH=$(bash .ci/system_path.sh) python3 -m pytest -n auto\n" in ci


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
