"""Speech in ~96 languages to English text with Whisper (task "translate").

Introduced in ``01_speech_translation``. The tutorial called the ASR pipeline; here
the model's own ``generate`` is called, for three reasons:

* transformers 5 made the pipeline default to beam search (``num_beams=5``), which
  is twice as slow on a CPU; the workbook's default is greedy (``num_beams=1``).
* On real speech whisper-base sometimes loops ("it has been reported that it has
  been reported ..."), and with beam 5 such a loop runs to 448 tokens (~50 s on a
  laptop). The guard here is OpenAI's: a compression-ratio threshold with
  temperature fallback, plus a token budget that grows with the audio's length so a
  loop is cut short before the fallback kicks in.
* Silence must give "" rather than an invented "you": a level gate, then Whisper's
  own no-speech probability, read in the same decoder step that detects the language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .audio import SAMPLING_RATE, load_audio
from .models import load_asr

#: OpenAI Whisper's fallback ladder; transformers measures compression on token bytes,
#: where 1.35 plays the part of OpenAI's 2.4 on text (see the generate docstring).
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
COMPRESSION_RATIO_THRESHOLD = 1.35
NO_SPEECH_THRESHOLD = 0.6
SILENCE_DBFS = -60.0  # loudest 30 ms frame below this: nothing to hear
TOKENS_PER_SECOND = 8  # generous: fast English speech is ~5 tokens/s
WINDOW_SECONDS = 30
PROMPT_TOKENS = 4  # <|startoftranscript|> <|xx|> <|translate|> <|notimestamps|>


@dataclass
class Translation:
    """What Whisper made of one recording."""

    text: str
    language: str | None  # detected (or given) source language, e.g. "it"
    language_probability: float | None
    no_speech_probability: float
    seconds: float  # audio duration

    def __str__(self) -> str:
        return self.text


def translate(audio, *, sampling_rate: int | None = None, return_language: bool = False,
              model: str | None = None, device=None, **generate_kwargs):
    """Translate speech into English text.

    ``audio``: a path, bytes, an array with ``sampling_rate``, a dict, or a datasets
    audio value (see :func:`s2st_helpers.audio.load_audio`). Extra keyword arguments go
    to Whisper's ``generate`` (``num_beams=5``, ``language="it"``, ``task="transcribe"``...).
    Returns the text, or ``(text, language)`` with ``return_language=True``.
    """
    result = translate_details(audio, sampling_rate=sampling_rate, model=model, device=device,
                               **generate_kwargs)
    return (result.text, result.language) if return_language else result.text


def translate_details(audio, *, sampling_rate: int | None = None, model: str | None = None,
                      device=None, no_speech_threshold: float = NO_SPEECH_THRESHOLD,
                      **generate_kwargs) -> Translation:
    """Like :func:`translate`, returning a :class:`Translation` with the language and
    no-speech probability."""
    waveform = load_audio(audio, sampling_rate)
    seconds = len(waveform) / SAMPLING_RATE
    if loudest_frame_dbfs(waveform) < SILENCE_DBFS:
        return Translation("", None, None, 1.0, seconds)

    asr = load_asr(model, device)
    long_form = seconds > WINDOW_SECONDS
    features = _features(asr, waveform, long_form)
    window = features["input_features"][..., : 100 * WINDOW_SECONDS]  # 100 frames a second
    language, language_p, no_speech_p = first_step(asr, window, generate_kwargs.pop("language", None))
    if no_speech_p > no_speech_threshold:
        return Translation("", language, language_p, no_speech_p, seconds)

    options = guard_options(seconds, long_form)
    options.update(task="translate", language=language)
    options.update(generate_kwargs)
    with torch.inference_mode():
        ids = asr.model.generate(**features, **options)
    if not torch.is_tensor(ids):  # long-form with return_dict_in_generate
        ids = ids["sequences"]
    text = asr.processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
    return Translation(text, language, language_p, no_speech_p, seconds)


def guard_options(seconds: float, long_form: bool = False) -> dict:
    """Generation options of the runaway guard (greedy decoding by default)."""
    options = {"num_beams": 1, "temperature": TEMPERATURES,
               "compression_ratio_threshold": COMPRESSION_RATIO_THRESHOLD}
    if long_form:  # Whisper's sequential long-form needs timestamps; budget is per window
        options.update(return_timestamps=True, condition_on_prev_tokens=False)
    else:  # as max_length (prompt included), so transformers does not warn about both
        options["max_length"] = PROMPT_TOKENS + token_budget(seconds)
    return options


def token_budget(seconds: float) -> int:
    """Most tokens a clip of this length can need: 8 per second, 24 at least, and
    within Whisper's 448 positions (less the 4-token prompt)."""
    return int(min(448 - PROMPT_TOKENS, max(24, math.ceil(seconds * TOKENS_PER_SECOND))))


def loudest_frame_dbfs(waveform: np.ndarray, frame: int = 480) -> float:
    """Level of the loudest 30 ms frame, in dB relative to full scale."""
    usable = len(waveform) // frame * frame
    frames = waveform[:usable].reshape(-1, frame) if usable else waveform[None]
    rms = float(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)).max())
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def first_step(asr, features: torch.Tensor, language: str | None = None):
    """One decoder step after <|startoftranscript|>: Whisper's language guess and its
    no-speech probability both come from these logits (as in OpenAI's code)."""
    config = asr.model.generation_config
    sot = torch.tensor([[config.decoder_start_token_id]], device=asr.device)
    with torch.inference_mode():
        logits = asr.model(input_features=features[:1], decoder_input_ids=sot).logits[0, -1]
    probs = logits.float().softmax(-1)
    no_speech = float(probs[config.no_timestamps_token_id - 1])  # <|nospeech|> precedes <|notimestamps|>
    if language is not None:
        return language, None, no_speech
    codes = list(config.lang_to_id)
    ids = torch.tensor([config.lang_to_id[c] for c in codes], device=probs.device)
    lang_probs = probs[ids] / probs[ids].sum()
    best = int(lang_probs.argmax())
    return codes[best].strip("<|>"), float(lang_probs[best]), no_speech


def _features(asr, waveform: np.ndarray, long_form: bool) -> dict:
    extra = {"truncation": False, "padding": "longest", "return_attention_mask": True} if long_form else {}
    inputs = asr.processor(waveform, sampling_rate=SAMPLING_RATE, return_tensors="pt", **extra)
    keep = ("input_features", "attention_mask") if long_form else ("input_features",)
    return {k: inputs[k].to(asr.device) for k in keep}
