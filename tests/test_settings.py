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


def test_values(monkeypatch, tmp_path):
    for name in settings.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert settings.asr_model() == "openai/whisper-base" and settings.preset() == "fast"
    assert settings.maxlenratio() == 10.0 and settings.maxlenratio(3.0) == 3.0 and not settings.solutions_hidden()
    assert settings.mms_model("fra") == "facebook/mms-tts-fra" and settings.eval_dir() is None
    assert settings.mt_model() == "facebook/nllb-200-distilled-600M"
    monkeypatch.setenv("S2ST_ASR_MODEL", str(tmp_path))
    monkeypatch.setenv("S2ST_HIDE_SOLUTIONS", "1")
    assert settings.asr_model() == str(tmp_path) and settings.asr_model("other/model") == "other/model"
    assert settings.tts_model(tmp_path) == str(tmp_path)  # a Path too
    with pytest.raises(TypeError, match="a hub id or a folder, got int"):
        settings.vocoder(3)
    assert settings.solutions_hidden()
    # a path that is not there: said so, not sent to the hub as a repository's name
    monkeypatch.setenv("S2ST_ASR_MODEL", "/models/whisper")
    with pytest.raises(ValueError, match="S2ST_ASR_MODEL is '/models/whisper', which is not a folder here"):
        settings.asr_model()
    with pytest.raises(ValueError, match="'./nowhere', which is not a folder"):
        settings.tts_model("./nowhere")
    for shown in ("0", "false", "No", "off"):
        monkeypatch.setenv("S2ST_HIDE_SOLUTIONS", shown)
        assert not settings.solutions_hidden()
    monkeypatch.setenv("S2ST_HIDE_SOLUTIONS", "yes")
    assert settings.solutions_hidden()
    monkeypatch.setenv("S2ST_HIDE_SOLUTIONS", "sometimes")
    with pytest.raises(ValueError, match="S2ST_HIDE_SOLUTIONS must be 1"):
        settings.solutions_hidden()
    monkeypatch.setenv("S2ST_MAXLENRATIO", "many")
    with pytest.raises(ValueError, match="S2ST_MAXLENRATIO"):
        settings.maxlenratio()
    monkeypatch.setenv("S2ST_PRESET", "turbo")
    with pytest.raises(ValueError, match="preset"):
        settings.preset()


def test_a_device_this_machine_lacks_is_refused_by_name(monkeypatch):
    """S2ST_DEVICE=cuda set for a whole class: each laptop without a GPU says so at once,
    instead of PyTorch's AssertionError at the first model."""
    import torch

    from s2st_helpers.models import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setenv("S2ST_DEVICE", "cuda")
    with pytest.raises(ValueError, match="S2ST_DEVICE is cuda, but this machine has no CUDA GPU"):
        pick_device()
    with pytest.raises(ValueError, match="the device asked for is mps, but this machine has no Apple GPU"):
        pick_device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert pick_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="is cuda:1, but this machine has 1 CUDA GPU"):
        pick_device("cuda:1")
    monkeypatch.setenv("S2ST_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
