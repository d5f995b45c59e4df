"""Worked solutions to the notebooks' exercises, behind one switch.

Each notebook ends with exercises; their solutions are plain, tested functions here.
A teacher hides them all at once with ``S2ST_HIDE_SOLUTIONS=1`` in the environment
(or ``solutions.hide()`` in a first cell): calling one then says so instead of
answering.
"""

from __future__ import annotations

import functools
import os
import time

import numpy as np

_hidden = False


def hide(hidden: bool = True) -> None:
    global _hidden
    _hidden = hidden


def hidden() -> bool:
    return _hidden or os.environ.get("S2ST_HIDE_SOLUTIONS", "") not in ("", "0")


def solution(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if hidden():
            raise RuntimeError(f"The solution {fn.__name__}() is hidden by your teacher: try it yourself first!")
        return fn(*args, **kwargs)
    return wrapper


@solution
def where_things_are() -> dict:
    """00, exercise: the device each model would run on, and where downloads are kept."""
    import huggingface_hub

    from .models import asr_model_id, pick_device, tts_model_id, vocoder_id

    return {"device": str(pick_device()), "cache": huggingface_hub.constants.HF_HUB_CACHE,
            "models": [asr_model_id(), tts_model_id(), vocoder_id()]}


@solution
def compare_decoding(audio, beams=(1, 5), **kwargs) -> list[dict]:
    """01, exercise 1: greedy vs beam search, text and time side by side."""
    from .translation import translate

    rows = []
    for num_beams in beams:
        start = time.perf_counter()
        text = translate(audio, num_beams=num_beams, **kwargs)
        rows.append({"num_beams": num_beams, "text": text, "seconds": time.perf_counter() - start})
    return rows


@solution
def transcribe_and_translate(audio) -> dict:
    """01, exercise 2: what was said (source language) next to its English translation."""
    from .translation import translate, translate_details

    english = translate_details(audio)
    said = translate(audio, task="transcribe", language=english.language) if english.text else ""
    return {"language": english.language, "transcript": said, "translation": english.text}


@solution
def nearest_speakers(vector, k: int = 3) -> list[tuple[str, float]]:
    """02, exercise: which bundled voices is this x-vector closest to (cosine similarity)?"""
    from .speakers import bundled_speakers, load_speaker

    v = load_speaker(vector)
    scores = []
    for short in bundled_speakers():
        other = load_speaker(short)
        scores.append((short, float(v @ other / (np.linalg.norm(v) * np.linalg.norm(other)))))
    return sorted(scores, key=lambda s: -s[1])[:k]


@solution
def round_trip(audio, **options) -> dict:
    """03, exercise: translate, speak, and let Whisper transcribe the English speech back."""
    import jiwer

    from .cascade import speech_to_speech_translation
    from .evaluation import transcribe_back

    result = speech_to_speech_translation(audio, **options)
    heard = transcribe_back(result)
    error = jiwer.wer(result.text.lower(), heard.lower()) if result.text and heard else 1.0
    return {"translation": result.text, "heard_back": heard, "wer": error}


#: MMS-TTS language codes (ISO 639-3) -> the Whisper language that is transcribed
MMS_TO_WHISPER = {"fra": "fr", "deu": "de", "spa": "es", "ita": "it", "nld": "nl", "por": "pt",
                  "pol": "pl", "tur": "tr", "swe": "sv", "fin": "fi", "hun": "hu", "ron": "ro"}


@solution
def speech_to_speech_translation_to(audio, target: str = "fra"):
    """04, the course's hands-on: speech in, speech out in ``target`` (not English).

    Whisper only *translates* into English, but asked to *transcribe* in another
    language it often translates into it; MMS-TTS (``facebook/mms-tts-<target>``, a
    ``VitsModel``; ``S2ST_MMS_MODEL`` overrides) speaks the result.
    """
    import torch

    from .audio import SAMPLING_RATE, to_int16
    from .cascade import S2STResult, timed
    from .translation import translate_details

    if target not in MMS_TO_WHISPER:
        raise ValueError(f"target must be one of {sorted(MMS_TO_WHISPER)}, got {target!r}")
    timings: dict = {}
    with timed(timings, "total"):
        with timed(timings, "translate"):
            result = translate_details(audio, task="transcribe", language=MMS_TO_WHISPER[target])
        with timed(timings, "synthesise"):
            speech = np.zeros(0, np.float32)
            if result.text:
                tokenizer, model = _load_mms(os.environ.get("S2ST_MMS_MODEL") or f"facebook/mms-tts-{target}")
                inputs = tokenizer(result.text, return_tensors="pt")
                with torch.inference_mode():
                    speech = model(**inputs).waveform[0].numpy()
                if model.config.sampling_rate != SAMPLING_RATE:
                    import soxr

                    speech = soxr.resample(speech, model.config.sampling_rate, SAMPLING_RATE)
    return S2STResult(SAMPLING_RATE, to_int16(speech), result.text, result.language, timings)


@functools.lru_cache(maxsize=2)
def _load_mms(model_id: str):
    from transformers import AutoTokenizer, VitsModel

    try:
        return AutoTokenizer.from_pretrained(model_id), VitsModel.from_pretrained(model_id).eval()
    except OSError as err:  # offline, or no MMS voice for that language
        raise ValueError(f"could not load {model_id} ({err.__class__.__name__}): it downloads once, "
                         "with internet") from None


@solution
def bleu_by_decoding(items, beams=(1, 5)) -> dict:
    """05, exercise: does beam search buy translation quality? BLEU and time per setting."""
    from .evaluation import bleu
    from .translation import translate

    out = {}
    for num_beams in beams:
        start = time.perf_counter()
        hypotheses = [translate(item.audio, num_beams=num_beams) for item in items]
        out[num_beams] = {"BLEU": bleu(hypotheses, [i.english for i in items]),
                          "seconds": time.perf_counter() - start}
    return out


@solution
def compare_presets(text: str, speaker=None, seed: int = 0, **options) -> dict:
    """06, exercise 1: seconds per preset, and how far the fast preset's speech is
    from the exact one (same seed; compared over their common length)."""
    from .evaluation import log_spectral_distance, snr_db
    from .synthesis import synthesise

    out, speech = {}, {}
    for preset in ("exact", "fast"):
        synthesise(text, speaker, preset=preset, seed=seed, **options)  # load before timing
        start = time.perf_counter()
        speech[preset] = synthesise(text, speaker, preset=preset, seed=seed, **options)
        out[f"{preset} s"] = time.perf_counter() - start
    n = min(len(speech["exact"]), len(speech["fast"]))
    out["speedup"] = out["exact s"] / out["fast s"]
    out["SNR dB"] = snr_db(speech["fast"][:n], speech["exact"][:n])
    out["log-spectral distance dB"] = log_spectral_distance(speech["fast"][:n], speech["exact"][:n])
    out["length difference s"] = (len(speech["fast"]) - len(speech["exact"])) / 16000
    return out
