"""Speech in ~96 languages to English text with Whisper (task "translate").

Introduced in ``01_speech_translation``, which first runs the tutorial's ASR pipeline
and shows where it breaks on real speech. This is the plain tier: the processor,
one decoder step for the language and the no-speech probability, then the model's
own ``generate``, each as 01 calls it. What it adds to the pipeline, and why:

* Beam search with 5 beams, as the transformers 5 pipeline decodes, but guarded
  (below): on read speech it translates better than greedy decoding. On 27 real
  clips on 2 CPU cores, the plain tier's ``generate`` took 3.4 times the speed
  layer's greedy time; the speed layer decodes the five beams as one batch and
  took 1.1 times (``benchmarks/beam_search.py``).
  ``num_beams=1`` (greedy) is one argument away.
* A runaway guard: on real speech whisper-base sometimes loops ("it has been
  reported that it has been reported ..."). OpenAI's compression-ratio threshold
  with temperature fallback catches a loop, and a token budget that grows with the
  audio's length cuts it short before the fallback runs. The fallback samples:
  ``seed=0`` repeats its draws (the speed layer draws from a generator of its own,
  so a background thread cannot disturb them).
* Silence gives "" rather than " . . . ." or "you": a level gate, then OpenAI's
  no-speech rule: nothing was said when Whisper's no-speech probability (read from
  the step that detects the language) is above 0.6 *and* the text it then decodes
  has an average log-probability below -1.
* Over 30 s, the recording is translated window by window (:mod:`long_form`),
  each window judged by the same rule, where the pipeline now raises an error.

``preset="fast"`` (the default; see :mod:`s2st_helpers.fast`) gives the same text
with the encoder run once per 30 s window and the decoding written out (beam search
with the beams as one batch, or greedy; with timestamps for a long recording's
windows).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE

from . import settings
from .audio import SAMPLING_RATE, load_audio, loudest_frame_dbfs
from .models import load_asr

#: OpenAI Whisper's fallback ladder; transformers measures compression on token bytes,
#: where 1.35 plays the part of OpenAI's 2.4 on text (see the generate docstring).
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
COMPRESSION_RATIO_THRESHOLD = 1.35
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0  # with the above: OpenAI's rule for "nothing was said"
SILENCE_DBFS = -60.0  # loudest 30 ms frame below this: nothing to hear
BEAMS = 5  # the pipeline's default since transformers 5
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
              model: str | None = None, device=None, preset: str | None = None, seed: int | None = None,
              **generate_kwargs):
    """Translate speech into English text.

    ``audio``: a path, bytes, an array with ``sampling_rate``, a dict, or a datasets
    audio value (see :func:`s2st_helpers.audio.load_audio`). Extra keyword arguments go
    to Whisper's ``generate`` (``num_beams=5``, ``language="it"``, ``task="transcribe"``...).
    ``seed``: makes the text repeatable where the guard falls back to sampling (the
    plain tier calls ``torch.manual_seed(seed)`` before ``generate``, as notebook 01
    does; the speed layer samples from a generator of its own and leaves PyTorch's
    global one alone).
    Returns the text, or ``(text, language)`` with ``return_language=True``.
    """
    result = translate_details(audio, sampling_rate=sampling_rate, model=model, device=device, preset=preset,
                               seed=seed, **generate_kwargs)
    return (result.text, result.language) if return_language else result.text


def translate_details(audio, *, sampling_rate: int | None = None, model: str | None = None,
                      device=None, preset: str | None = None, no_speech_threshold: float = NO_SPEECH_THRESHOLD,
                      progress: Callable[[float, float], None] | None = None, seed: int | None = None,
                      **generate_kwargs) -> Translation:
    """Like :func:`translate`, returning a :class:`Translation` with the language and
    no-speech probability. ``progress(seconds_done, seconds_total)`` is called after
    each 30 s window of a long recording."""
    seed = check_seed(seed)
    check_beams(generate_kwargs.get("num_beams"))
    waveform = load_audio(audio, sampling_rate)
    seconds = len(waveform) / SAMPLING_RATE
    if loudest_frame_dbfs(waveform) < SILENCE_DBFS:
        return Translation("", None, None, 1.0, seconds)

    asr = load_asr(model, device)
    if generate_kwargs.get("language") is not None:  # a name as its code: what the loops and the no-speech rule read
        generate_kwargs["language"] = language_code(asr, generate_kwargs["language"])
    if seconds > WINDOW_SECONDS:
        from .long_form import translate_windows

        segments = list(translate_windows(asr, waveform, no_speech_threshold=no_speech_threshold, progress=progress,
                                          preset=preset, seed=seed, **generate_kwargs))
        spoken = [s for s in segments if s.text] or segments
        return Translation(" ".join(s.text for s in spoken).strip(), spoken[0].language if spoken else None, None,
                           min((s.no_speech_probability for s in spoken), default=1.0), seconds)

    features = whisper_features(asr, waveform)
    window = features["input_features"]
    preset = settings.preset(preset)
    steps, logits = first_step(asr, window, preset)
    language, language_p, no_speech_p = read_first_step(asr, logits, generate_kwargs.pop("language", None))

    options = guard_options(seconds)
    options.update(task="translate", language=language)
    options.update(generate_kwargs)
    ids = decode(asr, steps, features, options, seed)
    encoded = steps.encoded if preset == "fast" else None  # float32: the plain tier's encoding
    if is_no_speech(no_speech_p, lambda: average_logprob(asr, window, ids[0].tolist(), language, options["task"],
                                                         encoded=encoded), no_speech_threshold):
        return Translation("", language, language_p, no_speech_p, seconds)
    text = asr.processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
    return Translation(text, language, language_p, no_speech_p, seconds)


def check_seed(seed) -> int | None:
    """A seed is an integer (or None) in the range ``torch.manual_seed`` takes;
    returned as a Python int (``torch.Generator.manual_seed`` takes no NumPy one)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if not -2**63 <= seed < 2**64:
        raise ValueError(f"seed must be within [-2**63, 2**64), got {seed}")
    return int(seed)


