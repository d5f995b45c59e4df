"""Every S2ST_* variable is read in settings.py alone, and listed once: the module's
table, its VARIABLES and the README's table name the same variables."""

import re
from pathlib import Path

import pytest

from s2st_helpers import settings

ROOT = Path(__file__).resolve().parents[1]


def test_no_other_module_reads_the_environment_for_a_setting():
    for path in (ROOT / "s2st_helpers").rglob("*.py"):
        if path.name == "settings.py":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            assert not re.search(r"environ(\.get)?[\[(]\s*[\"']S2ST_", line), f"{path.name}: {line.strip()}"


def test_one_table_everywhere():
    documented = set(re.findall(r"``(S2ST_\w+)``", settings.__doc__))
    in_readme = set(re.findall(r"^\| `(S2ST_\w+)` \|", (ROOT / "README.md").read_text(encoding="utf-8"), re.M))
    read = set(re.findall(r'_get\("(S2ST_\w+)"\)', Path(settings.__file__).read_text(encoding="utf-8")))
    assert documented == set(settings.VARIABLES) == in_readme == read


def test_values(monkeypatch):
    for name in settings.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert settings.asr_model() == "openai/whisper-base" and settings.preset() == "fast"
    assert settings.maxlenratio() == 10.0 and settings.maxlenratio(3.0) == 3.0 and not settings.solutions_hidden()
    assert settings.mms_model("fra") == "facebook/mms-tts-fra" and settings.eval_dir() is None
    assert settings.mt_model() == "facebook/nllb-200-distilled-600M"
    monkeypatch.setenv("S2ST_ASR_MODEL", "/models/whisper")
    monkeypatch.setenv("S2ST_HIDE_SOLUTIONS", "1")
    assert settings.asr_model() == "/models/whisper" and settings.asr_model("other") == "other"
    assert settings.solutions_hidden()
    monkeypatch.setenv("S2ST_MAXLENRATIO", "many")
    with pytest.raises(ValueError, match="S2ST_MAXLENRATIO"):
        settings.maxlenratio()
    monkeypatch.setenv("S2ST_PRESET", "turbo")
    with pytest.raises(ValueError, match="preset"):
        settings.preset()
