"""Which models, on which device, loaded once per process.

Introduced in ``00_setup``. Hub ids are the defaults; an argument or an environment
variable (see :mod:`s2st_helpers.settings`) overrides each, and a local directory
works too, which is how the tests and offline classrooms run.

The preset picks the tier (see ``06_speed``): ``exact`` runs the plain tier, the
library's own calls as the notebooks make them, every model in float32; ``fast``
runs the speed layer (:mod:`s2st_helpers.fast`), which on a CPU also stores
SpeechT5's linear layers in int8 and, where the CPU computes bfloat16 natively,
HiFi-GAN's convolutions in bfloat16 (on a GPU the models stay float32, and the
decoder steps are replayed as CUDA graphs). Whisper is float32 in both, so the translated
text is the same in both; ``fastest`` is ``fast`` with Whisper's encoder in bfloat16
(float16 on a GPU), which changes the text of some clips.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import torch

from . import settings

_load_lock = threading.Lock()  # two Gradio workers must not load the same model twice


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: the argument, else ``S2ST_DEVICE``, else CUDA, MPS, CPU."""
    choice = settings.device(device)
    if choice:
        try:
            chosen = torch.device(choice)
        except RuntimeError as err:
            raise ValueError(f"unknown device {choice!r}: use cpu, cuda, cuda:N or mps") from err
        _check_available(chosen, "the device asked for" if device else "S2ST_DEVICE")
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _check_available(device: torch.device, asked: str) -> None:
    """A ValueError where ``device`` is not on this machine (PyTorch would fail later,
    at the first model, with an AssertionError about how it was compiled)."""
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index or 0) >= count:
            have = f"{count} CUDA GPU(s)" if count else "no CUDA GPU PyTorch can use"
            raise ValueError(f"{asked} is {device}, but this machine has {have}: use cpu, or unset it to pick one")
    elif device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"{asked} is mps, but this machine has no Apple GPU PyTorch can use: use cpu, "
                         "or unset it to pick one")


@dataclass(frozen=True)
class ASR:
    model: object  # WhisperForConditionalGeneration
    processor: object  # WhisperProcessor
    device: torch.device


@dataclass(frozen=True)
class MT:
    model: object  # M2M100ForConditionalGeneration (NLLB-200 and M2M100 share it)
    tokenizer: object  # NllbTokenizer or M2M100Tokenizer
    device: torch.device


@dataclass(frozen=True)
class MMS:
    model: object  # VitsModel
    tokenizer: object  # VitsTokenizer
    device: torch.device


@dataclass(frozen=True)
class TTS:
    model: object  # SpeechT5ForTextToSpeech
    processor: object  # SpeechT5Processor
    vocoder: object  # SpeechT5HifiGan
    device: torch.device


def load_asr(model: str | None = None, device=None) -> ASR:
    """Whisper model and processor, cached per (model, device)."""
    return _load_asr(settings.asr_model(model), str(pick_device(device)))


def load_tts(model: str | None = None, vocoder: str | None = None, device=None,
             preset: str | None = None) -> TTS:
    """SpeechT5 model, processor and HiFi-GAN vocoder, cached per (model, vocoder,
    device, int8 or not)."""
    device = pick_device(device)
    # int8 kernels are a CPU feature; elsewhere the speed layer runs in float32
    int8 = settings.preset(preset) != "exact" and device.type == "cpu"
    return _load_tts(settings.tts_model(model), settings.vocoder(vocoder), str(device), int8)


def load_mt(model: str | None = None, device=None) -> MT:
    """The text translation model of the three-stage design (``07_three_stage``)."""
    return _load_mt(settings.mt_model(model), str(pick_device(device)))


def load_mms(target: str, device=None) -> MMS:
    """The MMS-TTS voice (a ``VitsModel``) for an ISO 639-3 ``target``."""
    return _load_mms(settings.mms_model(target), str(pick_device(device)))


@lru_cache(maxsize=4)
def _load_asr(model_id: str, device: str) -> ASR:
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    with _load_lock:
        processor = WhisperProcessor.from_pretrained(model_id)
        model = WhisperForConditionalGeneration.from_pretrained(model_id, dtype=torch.float32)
    return ASR(model.to(device).eval(), processor, torch.device(device))


@lru_cache(maxsize=4)
def _load_tts(model_id: str, vocoder_id: str, device: str, int8: bool = False) -> TTS:
    from transformers import SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5Processor

    with _load_lock:
        processor = SpeechT5Processor.from_pretrained(model_id)
        model = SpeechT5ForTextToSpeech.from_pretrained(model_id, dtype=torch.float32)
        vocoder = SpeechT5HifiGan.from_pretrained(vocoder_id, dtype=torch.float32)
    model = model.to(device).eval()
    if int8:
        from .fast.bf16 import convolutions_to_bf16
        from .fast.int8 import checkpoint_file, quantise_int8

        model = quantise_int8(model, checkpoint_file(model_id))
        convolutions_to_bf16(vocoder)
    return TTS(model, processor, vocoder.to(device).eval(), torch.device(device))


@lru_cache(maxsize=2)
def _load_mt(model_id: str, device: str) -> MT:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    with _load_lock:
        tokenizer = _could_load(AutoTokenizer.from_pretrained, model_id)
        model = _could_load(AutoModelForSeq2SeqLM.from_pretrained, model_id, dtype=torch.float32)
    return MT(model.to(device).eval(), tokenizer, torch.device(device))


@lru_cache(maxsize=4)
def _load_mms(model_id: str, device: str) -> MMS:
    from transformers import AutoTokenizer, VitsModel

    with _load_lock:
        tokenizer = _could_load(AutoTokenizer.from_pretrained, model_id)
        model = _could_load(VitsModel.from_pretrained, model_id)
    return MMS(model.to(device).eval(), tokenizer, torch.device(device))


def _could_load(load, model_id: str, **kwargs):
    """The optional models download on first use: say so when that fails."""
    try:
        return load(model_id, **kwargs)
    except OSError as err:  # offline and not cached, or no such model
        raise ValueError(f"could not load {model_id} ({err.__class__.__name__}): it downloads once, with "
                         "internet (00_setup's prefetch keeps it for an offline class)") from None


def clear_cache() -> None:
    """Forget loaded models (after changing the environment variables, say)."""
    for cached in (_load_asr, _load_tts, _load_mt, _load_mms):
        cached.cache_clear()
