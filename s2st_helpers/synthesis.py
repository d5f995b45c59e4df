"""English text to speech with SpeechT5 + HiFi-GAN and a speaker x-vector.

Introduced in ``02_text_to_speech``. Changes from the tutorial, and why:

* Numbers are spelled out first (SpeechT5's vocabulary has no digits, so "42" was
  silently dropped). num2words does the spelling; transformers' own normaliser
  turns "1,000,000" into "one thousand,".
* SpeechT5's encoder has ``max_text_positions`` (600) positions; longer text
  crashed. Text is split at sentence boundaries into chunks that fit, and the
  pieces are joined with a short pause.
* Speech comes out block by block (:mod:`s2st_helpers.streaming`), so playback can
  start while the rest is made; :func:`synthesise` joins the blocks.
* ``maxlenratio`` defaults to 10 (upstream: 20; ``S2ST_MAXLENRATIO`` changes it) and is clamped so no chunk can ask
  for more decoder steps than the model has positions: a voice whose stop head
  never fires stops within a bounded time instead of running for minutes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import numpy as np
import torch

from .audio import SAMPLING_RATE
from .models import load_tts
from .speakers import load_speaker
from .streaming import speech_blocks

MAXLENRATIO = 10.0  # S2ST_MAXLENRATIO overrides it (a slow classroom machine may want less)
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


def synthesise(text: str, speaker=None, *, threshold: float = 0.5, minlenratio: float = 0.0,
               maxlenratio: float | None = None, seed: int | None = None, model: str | None = None,
               vocoder: str | None = None, device=None, preset: str | None = None) -> np.ndarray:
    """Speak English ``text``; returns float32 audio at 16 kHz.

    ``speaker``: see :func:`s2st_helpers.speakers.load_speaker` (default: the tutorial's
    voice). ``threshold``, ``minlenratio`` and ``maxlenratio`` mean what they mean in
    SpeechT5's ``generate_speech``. ``seed`` makes the output repeatable (SpeechT5 keeps
    dropout on in its decoder prenet at inference, so two runs differ otherwise).
    ``preset``: "fast" or "exact" (see :mod:`s2st_helpers.models`).
    """
    blocks = list(synthesise_stream(text, speaker, threshold=threshold, minlenratio=minlenratio,
                                    maxlenratio=maxlenratio, seed=seed, model=model, vocoder=vocoder,
                                    device=device, preset=preset))
    return np.concatenate(blocks).astype(np.float32, copy=False)


def synthesise_stream(text: str, speaker=None, *, threshold: float = 0.5, minlenratio: float = 0.0,
                      maxlenratio: float | None = None, seed: int | None = None,
                      model: str | None = None, vocoder: str | None = None,
                      device=None, preset: str | None = None) -> Iterator[np.ndarray]:
    """Yield the speech in blocks as it is made (the first ~0.25 s comes after a few
    dozen decoder steps), with a short pause between chunks of text. Joined, the
    blocks are :func:`synthesise`'s result."""
    if maxlenratio is None:
        maxlenratio = default_maxlenratio()
    _check_options(threshold, minlenratio, maxlenratio)
    tts = load_tts(model, vocoder, device, preset)
    embedding = torch.from_numpy(load_speaker(speaker)).unsqueeze(0).to(tts.device)
    chunks = prepare_chunks(text, tts)
    if seed is not None:
        torch.manual_seed(seed)
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLING_RATE), dtype=np.float32)
    for i, chunk in enumerate(chunks):
        if i:
            yield pause
        ids = tts.processor(text=chunk, return_tensors="pt").input_ids.to(tts.device)
        ratio = _clamp_ratio(maxlenratio, ids.shape[1], tts.model.config)
        with torch.inference_mode():
            for block in speech_blocks(tts.model, tts.vocoder, ids, embedding, threshold=threshold,
                                       minlenratio=minlenratio, maxlenratio=ratio):
                yield block.float().cpu().numpy().reshape(-1)


def default_maxlenratio() -> float:
    value = os.environ.get("S2ST_MAXLENRATIO")
    try:
        return float(value) if value else MAXLENRATIO
    except ValueError:
        raise ValueError(f"S2ST_MAXLENRATIO must be a number, got {value!r}") from None


def _clamp_ratio(maxlenratio: float, n_tokens: int, config) -> float:
    """The largest ratio whose decoder steps stay within max_speech_positions."""
    steps_allowed = config.max_speech_positions - 1
    return min(maxlenratio, steps_allowed * config.reduction_factor / max(1, n_tokens))


def _check_options(threshold, minlenratio, maxlenratio):
    for name, value in (("threshold", threshold), ("minlenratio", minlenratio), ("maxlenratio", maxlenratio)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold is a stop probability in (0, 1], got {threshold}")
    if minlenratio < 0 or maxlenratio <= 0 or minlenratio > maxlenratio:
        raise ValueError(f"need 0 <= minlenratio <= maxlenratio and maxlenratio > 0, got {minlenratio}, {maxlenratio}")