def check_beams(num_beams) -> None:
    """``num_beams`` is None (the default, 5) or a whole number, at least 1 (greedy).
    ``generate`` takes 0 or -1 without a word and decodes greedily."""
    if num_beams is None:
        return
    if isinstance(num_beams, bool) or not isinstance(num_beams, numbers.Integral):
        raise TypeError(f"num_beams must be a whole number, got {type(num_beams).__name__}")
    if num_beams < 1:
        raise ValueError(f"num_beams must be at least 1 (1 is greedy decoding), got {num_beams}")


def is_no_speech(no_speech_p: float, average_logprob: Callable[[], float],
                 threshold: float = NO_SPEECH_THRESHOLD) -> bool:
    """OpenAI's rule: nothing was said when the no-speech probability is above the
    threshold *and* the decoded text is unlikely (average log-probability below -1).
    Confident text is kept even when Whisper thought it heard silence. The
    log-probability is computed only when the first test fails to settle it."""
    return no_speech_p > threshold and average_logprob() < LOGPROB_THRESHOLD


def average_logprob(asr, window: torch.Tensor, tokens: list[int], language: str | None, task: str,
                    timestamps: bool = False, encoded=None) -> float:
    """Mean log-probability Whisper gives the decoded ``tokens`` and the end-of-text
    token after them, in one decoder pass over the prompt and the tokens (as OpenAI
    averages it). -inf when the prompt cannot be built (an unknown language name).
    ``encoded``: the encoder's output for ``window`` where the caller has it in float32
    (the ``fast`` preset), so that the encoder is not run again."""
    config = asr.model.generation_config
    eos = config.eos_token_id
    tokens = [t for t in tokens if t != eos]
    if f"<|{language}|>" not in config.lang_to_id or task not in config.task_to_id:
        return -math.inf
    prompt = [config.decoder_start_token_id, config.lang_to_id[f"<|{language}|>"], config.task_to_id[task]]
    prompt += [] if timestamps else [config.no_timestamps_token_id]
    sequence = torch.tensor([prompt + tokens + [eos]], device=asr.device)
    with torch.inference_mode():
        inputs = {"input_features": window} if encoded is None else {"encoder_outputs": encoded}
        logits = asr.model(**inputs, decoder_input_ids=sequence[:, :-1]).logits[0]
    logprobs = logits.float().log_softmax(-1)[len(prompt) - 1:]
    return float(logprobs.gather(-1, sequence[0, len(prompt):, None]).mean())


