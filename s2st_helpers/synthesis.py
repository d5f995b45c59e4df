"""English text to speech with SpeechT5 + HiFi-GAN and a speaker x-vector.

Introduced in ``02_text_to_speech``, which first runs the tutorial's calls (processor,
``generate_speech`` with the vocoder) and shows where they break. This is the plain
tier: the same calls, one chunk of text at a time. What it adds, and why:

* Numbers are spelled out first (SpeechT5's vocabulary has no digits, so "42"
  became one unknown token and was not spoken). num2words does the spelling;
  transformers' own normaliser turns "1,000,000" into "one thousand,".
* SpeechT5's encoder has ``max_text_positions`` (600) positions; longer text
  crashed. Text is split at sentence ends into chunks that fit, and the pieces are
  joined with a short pause.
* ``maxlenratio`` defaults to 10 (upstream: 20; ``S2ST_MAXLENRATIO`` changes it) and
  is clamped so no chunk can ask for more decoder steps than the model has
  positions: a voice whose stop head never fires stops within a bounded time.
* A seed makes the speech repeatable (SpeechT5 keeps dropout on in its decoder
  prenet at inference, so two runs differ otherwise).

The options travel together as one :class:`SpeechOptions`. ``preset="fast"`` (the
default) runs the written-out decoder loop of :mod:`s2st_helpers.fast`, which yields
audio in blocks while the rest is made; ``preset="exact"`` runs ``generate_speech``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from . import settings
from .audio import SAMPLING_RATE
from .models import load_tts
from .speakers import load_speaker
from .translation import check_seed

PAUSE_SECONDS = 0.15  # between chunks, as between sentences in speech

_CURRENCIES = {"$": "USD", "£": "GBP", "€": "EUR"}
_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
_SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+")


def normalise_numbers(text: str) -> str:
    """Spell out numbers: "$3.50" -> "three dollars, fifty cents", "1st" -> "first",
    "50%" -> "fifty percent", "1999" -> "nineteen ninety-nine", "1,000,000" -> "one million"."""
    from num2words import num2words

    def spell(number: str, **kw) -> str:
        value = float(number.replace(",", "")) if "." in number else int(number.replace(",", ""))
        return num2words(value, **kw).replace("-", " ")

    text = re.sub(rf"([$£€])\s?({_NUMBER})",
                  lambda m: spell(m[2], to="currency", currency=_CURRENCIES[m[1]]), text)
    text = re.sub(rf"({_NUMBER})\s?%", lambda m: spell(m[1]) + " percent", text)
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: spell(m[1], to="ordinal"), text)
    text = re.sub(r"\b(1[1-9]\d\d|20\d\d)\b(?![.,]\d)", lambda m: spell(m[1], to="year"), text)
    text = re.sub(rf"\b{_NUMBER}\b", lambda m: spell(m[0]), text)
    return text


def split_sentences(text: str) -> list[str]:
    """Split text after sentence-ending punctuation."""
    return [s for s in (p.strip() for p in _SENTENCE_END.split(text)) if s]


def chunk_text(text: str, count_tokens, limit: int) -> list[str]:
    """Pack sentences into chunks of at most ``limit`` tokens. A sentence that is
    longer on its own is cut at commas, then between words."""
    pieces = []
    for sentence in split_sentences(text):
        pieces += _cut(sentence, count_tokens, limit)
    chunks, current = [], ""
    for piece in pieces:
        joined = f"{current} {piece}".strip()
        if current and count_tokens(joined) > limit:
            chunks.append(current)
            joined = piece
        current = joined
    return chunks + ([current] if current else [])


def _cut(sentence: str, count_tokens, limit: int) -> list[str]:
    if count_tokens(sentence) <= limit:
        return [sentence]
    for pattern in (r"(?<=,)\s+", r"\s+"):
        parts = re.split(pattern, sentence)
        if len(parts) > 1:
            out, current = [], ""
            for part in parts:
                joined = f"{current} {part}".strip()
                if current and count_tokens(joined) > limit:
                    out += _cut(current, count_tokens, limit)
                    joined = part
                current = joined
            return out + _cut(current, count_tokens, limit)
    # one unbroken word longer than the limit: cut it by characters
    step = max(1, limit - 2)
    return [sentence[i:i + step] for i in range(0, len(sentence), step)]


def check_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty: there is nothing to say")
    return text.strip()


def prepare_chunks(text, tts) -> list[str]:
    """Normalised text cut into chunks that fit SpeechT5's encoder."""
    text = normalise_numbers(check_text(text))
    tokenizer = tts.processor.tokenizer
    limit = tts.model.config.max_text_positions - 1  # room for </s>

    def count_tokens(s):
        return len(tokenizer(s).input_ids)

    chunks = chunk_text(text, count_tokens, limit)
    if not chunks:
        raise ValueError(f"text {text!r} has nothing SpeechT5 can pronounce")
    return chunks


