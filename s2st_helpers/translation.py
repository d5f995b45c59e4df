"""Speech in ~96 languages to English text with Whisper (task "translate").

Introduced in ``01_speech_translation``, which first runs the tutorial's ASR pipeline
and shows where it breaks on real speech. This is the plain tier: the processor,
one decoder step for the language and the no-speech probability, then the model's
own ``generate``, each as 01 calls it. What it adds to the pipeline, and why:

* Greedy decoding (``num_beams=1``): transformers 5 made the pipeline default to
  beam search with 5 beams, about twice the time on a CPU. ``num_beams=5`` is one
  argument away.
* A runaway guard: on real speech whisper-base sometimes loops ("it has been
  reported that it has been reported ..."). OpenAI's compression-ratio threshold
  with temperature fallback catches a loop, and a token budget that grows with the
  audio's length cuts it short before the fallback runs.
* Silence gives "" rather than " . . . ." or "you": a level gate, then Whisper's
  own no-speech probability, read from the step that detects the language.
* Over 30 s, Whisper's own sequential long-form decoding, where the pipeline now
  raises an error.

``preset="fast"`` (the default; see :mod:`s2st_helpers.fast`) gives the same text
from a clip up to 30 s with the encoder run once and a written-out greedy loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import settings
from .audio import SAMPLING_RATE, load_audio, loudest_frame_dbfs
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
              model: str | None = None, device=None, preset: str | None = None, **generate_kwargs):
    """Translate speech into English text.

    ``audio``: a path, bytes, an array with ``sampling_rate``, a dict, or a datasets
    audio value (see :func:`s2st_helpers.audio.load_audio`). Extra keyword arguments go
    to Whisper's ``generate`` (``num_beams=5``, ``language="it"``, ``task="transcribe"``...).
    Returns the text, or ``(text, language)`` with ``return_language=True``.
    """
    result = translate_details(audio, sampling_rate=sampling_rate, model=model, device=device, preset=preset,
                               **generate_kwargs)
    return (result.text, result.language) if return_language else result.text


def translate_details(audio, *, sampling_rate: int | None = None, model: str | None = None,
                      device=None, preset: str | None = None,
                      no_speech_threshold: float = NO_SPEECH_THRESHOLD, **generate_kwargs) -> Translation:
    """Like :func:`translate`, returning a :class:`Translation` with the language and
    no-speech probability."""
    waveform = load_audio(audio, sampling_rate)
    seconds = len(waveform) / SAMPLING_RATE
    if loudest_frame_dbfs(waveform) < SILENCE_DBFS:
        return Translation("", None, None, 1.0, seconds)

    asr = load_asr(model, device)
    long_form = seconds > WINDOW_SECONDS
    features = whisper_features(asr, waveform, long_form)
    window = features["input_features"][:1, :, : 100 * WINDOW_SECONDS]  # 100 frames a second
    steps = None
    if settings.preset(preset) == "fast" and not long_form:
        from .fast.whisper_steps import WhisperDecoderSteps, generate_short

        steps = WhisperDecoderSteps.encode(asr.model, window)  # the first step and the decoding share it
        logits = steps.feed([asr.model.generation_config.decoder_start_token_id])
    else:
        logits = first_step_logits(asr, window)
    language, language_p, no_speech_p = read_first_step(asr, logits, generate_kwargs.pop("language", None))
    if no_speech_p > no_speech_threshold:
        return Translation("", language, language_p, no_speech_p, seconds)

    options = guard_options(seconds, long_form)
    options.update(task="translate", language=language)
    options.update(generate_kwargs)
    with torch.inference_mode():
        if steps is not None:  # the speed layer goes on from the first step's state
            ids = generate_short(asr, steps, features, options)
        else:  # the plain tier: one generate call with the guard (long-form encodes each window in it)
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


def first_step_logits(asr, window: torch.Tensor) -> torch.Tensor:
    """Next-token logits after <|startoftranscript|>, for one 30 s window of features."""
    start = torch.tensor([[asr.model.generation_config.decoder_start_token_id]], device=asr.device)
    with torch.inference_mode():
        return asr.model(input_features=window, decoder_input_ids=start).logits[0, -1]


def read_first_step(asr, logits: torch.Tensor, language: str | None = None):
    """Whisper's language guess and its no-speech probability both come from the
    logits of the first step (as in OpenAI's code). Returns (language, its
    probability, no-speech probability); a given ``language`` is kept."""
    config = asr.model.generation_config
    probs = logits.float().softmax(-1)
    no_speech = float(probs[config.no_timestamps_token_id - 1])  # <|nospeech|> precedes <|notimestamps|>
    if language is not None:
        return language, None, no_speech
    codes = list(config.lang_to_id)
    ids = torch.tensor([config.lang_to_id[c] for c in codes], device=probs.device)
    lang_probs = probs[ids] / probs[ids].sum()
    best = int(lang_probs.argmax())
    return codes[best].strip("<|>"), float(lang_probs[best]), no_speech


def whisper_features(asr, waveform, long_form: bool) -> dict:
    """The processor's log-mel features, on the model's device (long-form keeps the
    whole recording and its attention mask)."""
    extra = {"truncation": False, "padding": "longest", "return_attention_mask": True} if long_form else {}
    inputs = asr.processor(waveform, sampling_rate=SAMPLING_RATE, return_tensors="pt", **extra)
    keep = ("input_features", "attention_mask") if long_form else ("input_features",)
    return {k: inputs[k].to(asr.device) for k in keep}
