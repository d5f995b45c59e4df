"""The three-stage cascade the tutorial describes: ASR, then MT, then TTS.

Introduced in ``07_three_stage``. Whisper transcribes in the language it hears
(``task="transcribe"``), a text translation model (NLLB-200 by default, M2M100 works
too; ``S2ST_MT_MODEL`` overrides) translates the transcript, and the target is
spoken by SpeechT5 (English) or an MMS-TTS voice (``facebook/mms-tts-<iso3>``, a
``VitsModel``). Unlike the two-stage design, the target need not be English.

:func:`s2st_helpers.cascade.speech_to_speech_translation` runs it with
``design="three-stage"`` (or any non-English ``target``); the functions here are
its stages, each callable on its own, as 07 calls them.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .audio import SAMPLING_RATE, load_audio
from .languages import ENGLISH, Language, language, target
from .models import load_asr, load_mms, load_mt
from .synthesis import PAUSE_SECONDS, split_sentences
from .translation import first_step_logits, read_first_step, whisper_features

DESIGNS = ("two-stage", "three-stage")
MT_TOKENS_PER_TOKEN = 2  # budget for the translation: twice the source's tokens, and some
MT_EXTRA_TOKENS = 16
_tokenizer_lock = threading.Lock()


def check_design(design: str | None, to: Language) -> str:
    """The design to run for target ``to``: the two-stage one into English unless
    asked otherwise, the three-stage one into any other language."""
    if design is None:
        return "two-stage" if to.iso3 == ENGLISH else "three-stage"
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}: use one of {', '.join(DESIGNS)}")
    if design == "two-stage" and to.iso3 != ENGLISH:
        raise ValueError(f"the two-stage design speaks English only (Whisper translates into English): "
                         f"use design='three-stage' for {to}")
    return design


def translate_text(text: str, source_language: str, target_language: str, *, model: str | None = None,
                   device=None, **generate_kwargs) -> str:
    """Translate ``text`` between two languages of the table (any of their codes).

    NLLB-200 takes FLORES-200 codes and M2M100 takes ISO 639-1 ones; the tokenizer
    tells which, by the language tokens it has. The target is forced as the first
    generated token (``forced_bos_token_id``), as both models were trained.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    src, tgt = language(source_language), language(target_language)
    if not text.strip() or src == tgt:
        return text.strip()
    mt = load_mt(model, device)
    tokenizer = mt.tokenizer
    with _tokenizer_lock:  # src_lang is the shared tokenizer's state: two demo requests must not mix it
        tokenizer.src_lang = _code(tokenizer, src)
        inputs = tokenizer(text, return_tensors="pt").to(mt.device)
    # a budget that grows with the input, so a looping translation stops early; as
    # max_length, which the checkpoints' own generation configs also set
    budget = MT_TOKENS_PER_TOKEN * inputs["input_ids"].shape[1] + MT_EXTRA_TOKENS
    options = {"max_length": min(budget, mt.model.config.max_position_embeddings),
               "forced_bos_token_id": _token_id(tokenizer, tgt)}
    options.update(generate_kwargs)
    with torch.inference_mode():
        ids = mt.model.generate(**inputs, **options)
    # after the decoder's start token comes the forced language token: M2M100's
    # tokenizer would not skip it as a special token, so both are cut off here
    return tokenizer.decode(ids[0, 2:], skip_special_tokens=True).strip()


def _code(tokenizer, lang: Language) -> str:
    """The language as this tokenizer names it: FLORES-200 (NLLB) or ISO 639-1 (M2M100)."""
    if hasattr(tokenizer, "get_lang_id"):  # M2M100Tokenizer: "fr", token "__fr__"
        if lang.m2m100 is None:
            raise ValueError(f"M2M100 does not know {lang}: NLLB-200 does (S2ST_MT_MODEL)")
        return lang.m2m100
    return lang.flores


