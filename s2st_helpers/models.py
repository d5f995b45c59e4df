"""Which models, on which device, loaded once per process.

Introduced in ``00_setup``. Hub ids are the defaults; each can be overridden by an
argument or an environment variable (a local directory works too, which is how the
tests and offline classrooms run):

========================  ==============================  =================
what                      default                         variable
========================  ==============================  =================
speech recognition        ``openai/whisper-base``         ``S2ST_ASR_MODEL``
text to spectrogram       ``microsoft/speecht5_tts``      ``S2ST_TTS_MODEL``
vocoder                   ``microsoft/speecht5_hifigan``  ``S2ST_VOCODER``
device                    cuda, then mps, then cpu        ``S2ST_DEVICE``
========================  ==============================  =================
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import torch

ASR_MODEL = "openai/whisper-base"
TTS_MODEL = "microsoft/speecht5_tts"
VOCODER = "microsoft/speecht5_hifigan"

_load_lock = threading.Lock()  # two Gradio workers must not load the same model twice


def asr_model_id(model: str | None = None) -> str:
    return model or os.environ.get("S2ST_ASR_MODEL") or ASR_MODEL


def tts_model_id(model: str | None = None) -> str:
    return model or os.environ.get("S2ST_TTS_MODEL") or TTS_MODEL


def vocoder_id(model: str | None = None) -> str:
    return model or os.environ.get("S2ST_VOCODER") or VOCODER


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: the argument, else ``S2ST_DEVICE``, else CUDA, MPS, CPU."""
    choice = device or os.environ.get("S2ST_DEVICE")
    if choice:
        try:
            return torch.device(choice)
        except RuntimeError as err:
            raise ValueError(f"unknown device {choice!r}: use cpu, cuda, cuda:N or mps") from err
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class ASR:
    model: object  # WhisperForConditionalGeneration
    processor: object  # WhisperProcessor
    device: torch.device


@dataclass(frozen=True)
class TTS:
    model: object  # SpeechT5ForTextToSpeech
    processor: object  # SpeechT5Processor
    vocoder: object  # SpeechT5HifiGan
    device: torch.device


def load_asr(model: str | None = None, device=None) -> ASR:
    """Whisper model and processor, cached per (model, device)."""
    return _load_asr(asr_model_id(model), str(pick_device(device)))


def load_tts(model: str | None = None, vocoder: str | None = None, device=None) -> TTS:
    """SpeechT5 model, processor and HiFi-GAN vocoder, cached per (model, vocoder, device)."""
    return _load_tts(tts_model_id(model), vocoder_id(vocoder), str(pick_device(device)))


@lru_cache(maxsize=4)
def _load_asr(model_id: str, device: str) -> ASR:
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    with _load_lock:
        processor = WhisperProcessor.from_pretrained(model_id)
        model = WhisperForConditionalGeneration.from_pretrained(model_id, dtype=torch.float32)
    return ASR(model.to(device).eval(), processor, torch.device(device))


@lru_cache(maxsize=4)
def _load_tts(model_id: str, vocoder_id_: str, device: str) -> TTS:
    from transformers import SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5Processor

    with _load_lock:
        processor = SpeechT5Processor.from_pretrained(model_id)
        model = SpeechT5ForTextToSpeech.from_pretrained(model_id, dtype=torch.float32)
        vocoder = SpeechT5HifiGan.from_pretrained(vocoder_id_, dtype=torch.float32)
    return TTS(model.to(device).eval(), processor, vocoder.to(device).eval(), torch.device(device))


def clear_cache() -> None:
    """Forget loaded models (after changing the environment variables, say)."""
    _load_asr.cache_clear()
    _load_tts.cache_clear()
