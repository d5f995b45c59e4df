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
from .whisper_greedy import WhisperSteps

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
    window = features["input_features"][:1, :, : 100 * WINDOW_SECONDS]  # 100 frames a second
    with torch.inference_mode():  # encoded once: the first step and the decoding share it
        encoded = asr.model.get_encoder()(window)
        steps = WhisperSteps(asr.model, encoded.last_hidden_state)
    language, language_p, no_speech_p = first_step(asr, steps, generate_kwargs.pop("language", None))
    if no_speech_p > no_speech_threshold:
        return Translation("", language, language_p, no_speech_p, seconds)

    options = guard_options(seconds, long_form)
    options.update(task="translate", language=language)
    options.update(generate_kwargs)
    with torch.inference_mode():
        if long_form:  # each 30 s window is encoded inside generate
            ids = asr.model.generate(**features, **options)
        else:
            ids = _generate_short(asr, steps, encoded, features, options)
    if not torch.is_tensor(ids):  # long-form with return_dict_in_generate
        ids = ids["sequences"]
    text = asr.processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
    return Translation(text, language, language_p, no_speech_p, seconds)


def translate_with_generate(audio, *, sampling_rate: int | None = None, model: str | None = None,
                            device=None, **generate_kwargs) -> str:
    """The same greedy translation in one plain ``generate`` call that encodes the
    features and detects the language itself: the unoptimised path that the tests
    and the speed benchmark compare :func:`translate` with (clips up to 30 s; no
    silence gates)."""
    waveform = load_audio(audio, sampling_rate)
    seconds = len(waveform) / SAMPLING_RATE
    if seconds > WINDOW_SECONDS:
        raise ValueError(f"translate_with_generate takes clips up to {WINDOW_SECONDS} s, got {seconds:.1f} s")
    asr = load_asr(model, device)
    options = guard_options(seconds)
    options.update(task="translate", **generate_kwargs)
    with torch.inference_mode():
        ids = asr.model.generate(**_features(asr, waveform, False), **options)
    return asr.processor.batch_decode(ids, skip_special_tokens=True)[0].strip()


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


def _generate_short(asr, steps: WhisperSteps, encoded, features: dict, options: dict) -> torch.Tensor:
    """Whisper's ``generate`` with its temperature fallback, reusing the encoder output.

    The first, greedy pass runs on the first step's state (:mod:`whisper_greedy`;
    ``generate`` with the encoder output for options that loop does not cover) and is
    judged with transformers' own compression ratio; only a pass that fails goes back
    to ``generate`` with the rest of the ladder (transformers cannot fall back when
    given ``encoder_outputs``). Greedy uses no random numbers, so the result is the
    one a single ``generate`` call would give.
    """
    options = dict(options)
    ladder = options.pop("temperature", 0.0)
    ladder = tuple(ladder) if isinstance(ladder, (tuple, list)) else (ladder,)
    threshold = options.pop("compression_ratio_threshold", None)
    if ladder[0] != 0.0:  # sampling from the start: nothing to reuse
        return asr.model.generate(**features, temperature=ladder, compression_ratio_threshold=threshold,
                                  **options)
    prompt = _greedy_prompt(asr, options)
    if prompt is not None:
        ids = steps.greedy(prompt, new_token_cap(asr, options))
    else:
        ids = asr.model.generate(encoder_outputs=encoded, temperature=0.0, **options)
    if threshold is None or len(ladder) == 1 or compression_ratio(asr, ids, options) <= threshold:
        return ids
    return asr.model.generate(**features, temperature=ladder[1:], compression_ratio_threshold=threshold,
                              **options)


def _greedy_prompt(asr, options: dict) -> list[int] | None:
    """The prompt for the written-out greedy loop, or None where only ``generate``
    does what was asked (beams, language names, other generation options)."""
    config = asr.model.generation_config
    language, task = options.get("language"), options.get("task", "translate")
    if set(options) - {"num_beams", "max_length", "task", "language"} or options.get("num_beams", 1) != 1:
        return None
    if f"<|{language}|>" not in config.lang_to_id or task not in config.task_to_id:
        return None
    return [config.decoder_start_token_id, config.lang_to_id[f"<|{language}|>"], config.task_to_id[task],
            config.no_timestamps_token_id]


def new_token_cap(asr, options: dict) -> int:
    """Most tokens a short-form ``generate`` call makes after the 4-token prompt.
    Whisper's ``generate`` adds the prompt's length to ``max_length`` (so the guard's
    budget of n tokens allows n + 4), within the model's 448 positions."""
    positions = asr.model.config.max_target_positions
    if options.get("max_new_tokens"):
        return min(options["max_new_tokens"], positions - PROMPT_TOKENS)
    max_length = options.get("max_length") or asr.model.generation_config.max_length
    return min(max_length + PROMPT_TOKENS, positions) - PROMPT_TOKENS


def compression_ratio(asr, ids: torch.Tensor, options: dict) -> float:
    """transformers' compression ratio of a short-form result: the tokens after the
    prompt, with the end-of-text token when decoding stopped on it."""
    tokens = ids[0]
    if len(tokens) < new_token_cap(asr, options):  # stopped on <|endoftext|>, which generate strips
        eos = torch.tensor([asr.model.generation_config.eos_token_id], device=tokens.device)
        tokens = torch.cat([tokens, eos])
    return asr.model._retrieve_compression_ratio(tokens, asr.model.config.vocab_size)


def first_step(asr, steps: WhisperSteps, language: str | None = None):
    """One decoder step after <|startoftranscript|>: Whisper's language guess and its
    no-speech probability both come from these logits (as in OpenAI's code).
    ``steps``: the decoder over the first 30 s window (it keeps this step's state)."""
    config = asr.model.generation_config
    with torch.inference_mode():
        logits = steps.feed([config.decoder_start_token_id])
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