def _token_id(tokenizer, lang: Language) -> int:
    code = _code(tokenizer, lang)
    token = f"__{code}__" if hasattr(tokenizer, "get_lang_id") else code
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise ValueError(f"the translation model has no token for {lang} ({token})")
    return token_id


def transcribe(audio, *, sampling_rate: int | None = None, **kwargs):
    """Stage one: Whisper's transcript in the language it hears (a
    :class:`~s2st_helpers.translation.Translation`, with ``.text`` and ``.language``)."""
    from .translation import translate_details

    return translate_details(audio, sampling_rate=sampling_rate, task="transcribe", **kwargs)


def speak(text: str, to: str, *, seed: int | None = None, device=None) -> Iterator[np.ndarray]:
    """Stage three for a non-English target: MMS-TTS speaks ``text`` sentence by
    sentence (16 kHz float32 blocks, a short pause between them). Digits are spelled
    out in the target language first: MMS voices have no digits and drop them."""
    lang = target(to)
    if lang.iso3 == ENGLISH:
        raise ValueError("English is spoken by SpeechT5: use synthesise or synthesise_stream")
    mms = load_mms(lang.iso3, device)
    rate = mms.model.config.sampling_rate
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLING_RATE), dtype=np.float32)
    if seed is not None:  # VITS samples its durations and its noise: a seed repeats them
        torch.manual_seed(seed)
    spoken = False
    for sentence in split_sentences(spell_numbers(text, lang)):
        inputs = mms.tokenizer(sentence, return_tensors="pt").to(mms.device)
        if inputs["input_ids"].shape[1] == 0:  # nothing the voice can read
            continue
        with torch.inference_mode():
            wave = mms.model(**inputs).waveform[0].float().cpu().numpy()
        if rate != SAMPLING_RATE:
            import soxr

            wave = soxr.resample(wave, rate, SAMPLING_RATE).astype(np.float32)
        if spoken:  # a pause between sentences, never before the first
            yield pause
        spoken = True
        yield wave


def spell_numbers(text: str, lang: Language) -> str:
    """Digits as words in ``lang`` ("12" -> "douze"), by num2words."""
    from num2words import num2words

    def spell(match) -> str:
        try:
            return num2words(int(match[0]), lang=lang.whisper)
        except NotImplementedError:  # num2words does not know this language
            return match[0]

    return re.sub(r"\d+", spell, text)


def detect_language(audio, *, sampling_rate: int | None = None) -> tuple[str, float]:
    """Which language Whisper hears in ``audio``, and how sure it is: the self-check
    that synthesised speech is in the target language."""
    asr = load_asr()
    features = whisper_features(asr, load_audio(audio, sampling_rate))
    code, probability, _ = read_first_step(asr, first_step_logits(asr, features["input_features"]))
    return code, probability


# ---- 07: the tutorial's two claims, measured --------------------------------------

@dataclass
class DesignRun:
    """One clip through one design, into English."""

    clip: str
    language: str
    design: str
    text: str  # the English spoken
    transcript: str | None  # what Whisper heard (three-stage only)
    reference_transcript: str
    reference: str  # the English reference
    timings: dict


def compare_designs(items, *, progress: bool = True, **options) -> list[DesignRun]:
    """Each clip (:class:`~s2st_helpers.evaluation.Item`) through both designs into
    English, one after the other, with the same options (``seed=0``...)."""
    from pathlib import Path

    from tqdm.auto import tqdm

    from .cascade import speech_to_speech_translation

    runs = []
    for item in tqdm(items, desc="clips", disable=not progress):
        audio = {"array": load_audio(item.audio), "sampling_rate": SAMPLING_RATE}
        clip = Path(str(item.audio)).name
        for design in DESIGNS:
            try:
                result = speech_to_speech_translation(audio, design=design, **options)
            except ValueError as why:  # Whisper heard a language the text model does not have
                if design == "two-stage":
                    raise
                warnings.warn(f"{clip}: the three-stage design could not translate it ({why}); "
                              "it counts as an empty translation", stacklevel=2)
                runs.append(DesignRun(clip, item.language, design, "", "", item.transcript, item.english, {}))
                continue
            runs.append(DesignRun(clip, item.language, design, result.text, result.transcript,
                                  item.transcript, item.english, result.timings))
    return runs


