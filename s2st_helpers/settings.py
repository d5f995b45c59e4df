"""Every setting the workbook reads from the environment, in one place.

Introduced in ``00_setup``. Nothing else in the package reads ``os.environ`` for an
``S2ST_*`` variable: each has a function here, and the table below lists them all
(``VARIABLES`` holds the same table for code, and a test keeps the two in step).

========================  ================================================  ==============================
variable                  what it sets                                      default
========================  ================================================  ==============================
``S2ST_ASR_MODEL``        Whisper checkpoint (hub id or local directory)    ``openai/whisper-base``
``S2ST_TTS_MODEL``        SpeechT5 checkpoint                               ``microsoft/speecht5_tts``
``S2ST_VOCODER``          HiFi-GAN checkpoint                               ``microsoft/speecht5_hifigan``
``S2ST_MT_MODEL``         text translation model of the three-stage design  ``facebook/nllb-200-distilled-600M``
``S2ST_MMS_MODEL``        MMS-TTS voice for every non-English target        ``facebook/mms-tts-<target>``
``S2ST_DEVICE``           ``cpu``, ``cuda``, ``cuda:N`` or ``mps``          CUDA, then MPS, then CPU
``S2ST_PRESET``           ``exact``, ``fast`` or ``fastest`` (06_speed)     ``fast``
``S2ST_MAXLENRATIO``      SpeechT5's length cap, per input token            ``10``
``S2ST_EVAL_DIR``         folder with a ``manifest.tsv`` for 05             the bundled clips
``S2ST_HIDE_SOLUTIONS``   ``1`` hides the exercises' solutions              shown
========================  ================================================  ==============================
"""

from __future__ import annotations

import os

ASR_MODEL = "openai/whisper-base"
TTS_MODEL = "microsoft/speecht5_tts"
VOCODER = "microsoft/speecht5_hifigan"
MT_MODEL = "facebook/nllb-200-distilled-600M"
PRESETS = ("fast", "exact", "fastest")
MAXLENRATIO = 10.0  # upstream's 20 lets a voice that never stops run for minutes

VARIABLES = {
    "S2ST_ASR_MODEL": "Whisper checkpoint (hub id or local directory)",
    "S2ST_TTS_MODEL": "SpeechT5 checkpoint",
    "S2ST_VOCODER": "HiFi-GAN checkpoint",
    "S2ST_MT_MODEL": "text translation model of the three-stage design",
    "S2ST_MMS_MODEL": "MMS-TTS voice for every non-English target",
    "S2ST_DEVICE": "cpu, cuda, cuda:N or mps",
    "S2ST_PRESET": "exact, fast or fastest (06_speed)",
    "S2ST_MAXLENRATIO": "SpeechT5's length cap, per input token",
    "S2ST_EVAL_DIR": "folder with a manifest.tsv for 05",
    "S2ST_HIDE_SOLUTIONS": "1 hides the exercises' solutions",
}


def _get(name: str) -> str | None:
    return os.environ.get(name) or None


def _model(value: str | None, from_env: str | None, name: str, default: str) -> str:
    """A hub id or a local folder. A value written as a path (``/``, ``./``, ``~``)
    must be a folder: otherwise the hub would be asked for it, and would answer with
    a complaint about the characters of a repository's name."""
    choice = value or from_env or default
    if isinstance(choice, os.PathLike):
        choice = os.fspath(choice)
    if not isinstance(choice, str):
        raise TypeError(f"a model is a hub id or a folder, got {type(choice).__name__}")
    if choice.startswith(("/", "./", "../", "~", ".\\")) and not os.path.isdir(os.path.expanduser(choice)):
        where = "" if value else f"{name} is "
        raise ValueError(f"{where}{choice!r}, which is not a folder here: point it at a model's folder "
                         f"(with its config.json), or give a hub id such as {default!r}")
    return os.path.expanduser(choice)


def asr_model(value: str | None = None) -> str:
    return _model(value, _get("S2ST_ASR_MODEL"), "S2ST_ASR_MODEL", ASR_MODEL)


def tts_model(value: str | None = None) -> str:
    return _model(value, _get("S2ST_TTS_MODEL"), "S2ST_TTS_MODEL", TTS_MODEL)


def vocoder(value: str | None = None) -> str:
    return _model(value, _get("S2ST_VOCODER"), "S2ST_VOCODER", VOCODER)


def mt_model(value: str | None = None) -> str:
    return _model(value, _get("S2ST_MT_MODEL"), "S2ST_MT_MODEL", MT_MODEL)


def mms_model(target: str) -> str:
    return _model(None, _get("S2ST_MMS_MODEL"), "S2ST_MMS_MODEL", f"facebook/mms-tts-{target}")


def device(value=None):
    """The device asked for (argument, then ``S2ST_DEVICE``), or None to pick one."""
    return value or _get("S2ST_DEVICE")


def preset(value: str | None = None) -> str:
    """The speed preset: the argument, else ``S2ST_PRESET``, else "fast"."""
    choice = value or _get("S2ST_PRESET") or "fast"
    if choice not in PRESETS:
        raise ValueError(f"unknown preset {choice!r}: use one of {', '.join(PRESETS)}")
    return choice


def maxlenratio(value: float | None = None) -> float:
    if value is not None:
        return value
    text = _get("S2ST_MAXLENRATIO")
    try:
        return float(text) if text else MAXLENRATIO
    except ValueError:
        raise ValueError(f"S2ST_MAXLENRATIO must be a number, got {text!r}") from None


def eval_dir() -> str | None:
    return _get("S2ST_EVAL_DIR")


def solutions_hidden() -> bool:
    text = (_get("S2ST_HIDE_SOLUTIONS") or "0").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"S2ST_HIDE_SOLUTIONS must be 1 (hide) or 0 (show), got {text!r}")
