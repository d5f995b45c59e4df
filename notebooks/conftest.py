"""nbval set-up: notebooks run offline, on the models the S2ST_* variables name, or on
tiny random models built here when none are named."""

import os
import tempfile


def pytest_configure(config):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("S2ST_DEVICE", "cpu")
    if not os.environ.get("S2ST_ASR_MODEL"):
        from s2st_helpers.tiny_models import NOTEBOOK_LIMITS, build_tiny_models

        paths = build_tiny_models(tempfile.mkdtemp(prefix="s2st-tiny-"), **NOTEBOOK_LIMITS)
        os.environ.update(S2ST_ASR_MODEL=paths["asr"], S2ST_TTS_MODEL=paths["tts"], S2ST_VOCODER=paths["vocoder"],
                          S2ST_MMS_MODEL=paths["mms"], S2ST_MT_MODEL=paths["mt"])
        os.environ["TINY_MODELS_FOR_NOTEBOOKS"] = "1"  # so tests/conftest.py does not take them for real ones
        # (not an S2ST_* name: those are the settings, each listed in settings.py)
