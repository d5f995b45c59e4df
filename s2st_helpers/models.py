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
speed preset              ``fast``                        ``S2ST_PRESET``
========================  ==============================  =================

Presets (see ``06_speed``): ``fast`` stores SpeechT5's linear layers in int8 on a CPU
(about half the decoder's time; the speech changes slightly, see the README for
how much); ``exact`` keeps every model in float32. Whisper is float32 in both, so
the translated text never depends on the preset.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache

import torch

ASR_MODEL = "openai/whisper-base"
TTS_MODEL = "microsoft/speecht5_tts"
VOCODER = "microsoft/speecht5_hifigan"
PRESETS = ("fast", "exact")

_load_lock = threading.Lock()  # two Gradio workers must not load the same model twice


def asr_model_id(model: str | None = None) -> str:
    return model or os.environ.get("S2ST_ASR_MODEL") or ASR_MODEL


def tts_model_id(model: str | None = None) -> str:
    return model or os.environ.get("S2ST_TTS_MODEL") or TTS_MODEL


def vocoder_id(model: str | None = None) -> str:
    return model or os.environ.get("S2ST_VOCODER") or VOCODER


def preset_name(preset: str | None = None) -> str:
    """The speed preset: the argument, else ``S2ST_PRESET``, else "fast"."""
    choice = preset or os.environ.get("S2ST_PRESET") or "fast"
    if choice not in PRESETS:
        raise ValueError(f"unknown preset {choice!r}: use one of {', '.join(PRESETS)}")
    return choice


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


def load_tts(model: str | None = None, vocoder: str | None = None, device=None,
             preset: str | None = None) -> TTS:
    """SpeechT5 model, processor and HiFi-GAN vocoder, cached per (model, vocoder,
    device, preset)."""
    device = pick_device(device)
    preset = preset_name(preset)
    if device.type != "cpu":  # int8 kernels are a CPU feature; elsewhere both are float32
        preset = "exact"
    return _load_tts(tts_model_id(model), vocoder_id(vocoder), str(device), preset)


@lru_cache(maxsize=4)
def _load_asr(model_id: str, device: str) -> ASR:
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    with _load_lock:
        processor = WhisperProcessor.from_pretrained(model_id)
        model = WhisperForConditionalGeneration.from_pretrained(model_id, dtype=torch.float32)
    return ASR(model.to(device).eval(), processor, torch.device(device))


@lru_cache(maxsize=4)
def _load_tts(model_id: str, vocoder_id_: str, device: str, preset: str = "exact") -> TTS:
    from transformers import SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5Processor

    with _load_lock:
        processor = SpeechT5Processor.from_pretrained(model_id)
        model = SpeechT5ForTextToSpeech.from_pretrained(model_id, dtype=torch.float32)
        vocoder = SpeechT5HifiGan.from_pretrained(vocoder_id_, dtype=torch.float32)
    model = model.to(device).eval()
    if preset == "fast":
        model = quantise_int8(model)
    return TTS(model, processor, vocoder.to(device).eval(), torch.device(device))


def quantise_int8(model):
    """Store the model's linear layers in int8 (PyTorch's dynamic quantisation, CPU only).

    Each decoder step reads every weight once for a single frame, so the step is
    limited by memory traffic: a quarter of the bytes roughly halves it. Convolutions
    (postnet, HiFi-GAN) are left in float32.
    """
    with warnings.catch_warnings():  # torch.ao.quantization warns that torchao will replace it;
        warnings.simplefilter("ignore")  # it is in torch 2.13 and runs fbgemm's int8 kernels
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8,
                                                      inplace=True)


def clear_cache() -> None:
    """Forget loaded models (after changing the environment variables, say)."""
    _load_asr.cache_clear()
    _load_tts.cache_clear()
