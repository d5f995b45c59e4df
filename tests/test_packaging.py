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
