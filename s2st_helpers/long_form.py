"""Recordings longer than one 30 s window, translated window by window.

Introduced in ``01_speech_translation`` (long recordings) and used by the cascade in
``03_speech_to_speech`` to speak the first sentences of a long recording while the
rest is still being translated. The loop is OpenAI Whisper's: decode a 30 s window
with timestamps, keep the segments it finished, and start the next window where the
last finished segment ended (a segment cut off by the window's end is decoded again,
whole, in the next one). Each window is judged on its own by the no-speech rule of
:mod:`s2st_helpers.translation`, so applause or silence at the start of a lecture
skips that window and nothing else. Under the speed presets each window is encoded
once and decoded by :mod:`s2st_helpers.fast.whisper_steps` (under ``fast``, with the
plain tier's tokens; ``fastest`` encodes in bfloat16).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import settings
from .audio import SAMPLING_RATE, loudest_frame_dbfs
from .translation import (NO_SPEECH_THRESHOLD, SILENCE_DBFS, WINDOW_SECONDS, average_logprob, check_seed, decode,
                          first_step, guard_options, is_no_speech, language_code, read_first_step,
                          whisper_features)

WINDOW = WINDOW_SECONDS * SAMPLING_RATE
SAMPLES_PER_TIMESTAMP = SAMPLING_RATE // 50  # Whisper's timestamps step by 20 ms


@dataclass
class Segment:
    """Text Whisper finished in one window (``text`` is "" for a skipped window)."""

    start: float  # seconds from the start of the recording
    end: float
    text: str
    language: str | None
    no_speech_probability: float
    window: int  # 0-based index of the window it came from


def translate_windows(asr, waveform: np.ndarray, *, language: str | None = None,
                      no_speech_threshold: float = NO_SPEECH_THRESHOLD,
                      progress: Callable[[float, float], None] | None = None,
                      preset: str | None = None, seed: int | None = None, **generate_kwargs) -> Iterator[Segment]:
    """Yield the segments of a recording of any length, window by window, as they
    are decoded. ``progress(seconds_done, seconds_total)`` is called after each window.
    Extra keyword arguments go to Whisper's ``generate`` (``task``, ``num_beams``...).
    ``preset``: as for :func:`~s2st_helpers.translate` ("fast": each window encoded
    once, and decoded by the speed layer's loops, with the same tokens). ``seed``:
    window k's fallback samples with seed + k, so a window's text does not depend on
    how many draws the windows before it made. The speed presets draw from a generator
    of their own, so the text is repeatable in a background thread too
    (:func:`translate_ahead`); the plain tier seeds PyTorch's global one (so the
    cascade does not give it the seed in its background thread: see
    :func:`~s2st_helpers.cascade.speech_to_speech_translation_stream`)."""
    seed = check_seed(seed)  # here, not at the first window: bad arguments fail at the call
    language = None if language is None else language_code(asr, language)
    return _windows(asr, waveform, language, no_speech_threshold, progress, settings.preset(preset), seed,
                    generate_kwargs)


def _windows(asr, waveform, language, no_speech_threshold, progress, preset, seed, generate_kwargs):
    total = len(waveform) / SAMPLING_RATE
    seek, index = 0, 0
    while seek < len(waveform) - SAMPLING_RATE // 10:  # less than 0.1 s left: nothing to hear
        window = waveform[seek:seek + WINDOW]
        advance = len(window)
        if loudest_frame_dbfs(window) >= SILENCE_DBFS:
            window_seed = None if seed is None else (seed + index) % 2**64  # torch.manual_seed wraps likewise
            found, advance = _decode_window(asr, window, seek, index, language, no_speech_threshold, preset,
                                            window_seed, generate_kwargs)
            yield from found
        seek += max(advance, SAMPLING_RATE)  # always move on, at least a second
        index += 1
        if progress is not None:
            progress(min(seek / SAMPLING_RATE, total), total)


@dataclass
class Progress:
    """How far the translation of a recording has got, in seconds of audio."""

    done: float
    total: float


def translate_ahead(asr, waveform: np.ndarray, *, size: int = 2, timings: dict | None = None,
                    timing: str = "translate", **kwargs) -> Iterator[Segment | Progress]:
    """:func:`translate_windows` in a background thread, so that the caller can
    speak one segment while the next window is being translated.

    Yields the segments in order, with a :class:`Progress` after each window (so a
    progress bar is updated from the caller's thread). At most ``size`` items wait
    in between: the translation runs no further ahead than that. An error in the
    thread is raised here; when the caller stops early, the thread stops after the
    window it is on. ``timings[timing]`` gets the seconds the thread worked.
    """
    items: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()
    finished = object()

    def put(item) -> None:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def work() -> None:
        start = time.perf_counter()
        try:
            for segment in translate_windows(asr, waveform, progress=lambda done, total: put(Progress(done, total)),
                                             **kwargs):
                put(segment)
            outcome = None
        except _Stopped:
            return
        except BaseException as err:  # handed to the caller's thread
            outcome = err
        if timings is not None:
            timings[timing] = time.perf_counter() - start
        try:
            put((finished, outcome))
        except _Stopped:
            pass

    thread = threading.Thread(target=work, name="s2st-translate", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if isinstance(item, tuple) and item[0] is finished:
                if item[1] is not None:
                    raise item[1]
                return
            yield item
    finally:
        stop.set()


class _Stopped(Exception):
    """The caller of translate_ahead went away."""


def _decode_window(asr, window, seek: int, index: int, language, no_speech_threshold, preset, seed,
                   generate_kwargs):
    """Segments of one window, and how many samples it used up."""
    features = whisper_features(asr, window)
    steps, logits = first_step(asr, features["input_features"], preset)
    lang, _, no_speech = read_first_step(asr, logits, language)
    options = guard_options(len(window) / SAMPLING_RATE)
    options["max_length"] -= 1  # the prompt has no <|notimestamps|>: timestamps are on
    options = {**options, "task": "translate", "language": lang, **generate_kwargs, "return_timestamps": True,
               # one decoding of the window: transformers would otherwise decode a cut-off
               # last segment again from the window's remainder; we decode it in the next
               # window, whole
               "force_unique_generate_call": True}
    ids = decode(asr, steps, features, options, seed)[0]
    config = asr.model.generation_config
    timestamp_begin = config.no_timestamps_token_id + 1
    special = set(asr.processor.tokenizer.all_special_ids)  # the prompt and end of text
    tokens = [t for t in ids.tolist() if t >= timestamp_begin or t not in special]
    encoded = steps.encoded if preset == "fast" else None  # float32: the plain tier's encoding
    if is_no_speech(no_speech, lambda: average_logprob(asr, features["input_features"], tokens, lang,
                                                       options["task"], timestamps=True, encoded=encoded),
                    no_speech_threshold):
        return [Segment(seek / SAMPLING_RATE, (seek + len(window)) / SAMPLING_RATE, "", lang, no_speech, index)], \
            len(window)
    pieces, used = split_segments(tokens, timestamp_begin, len(window),
                                  full=len(window) == WINDOW)
    segments = []
    for start, end, text_tokens in pieces:
        text = asr.processor.tokenizer.decode(text_tokens, skip_special_tokens=True).strip()
        if text:
            segments.append(Segment((seek + start) / SAMPLING_RATE, (seek + end) / SAMPLING_RATE, text, lang,
                                    no_speech, index))
    return segments, used


def split_segments(tokens: list[int], timestamp_begin: int, window_samples: int, full: bool = True):
    """Cut one window's tokens at Whisper's timestamps, as OpenAI's ``transcribe`` does.

    Returns ``([(start sample, end sample, text tokens), ...], samples used)``. Two
    timestamps in a row close one segment and open the next. A window that ends on a
    lone timestamp finished its last segment (nothing more was said), and so does one
    with no pair at all: all of it is used. Otherwise the last segment was cut off by
    the window's end: it is dropped, and the next window starts where it began.
    ``full=False`` (the recording's last window) keeps it.
    """
    stamps = [t >= timestamp_begin for t in tokens]
    at = [(t - timestamp_begin) * SAMPLES_PER_TIMESTAMP if s else None for t, s in zip(tokens, stamps)]
    pairs = [i + 1 for i in range(len(tokens) - 1) if stamps[i] and stamps[i + 1]]
    finished = not pairs or stamps[-2:] == [False, True]
    cuts = pairs + [len(tokens)] if finished or not full else pairs
    pieces, begin = [], 0
    for cut in cuts:
        text = [t for t, s in zip(tokens[begin:cut], stamps[begin:cut]) if not s]
        times = [a for a in at[begin:cut] if a is not None]
        if text:
            start = times[0] if times and stamps[begin] else (pieces[-1][1] if pieces else 0)
            end = times[-1] if len(times) > 1 or (times and not stamps[begin]) else window_samples
            pieces.append((start, max(end, start), text))
        begin = cut
    used = window_samples if finished or not full else at[pairs[-1] - 1]
    return pieces, used or window_samples
