"""The cascade: speech -> English text -> English speech.

Introduced in ``03_speech_to_speech``; ``07_three_stage`` adds ``target`` and
``design``: the three-stage design (:mod:`s2st_helpers.three_stage`) transcribes,
translates the text and speaks any target in :mod:`s2st_helpers.languages`.
:func:`speech_to_speech_translation` keeps the tutorial's contract, ``(16000, int16
array)``, which is what Gradio's ``gr.Audio`` plays without a conversion warning. The returned tuple also carries the text, the
detected language and per-stage timings as attributes, for callers that want them.
:func:`speech_to_speech_translation_stream` yields the speech in blocks as it is
made, for players that can start before the end (``06_speed``); over 30 s it speaks
each segment of the recording while the next is being translated.

Both run the plain tier with ``preset="exact"`` and the speed layer with
``preset="fast"`` (the default): one preset, in :class:`SpeechOptions`, selects the
tier for both stages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from . import languages, settings
from .audio import SAMPLING_RATE, load_audio, to_int16
from .languages import ENGLISH
from .models import load_asr
from .speakers import load_speaker
from .synthesis import PAUSE_SECONDS, SpeechOptions, synthesise_stream
from .three_stage import check_design, speak, translate_text
from .translation import WINDOW_SECONDS, translate_details


class S2STResult(tuple):
    """``(sampling_rate, int16 audio)`` with ``.text`` (what was spoken), ``.language``
    (heard), ``.timings`` and, from the three-stage design, ``.transcript`` (what
    Whisper heard, before the text was translated)."""

    text: str
    language: str | None
    timings: dict
    transcript: str | None

    def __new__(cls, sampling_rate: int, audio: np.ndarray, text: str, language, timings: dict,
                transcript: str | None = None):
        self = super().__new__(cls, (sampling_rate, audio))
        self.text, self.language, self.timings, self.transcript = text, language, timings, transcript
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
                                 target: str = ENGLISH, design: str | None = None,
                                 options: SpeechOptions | None = None, generate_kwargs: dict | None = None,
                                 progress: Callable[[float, float], None] | None = None, **changes) -> S2STResult:
    """Translate speech in any language into English speech (or, with ``target``,
    into another language of :func:`s2st_helpers.languages.targets`).

    ``design``: "two-stage" (the tutorial's: Whisper translates into English, the
    default for English) or "three-stage" (Whisper transcribes, a text model
    translates; the default for any other target). ``speaker`` is SpeechT5's voice,
    for English.

    Returns ``(16000, int16 array)`` like the tutorial; the result also has ``.text``,
    ``.language``, ``.transcript`` (three-stage) and ``.timings`` (seconds for
    "translate" or "transcribe" and "machine translation", "synthesise", "first
    audio" and "total"). When nothing is said (silence, noise) the array is empty
    (zero-length) and ``.text == ""``: check ``result.text`` before playing it.
    ``options`` (or keywords such as ``seed=0``, ``preset="exact"``): see
    :class:`~s2st_helpers.synthesis.SpeechOptions`; the seed also seeds Whisper's
    fallback to sampling, so ``seed=0`` repeats the text as well as the voice. (Not
    under ``preset="exact"`` for a recording over 30 s: its windows are translated in
    a background thread, and the plain tier's seeding of PyTorch's global generator
    there would change the voice SpeechT5 draws from it here.) ``generate_kwargs`` go
    to Whisper.
    ``progress(seconds_done, seconds_total)`` is called after each 30 s window of a
    recording longer than one.
    """
    blocks = list(speech_to_speech_translation_stream(audio, speaker=speaker, sampling_rate=sampling_rate,
                                                      target=target, design=design, options=options,
                                                      generate_kwargs=generate_kwargs, progress=progress, **changes))
    last = blocks[-1]  # its text and timings are the final ones
    return S2STResult(SAMPLING_RATE, np.concatenate([b[1] for b in blocks]), last.text, last.language,
                      last.timings, last.transcript)


def speech_to_speech_translation_stream(audio, *, speaker=None, sampling_rate: int | None = None,
                                        target: str = ENGLISH, design: str | None = None,
                                        options: SpeechOptions | None = None,
                                        generate_kwargs: dict | None = None,
                                        progress: Callable[[float, float], None] | None = None,
                                        **changes) -> Iterator[S2STResult]:
    """Like :func:`speech_to_speech_translation`, yielding ``(16000, int16 block)``
    results as the speech is made; each carries the ``.text`` spoken so far, the
    ``.language``, the ``.transcript`` so far and the timings so far. Nothing said
    yields one empty block.

    A recording over 30 s is translated window by window in a background thread
    (:func:`~s2st_helpers.long_form.translate_ahead`), and each segment is spoken
    while the next window is translated: the first audio comes after about one
    window, not after the whole file. Joined, the text is :func:`translate`'s.
    """
    # bad options, targets and speakers fail before any model runs
    options = SpeechOptions.make(options, **changes)
    if "seed" in (generate_kwargs or {}):
        raise TypeError("seed is one of the cascade's options (seed=...), not a generate_kwargs entry")
    to = languages.target(target)
    three_stage = check_design(design, to) == "three-stage"
    voice = load_speaker(speaker) if to.iso3 == ENGLISH else None
    waveform = load_audio(audio, sampling_rate)
    timings: dict = ({"transcribe": 0.0, "machine translation": 0.0} if three_stage else {"translate": 0.0})
    timings["synthesise"] = 0.0
    heard = "transcribe" if three_stage else "translate"
    generate_kwargs = {**(generate_kwargs or {}), **({"task": "transcribe"} if three_stage else {})}
    start = time.perf_counter()
    if len(waveform) > WINDOW_SECONDS * SAMPLING_RATE:
        # the plain tier seeds PyTorch's global generator, which SpeechT5 draws from in
        # this thread while the windows are translated in another: not seeded there
        seed = None if settings.preset(options.preset) == "exact" else options.seed
        pieces = _long_pieces(waveform, timings, heard, progress,
                              {"preset": options.preset, "seed": seed, **generate_kwargs})
    else:
        pieces = _short_piece(waveform, timings, heard, options, generate_kwargs)

    spoken, transcript, language = [], [], None
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLING_RATE), dtype=np.int16)
    for text, piece_language in pieces:
        language = language or piece_language
        if not text:
            continue
        if three_stage:  # stage two: the transcript into the target language
            transcript.append(text)
            with timed(timings, "machine translation"):
                text = translate_text(text, languages.source(piece_language).iso3, to.iso3)
            if not text:
                continue
        if spoken:  # a pause between segments, as between the sentences of one
            yield S2STResult(SAMPLING_RATE, pause, " ".join(spoken), language, dict(timings),
                             _joined(transcript, three_stage))
        spoken.append(text)
        blocks = (synthesise_stream(text, voice, options) if to.iso3 == ENGLISH
                  else speak(text, to.iso3, seed=options.seed))
        while True:
            with timed(timings, "synthesise"):
                block = next(blocks, None)
            if block is None:
                break
            timings.setdefault("first audio", time.perf_counter() - start)
            timings["total"] = time.perf_counter() - start
            yield S2STResult(SAMPLING_RATE, to_int16(block), " ".join(spoken), language, dict(timings),
                             _joined(transcript, three_stage))
    if not spoken:
        timings["first audio"] = timings["total"] = time.perf_counter() - start
        yield S2STResult(SAMPLING_RATE, np.zeros(0, dtype=np.int16), "", language, timings,
                         _joined(transcript, three_stage))


def _joined(transcript: list[str], three_stage: bool) -> str | None:
    return " ".join(transcript) if three_stage else None


def _short_piece(waveform, timings, heard, options, generate_kwargs):
    """Up to 30 s: one translation (or transcript), one piece of text."""
    with timed(timings, heard):
        result = translate_details(waveform, sampling_rate=SAMPLING_RATE, preset=options.preset, seed=options.seed,
                                   **generate_kwargs)
    yield result.text, result.language


def _long_pieces(waveform, timings, heard, progress, generate_kwargs):
    """Over 30 s: the segments, as the background thread translates (or transcribes) them."""
    from .long_form import Progress, translate_ahead

    for item in translate_ahead(load_asr(), waveform, timings=timings, timing=heard, **generate_kwargs):
        if isinstance(item, Progress):
            if progress is not None:
                progress(item.done, item.total)
        else:
            yield item.text, item.language if item.text else None
