"""Real-model tier: real whisper-base, full-size SpeechT5 (real or stand-in), real speech.

Runs when S2ST_ASR_MODEL, S2ST_TTS_MODEL and S2ST_VOCODER are set (see .ci/run), on the
clips in ../shared/audio (S2ST_SHARED_AUDIO overrides). Prints WER and a table.
"""

import re
import unicodedata
import zlib

import jiwer
import numpy as np
import pytest

from s2st_helpers import load_audio, speech_to_speech_translation, translate, translate_details
from s2st_helpers.samples import read_manifest

from .conftest import SHARED_AUDIO

pytestmark = pytest.mark.real


def manifest():
    return read_manifest(SHARED_AUDIO)


def gzip_ratio(text: str) -> float:
    """OpenAI Whisper's runaway measure: text length over its zlib-compressed length."""
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text)).strip()


def test_every_clip_gives_english_without_runaway(real):
    rows = []
    for row in manifest():
        result = translate_details(SHARED_AUDIO / row["file"])
        rows.append((row["file"], result.language, len(result.text), gzip_ratio(result.text), result.text))
        print(f"{row['file']:12s} {result.language or '?':3s} {result.text}")
    for file, _, length, ratio, text in rows:
        assert text, f"{file}: empty translation"
        assert ratio < 2.4 and length < 400, f"{file}: runaway ({length} chars, ratio {ratio:.2f})"
        assert text.isascii() or sum(c.isascii() for c in text) > 0.9 * len(text), f"{file}: not English: {text}"


@pytest.mark.parametrize("clip", ["it_002.wav", "nl_004.ogg"])
def test_beam_search_loops_are_caught(real, clip):
    """With beam 5 (the pipeline's default) these two clips loop to 448 tokens unguarded."""
    text = translate(SHARED_AUDIO / clip, num_beams=5)
    assert text and gzip_ratio(text) < 2.4 and len(text) < 300, text


def test_transcription_wer(real):
    errors = []
    for row in manifest():
        lang = row["language"]
        hypothesis = translate(SHARED_AUDIO / row["file"], task="transcribe", language=lang)
        ref, hyp = normalise(row["transcript"]), normalise(hypothesis)
        rate = jiwer.cer(ref, hyp) if lang == "zh" else jiwer.wer(ref, hyp)
        errors.append((lang, rate))
        print(f"{row['file']:12s} {'CER' if lang == 'zh' else 'WER'} {rate:.2f}  {hypothesis}")
    by_language = {}
    for lang, rate in errors:
        by_language.setdefault(lang, []).append(rate)
    mean = float(np.mean([r for _, r in errors]))
    print("mean error rate by language: " + ", ".join(f"{k} {np.mean(v):.2f}" for k, v in sorted(by_language.items())))
    print(f"mean error rate over {len(errors)} clips: {mean:.2f}")
    assert mean < 0.6  # whisper-base on these clips: well under; a broken model is near 1


def test_silence_and_noise_stay_empty(real):
    rng = np.random.default_rng(0)
    assert translate(np.zeros(48000, np.float32), sampling_rate=16000) == ""
    assert translate(rng.normal(0, 0.01, 48000).astype(np.float32), sampling_rate=16000) == ""


def test_long_audio_translates_in_full(real):
    files = [r["file"] for r in manifest() if r["language"] in ("fr", "it")]
    audio = np.concatenate([load_audio(SHARED_AUDIO / f) for f in files])
    assert len(audio) > 30 * 16000
    text = translate(audio, sampling_rate=16000)
    print(text)
    assert len(text) > 250 and gzip_ratio(text) < 2.4  # five sentences, not just the first window


def test_cascade_contract_on_real_clip(real):
    result = speech_to_speech_translation(SHARED_AUDIO / "it_001.wav", maxlenratio=4.0)
    rate, audio = result
    assert rate == 16000 and audio.dtype == np.int16 and audio.ndim == 1
    # natural length for the stand-in's maxlenratio=4: a few seconds of speech
    assert 1.0 < len(audio) / rate < 15.0 and result.text
    print(f"{result.text!r}: {len(audio) / rate:.2f} s, timings {result.timings}")


def test_fast_tier_gives_the_plain_tiers_text(real):
    """The encoder run once and the written-out greedy loop change nothing: every
    clip's text equals the plain tier's (the model call for the first step, then one
    ``generate`` call with the same guard)."""
    import torch

    for row in manifest():
        waveform = load_audio(SHARED_AUDIO / row["file"])
        torch.manual_seed(0)
        fast = translate_details(waveform, sampling_rate=16000, preset="fast")
        torch.manual_seed(0)
        exact = translate_details(waveform, sampling_rate=16000, preset="exact")
        assert (fast.text, fast.language) == (exact.text, exact.language), row["file"]


def test_full_size_fast_tier_matches_plain_tier(real):
    """On the full-size SpeechT5: the speed layer's loop in float32 equals
    ``generate_speech``; the ``fast`` preset (int8) stays within the stated tolerance
    of the plain tier (``exact``): 25 dB SNR, same seed."""
    import torch

    from s2st_helpers import synthesise
    from s2st_helpers.evaluation import snr_db
    from s2st_helpers.fast.speecht5_steps import speech_blocks
    from s2st_helpers.models import load_tts
    from s2st_helpers.speakers import load_speaker

    text = "From the pass you climb to the summit along the south ridge."
    want = synthesise(text, maxlenratio=4.0, seed=0, preset="exact")  # the plain tier: generate_speech
    fast = synthesise(text, maxlenratio=4.0, seed=0, preset="fast")
    exact = load_tts(preset="exact")
    ids = exact.processor(text=text, return_tensors="pt").input_ids
    torch.manual_seed(0)
    with torch.inference_mode():
        blocks = speech_blocks(exact.model, exact.vocoder, ids, torch.from_numpy(load_speaker("slt"))[None],
                               maxlenratio=4.0)
        loop = torch.cat(list(blocks)).numpy()
    print(f"float32 loop {snr_db(loop, want):.1f} dB, fast preset {snr_db(fast, want):.1f} dB SNR")
    assert snr_db(loop, want) > 80
    assert snr_db(fast, want) > 25
