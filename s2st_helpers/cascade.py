"""The cascade: speech -> English text -> English speech.

Introduced in ``03_speech_to_speech``. :func:`speech_to_speech_translation` keeps the
tutorial's contract, ``(16000, int16 array)``, which is what Gradio's ``gr.Audio``
plays without a conversion warning. The returned tuple also carries the text, the
detected language and per-stage timings as attributes, for callers that want them.
:func:`speech_to_speech_translation_stream` yields the speech in blocks as it is
made, for players that can start before the end (``06_speed``).

Both run the plain tier with ``preset="exact"`` and the speed layer with
``preset="fast"`` (the default): one preset, in :class:`SpeechOptions`, selects the
tier for both stages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .audio import SAMPLING_RATE, to_int16
from .speakers import load_speaker
from .synthesis import SpeechOptions, synthesise_stream
from .translation import translate_details


class S2STResult(tuple):
    """``(sampling_rate, int16 audio)`` with ``.text``, ``.language`` and ``.timings``."""

    text: str
    language: str | None
    timings: dict

    def __new__(cls, sampling_rate: int, audio: np.ndarray, text: str, language, timings: dict):
        self = super().__new__(cls, (sampling_rate, audio))
        self.text, self.language, self.timings = text, language, timings
        return self


def format_timings(timings: dict) -> str:
    """``{"translate": 0.51, ...}`` -> ``"translate 0.51 s, ..."``."""
    return ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())


@contextmanager
def timed(timings: dict, name: str):
    """Add the seconds spent in the block to ``timings[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def speech_to_speech_translation(audio, *, speaker=None, sampling_rate: int | None = None,
                                 options: SpeechOptions | None = None, generate_kwargs: dict | None = None,
                                 **changes) -> S2STResult:
    """Translate speech in any language into English speech.

    Returns ``(16000, int16 array)`` like the tutorial; the result also has ``.text``,
    ``.language`` and ``.timings`` (seconds for "translate", "synthesise", "first
    audio" and "total"). Silence gives an empty (zero-length) waveform and ``.text == ""``.
    ``options`` (or keywords such as ``seed=0``, ``preset="exact"``): see
    :class:`~s2st_helpers.synthesis.SpeechOptions`. ``generate_kwargs`` go to Whisper.
    """
    blocks = list(speech_to_speech_translation_stream(audio, speaker=speaker, sampling_rate=sampling_rate,
                                                      options=options, generate_kwargs=generate_kwargs, **changes))
    last = blocks[-1]  # its timings are the final ones
    return S2STResult(SAMPLING_RATE, np.concatenate([b[1] for b in blocks]), last.text, last.language,
                      last.timings)


def speech_to_speech_translation_stream(audio, *, speaker=None, sampling_rate: int | None = None,
                                        options: SpeechOptions | None = None,
                                        generate_kwargs: dict | None = None, **changes) -> Iterator[S2STResult]:
    """Like :func:`speech_to_speech_translation`, yielding ``(16000, int16 block)``
    results as the speech is made; each carries ``.text``, ``.language`` and the
    timings so far. Silence yields one empty block."""
    options = SpeechOptions.make(options, **changes)  # bad options and speakers fail before any model runs
    voice = load_speaker(speaker)
    timings: dict = {}
    start = time.perf_counter()
    with timed(timings, "translate"):
        result = translate_details(audio, sampling_rate=sampling_rate, preset=options.preset,
                                   **(generate_kwargs or {}))
    if not result.text:
        timings["synthesise"] = 0.0
        timings["first audio"] = timings["total"] = time.perf_counter() - start
        yield S2STResult(SAMPLING_RATE, np.zeros(0, dtype=np.int16), "", result.language, timings)
        return
    blocks = synthesise_stream(result.text, voice, options)
    synthesis_start = time.perf_counter()
    for block in blocks:
        now = time.perf_counter()
        timings.setdefault("first audio", now - start)
        timings["synthesise"] = now - synthesis_start
        timings["total"] = now - start
        yield S2STResult(SAMPLING_RATE, to_int16(block), result.text, result.language, dict(timings))