def guard_options(seconds: float) -> dict:
    """Generation options of the runaway guard (beam search with 5 beams by
    default). The cap is given as max_length, the budget plus the 4-token prompt, so
    transformers does not warn about two limits; Whisper's ``generate`` adds the
    prompt's length to it again, so up to budget + 4 new tokens are made (both tiers
    alike: ``fast.whisper_steps.new_token_cap``)."""
    return {"num_beams": BEAMS, "temperature": TEMPERATURES, "compression_ratio_threshold": COMPRESSION_RATIO_THRESHOLD,
            "max_length": PROMPT_TOKENS + token_budget(seconds)}


def token_budget(seconds: float) -> int:
    """Most tokens a clip of this length can need: 8 per second, 24 at least, and
    within Whisper's 448 positions (less the 4-token prompt)."""
    return int(min(448 - PROMPT_TOKENS, max(24, math.ceil(seconds * TOKENS_PER_SECOND))))


def first_step_logits(asr, window: torch.Tensor) -> torch.Tensor:
    """Next-token logits after <|startoftranscript|>, for one 30 s window of features."""
    start = torch.tensor([[asr.model.generation_config.decoder_start_token_id]], device=asr.device)
    with torch.inference_mode():
        return asr.model(input_features=window, decoder_input_ids=start).logits[0, -1]


def first_step(asr, window: torch.Tensor, preset: str):
    """The first step's logits and, under the speed presets, the decoder state that
    goes on from it, so that the first step and the decoding share one encoding (in
    bfloat16 under "fastest"). Returns (state or None, logits)."""
    if preset == "exact":
        return None, first_step_logits(asr, window)
    from .fast.whisper_steps import WhisperDecoderSteps

    steps = WhisperDecoderSteps.encode(asr.model, window, preset == "fastest")
    return steps, steps.feed([asr.model.generation_config.decoder_start_token_id])


def decode(asr, steps, features: dict, options: dict, seed: int | None = None) -> torch.Tensor:
    """The guarded decoding: the plain tier's one ``generate`` call, or the speed layer
    going on from the first step's state ``steps`` (see :func:`first_step`). ``seed``
    seeds the fallback's sampling; the speed layer draws it from a generator of its
    own, with the same result."""
    with torch.inference_mode():
        if steps is None:
            if seed is not None:
                torch.manual_seed(seed)
            return asr.model.generate(**features, **options)
        from .fast.whisper_steps import generate_short

        return generate_short(asr, steps, features, options, seed)


def read_first_step(asr, logits: torch.Tensor, language: str | None = None):
    """Whisper's language guess and its no-speech probability both come from the
    logits of the first step (as in OpenAI's code). Returns (language, its
    probability, no-speech probability); a given ``language`` (a code: see
    :func:`language_code`) is kept."""
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


def language_code(asr, language: str) -> str:
    """Whisper's code for a language given as ``generate`` takes it: a code ("de"), a
    name ("german", "German") or a token ("<|de|>")."""
    if not isinstance(language, str):
        raise TypeError(f"language must be a string such as 'de' or 'german', got {type(language).__name__}")
    name = language.lower().removeprefix("<|").removesuffix("|>")
    if f"<|{name}|>" in asr.model.generation_config.lang_to_id:
        return name
    if name in TO_LANGUAGE_CODE:
        return TO_LANGUAGE_CODE[name]
    raise ValueError(f"Whisper does not know the language {language!r}: give a code such as 'de' or a name "
                     "such as 'german'")


def whisper_features(asr, waveform) -> dict:
    """The processor's log-mel features of one window (up to 30 s, padded), on the
    model's device."""
    inputs = asr.processor(waveform, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    return {"input_features": inputs["input_features"].to(asr.device)}