@dataclass(frozen=True)
class SpeechOptions:
    """How SpeechT5 speaks: the options of ``generate_speech``, a seed and the preset.

    ``threshold``: stop probability; ``minlenratio`` / ``maxlenratio``: least and most
    spectrogram frames per input token (``None``: ``S2ST_MAXLENRATIO``, else 10);
    ``seed``: repeatable speech; ``preset``: "fast", "exact" or "fastest" (``None``: ``S2ST_PRESET``,
    else "fast"). Checked when made, so a bad value fails before any model runs.
    """

    threshold: float = 0.5
    minlenratio: float = 0.0
    maxlenratio: float | None = None
    seed: int | None = None
    preset: str | None = None

    def __post_init__(self):
        for name in ("threshold", "minlenratio", "maxlenratio"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        object.__setattr__(self, "seed", check_seed(self.seed))  # frozen: set once, as a Python int
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold is a stop probability in (0, 1], got {self.threshold}")
        maxlenratio = settings.maxlenratio(self.maxlenratio)
        if self.minlenratio < 0 or maxlenratio <= 0 or self.minlenratio > maxlenratio:
            raise ValueError("need 0 <= minlenratio <= maxlenratio and maxlenratio > 0, "
                             f"got {self.minlenratio}, {maxlenratio}")
        settings.preset(self.preset)

    @classmethod
    def make(cls, options: "SpeechOptions | None" = None, **changes) -> "SpeechOptions":
        """``options`` (default: the defaults) with ``changes`` applied."""
        if options is not None and not isinstance(options, cls):
            raise TypeError(f"options must be SpeechOptions, got {type(options).__name__}")
        unknown = set(changes) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown speech option(s) {', '.join(sorted(unknown))}: use "
                            f"{', '.join(f.name for f in dataclasses.fields(cls))}")
        return dataclasses.replace(options or cls(), **changes)

    def resolved(self) -> "SpeechOptions":
        """The same with ``maxlenratio`` and ``preset`` filled in from the settings."""
        return dataclasses.replace(self, maxlenratio=settings.maxlenratio(self.maxlenratio),
                                   preset=settings.preset(self.preset))


def synthesise(text: str, speaker=None, options: SpeechOptions | None = None, *, model: str | None = None,
               vocoder: str | None = None, device=None, **changes) -> np.ndarray:
    """Speak English ``text``; returns float32 audio at 16 kHz.

    ``speaker``: see :func:`s2st_helpers.speakers.load_speaker` (default: the tutorial's
    voice). ``options``: a :class:`SpeechOptions`; single options can be given as
    keywords too (``seed=0``, ``maxlenratio=4.0``, ``preset="exact"``).
    """
    blocks = list(synthesise_stream(text, speaker, options, model=model, vocoder=vocoder, device=device,
                                    **changes))
    return np.concatenate(blocks).astype(np.float32, copy=False)


def synthesise_stream(text: str, speaker=None, options: SpeechOptions | None = None, *,
                      model: str | None = None, vocoder: str | None = None, device=None,
                      **changes) -> Iterator[np.ndarray]:
    """Yield the speech in blocks as it is made, with a short pause between chunks of
    text. Joined, the blocks are :func:`synthesise`'s result. The plain tier yields a
    chunk of text at a time; the ``fast`` preset's first block comes after a few dozen
    decoder steps."""
    options = SpeechOptions.make(options, **changes).resolved()
    tts = load_tts(model, vocoder, device, options.preset)
    embedding = torch.from_numpy(load_speaker(speaker)).unsqueeze(0).to(tts.device)
    chunks = prepare_chunks(text, tts)
    if options.seed is not None:
        torch.manual_seed(options.seed)
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLING_RATE), dtype=np.float32)
    for i, chunk in enumerate(chunks):
        if i:
            yield pause
        ids = tts.processor(text=chunk, return_tensors="pt").input_ids.to(tts.device)
        chunk_options = dict(threshold=options.threshold, minlenratio=options.minlenratio,
                                  maxlenratio=_clamp_ratio(options.maxlenratio, ids.shape[1], tts.model.config))
        with torch.inference_mode():
            if options.preset != "exact":
                from .fast.speecht5_steps import speech_blocks

                blocks = speech_blocks(tts.model, tts.vocoder, ids, embedding, **chunk_options)
            else:
                blocks = [tts.model.generate_speech(ids, embedding, vocoder=tts.vocoder, **chunk_options)]
            for block in blocks:
                yield block.float().cpu().numpy().reshape(-1)


def _clamp_ratio(maxlenratio: float, n_tokens: int, config) -> float:
    """The largest ratio whose decoder steps stay within max_speech_positions."""
    steps_allowed = config.max_speech_positions - 1
    return min(maxlenratio, steps_allowed * config.reduction_factor / max(1, n_tokens))
