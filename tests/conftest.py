"""Test tiers.

Default: tiny random Whisper / SpeechT5 / HiFi-GAN built here from configs, no download.
Real-model tier (``-m real``): runs when S2ST_ASR_MODEL, S2ST_TTS_MODEL and S2ST_VOCODER
point at real checkpoints before pytest starts (``.ci/run`` sets them).
"""

import os
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import constants as hub_constants

from s2st_helpers import models
from s2st_helpers.samples import hub_offline
from s2st_helpers.tiny_models import build_tiny_models

# the tests never need the hub, and never wait on its retries (huggingface_hub read the
# variable at import: its constant is set too)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
hub_constants.HF_HUB_OFFLINE = hub_offline()
REAL_ENV = {k: os.environ.get(k) for k in ("S2ST_ASR_MODEL", "S2ST_TTS_MODEL", "S2ST_VOCODER")}
# the notebooks' conftest may have set the variables to tiny models already (the order
# conftests load in differs under pytest-xdist)
REAL = all(REAL_ENV.values()) and not os.environ.get("TINY_MODELS_FOR_NOTEBOOKS")
SHARED_AUDIO = Path(os.environ.get("S2ST_SHARED_AUDIO", Path(__file__).resolve().parents[2] / "shared" / "audio"))


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="real-model tier: set S2ST_ASR_MODEL, S2ST_TTS_MODEL, S2ST_VOCODER")
    for item in items:
        if "real" in item.keywords and not REAL:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def private_sample_cache(tmp_path, monkeypatch):
    """Clips fetched in a test (from a fake hub) must not reach the real cache."""
    from s2st_helpers import samples

    monkeypatch.setattr(samples, "sample_cache", lambda: tmp_path / "sample-cache")


@pytest.fixture(scope="session")
def tiny_paths(tmp_path_factory):
    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def tiny(tiny_paths, monkeypatch):
    """Point the package at the tiny models (and forget any loaded before)."""
    for key, var in (("asr", "S2ST_ASR_MODEL"), ("tts", "S2ST_TTS_MODEL"), ("vocoder", "S2ST_VOCODER"),
                     ("mms", "S2ST_MMS_MODEL"), ("mt", "S2ST_MT_MODEL")):
        monkeypatch.setenv(var, tiny_paths[key])
    monkeypatch.setenv("S2ST_DEVICE", "cpu")
    yield tiny_paths


@pytest.fixture
def real(monkeypatch):
    for var, value in REAL_ENV.items():
        monkeypatch.setenv(var, value)
    models.clear_cache()
    yield REAL_ENV


@pytest.fixture
def speech():
    """Two seconds of a voiced, speech-like signal at 16 kHz (float32)."""
    t = np.arange(32000) / 16000
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 3 * t))
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180, 360, 540, 720), start=1))
    return (0.2 * envelope * tone).astype(np.float32)


@pytest.fixture
def wav_file(tmp_path, speech):
    import soundfile as sf

    path = tmp_path / "speech.wav"
    sf.write(path, speech, 16000, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def mic_clip():
    """The real clip the fake microphone plays (bundled: the tests need no ../shared)."""
    from importlib import resources

    return str(resources.files("s2st_helpers") / "data" / "samples" / "it_001.wav")


@pytest.fixture(scope="session")
def browser(mic_clip):
    """One headless Chromium per test session (a second sync Playwright fails)."""
    from playwright.sync_api import sync_playwright

    from .browser_support import chromium_or_skip, launch_args

    executable = chromium_or_skip()
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, headless=True, args=launch_args(mic_clip))
        yield chromium
        chromium.close()


@pytest.fixture
def fixed_shape_beams(monkeypatch):
    """The CUDA graph's beam step (cuda_graph.py), run eagerly on the CPU in place of
    WhisperBeamSteps: what a GPU replays."""
    from s2st_helpers.fast import cuda_graph, whisper_steps

    made = []

    def use_static(steps, num_beams, max_new_tokens):
        static = cuda_graph.StaticWhisperBeams(steps.model, num_beams)
        assert static.fits(steps, max_new_tokens) and static.busy.acquire(blocking=False)
        made.append(static)
        return static

    monkeypatch.setattr(whisper_steps, "_graphed_beams", use_static)
    return made
