"""The cascade: speech -> English text -> English speech.

Introduced in ``03_speech_to_speech``. :func:`speech_to_speech_translation` keeps the
tutorial's contract, ``(16000, int16 array)``, which is what Gradio's ``gr.Audio``
plays without a conversion warning. The returned tuple also carries the text, the
detected language and per-stage timings as attributes, for callers that want them.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np

from .audio import SAMPLING_RATE, to_int16
from .speakers import load_speaker
from .synthesis import synthesise
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
                                 threshold: float = 0.5, minlenratio: float = 0.0,
                                 maxlenratio: float | None = None, seed: int | None = None,
                                 generate_kwargs: dict | None = None) -> S2STResult:
    """Translate speech in any language into English speech.

    Returns ``(16000, int16 array)`` like the tutorial; the result also has ``.text``,
    ``.language`` and ``.timings`` (seconds for "translate", "synthesise", "total").
    Silence gives an empty (zero-length) waveform.
    """
    voice = load_speaker(speaker)  # a bad speaker fails before any model runs
    timings: dict = {}
    with timed(timings, "total"):
        with timed(timings, "translate"):
            result = translate_details(audio, sampling_rate=sampling_rate, **(generate_kwargs or {}))
        with timed(timings, "synthesise"):
            if result.text:
                speech = synthesise(result.text, voice, threshold=threshold, minlenratio=minlenratio,
                                    maxlenratio=maxlenratio, seed=seed)
            else:
                speech = np.zeros(0, dtype=np.float32)
    return S2STResult(SAMPLING_RATE, to_int16(speech), result.text, result.language, timings)