def design_table(runs: list[DesignRun]):
    """One row per design: BLEU and chrF against the English references, and the
    mean seconds of each stage, in total and to the first audio (a DataFrame)."""
    import pandas as pd

    from .evaluation import bleu, chrf

    rows = []
    for design in DESIGNS:
        mine = [r for r in runs if r.design == design]
        timed = [r for r in mine if r.timings]  # a clip that failed has no timings
        if not mine:
            continue
        mean = lambda key: sum(r.timings.get(key, 0.0) for r in timed) / max(len(timed), 1)  # noqa: E731
        rows.append({"design": design, "clips": len(mine),
                     "BLEU": bleu([r.text for r in mine], [r.reference for r in mine]),
                     "chrF": chrf([r.text for r in mine], [r.reference for r in mine]),
                     "speech to text s": mean("translate") + mean("transcribe"),
                     "text to text s": mean("machine translation"),
                     "synthesise s": mean("synthesise"), "first audio s": mean("first audio"),
                     "total s": mean("total")})
    return pd.DataFrame(rows).set_index("design").round(2)


#: languages written without spaces between words
UNSPACED = {"zh", "ja", "yue", "th", "lo", "my", "km"}


def propagation_table(runs: list[DesignRun]):
    """Per clip: how wrong Whisper's transcript was (character error rate against the
    reference transcript) beside the chrF of each design's English, worst transcript
    first. Where the transcript is wrong, does the three-stage English suffer more?

    Case and punctuation are left out of the CER (Whisper's own multilingual
    normaliser on both sides): a reference written without a final full stop is not
    an error of Whisper's."""
    import jiwer
    import pandas as pd
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer

    from .evaluation import chrf

    normalise = BasicTextNormalizer()
    by_clip: dict[str, dict] = {}
    for r in runs:
        row = by_clip.setdefault(r.clip, {"clip": r.clip, "language": r.language})
        row[f"chrF {r.design}"] = chrf([r.text], [r.reference])
        if r.transcript is not None:
            heard, said = (" ".join(normalise(t).split()) for t in (r.transcript, r.reference_transcript))
            if r.language in UNSPACED:  # the normaliser puts a space where punctuation was
                heard, said = heard.replace(" ", ""), said.replace(" ", "")
            row["transcript CER"] = jiwer.cer(said, heard) if said and heard else 1.0
            row["transcript"], row["reference transcript"] = r.transcript, r.reference_transcript
    table = pd.DataFrame(list(by_clip.values())).set_index("clip")
    return table.sort_values("transcript CER", ascending=False).round(2)


def reference_translations() -> dict[tuple[str, str], str]:
    """Hand-written translations of bundled clips into other languages than English:
    ``{(clip file, ISO 639-3 target): text}``."""
    from .samples import _data, read_tsv

    return {(r["file"], r["target"]): r["text"] for r in read_tsv(_data() / "references.tsv")}


def speaks_target(speech, target_language: str, reference: str, *, sampling_rate: int = SAMPLING_RATE) -> dict:
    """The self-check of 07's hands-on: the language Whisper hears in ``speech``, and
    the chrF of what it transcribes there against a reference in the target language.
    ``{"heard language", "probability", "in target", "heard", "chrF"}``."""
    from .evaluation import chrf
    from .translation import translate

    lang = language(target_language)
    audio = {"array": np.asarray(speech), "sampling_rate": sampling_rate}
    if not np.asarray(speech).size:
        return {"heard language": None, "probability": 0.0, "in target": False, "heard": "", "chrF": 0.0}
    code, probability = detect_language(audio)
    heard = translate(audio, task="transcribe", language=lang.whisper)
    return {"heard language": code, "probability": probability, "in target": code == lang.whisper,
            "heard": heard, "chrF": chrf([heard], [reference])}
