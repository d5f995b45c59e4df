"""Long recordings: window-by-window decoding, the per-window no-speech rule, and
speaking segments while the rest is being translated."""

import threading
import time

import numpy as np
import pytest

from s2st_helpers import speech_to_speech_translation, translate
from s2st_helpers.cascade import speech_to_speech_translation_stream
from s2st_helpers.long_form import SAMPLES_PER_TIMESTAMP, Progress, Segment, split_segments, translate_ahead

TS = 1000  # first timestamp token in these made-up token lists: TS + n is n * 20 ms
WINDOW = 480_000


def ts(seconds: float) -> int:
    return TS + round(seconds * 50)


def test_finished_window_is_used_in_full():
    tokens = [ts(0), 1, 2, ts(2), ts(2), 3, ts(4)]
    pieces, used = split_segments(tokens, TS, WINDOW)
    assert pieces == [(0, 2 * 16000, [1, 2]), (2 * 16000, 4 * 16000, [3])]
    assert used == WINDOW


def test_cut_off_segment_is_decoded_again_from_its_start():
    tokens = [ts(0), 1, ts(10), ts(12), 2, 3]  # the second segment runs past the window's end
    pieces, used = split_segments(tokens, TS, WINDOW)
    assert pieces == [(0, 10 * 16000, [1])]
    assert used == 10 * 16000  # the next window starts where the finished segment ended
    pieces, used = split_segments(tokens, TS, WINDOW, full=False)  # the recording's last window keeps it
    assert [p[2] for p in pieces] == [[1], [2, 3]] and used == WINDOW


def test_window_without_timestamps_is_one_segment():
    pieces, used = split_segments([5, 6, 7], TS, WINDOW)
    assert pieces == [(0, WINDOW, [5, 6, 7])] and used == WINDOW
    assert SAMPLES_PER_TIMESTAMP * 50 == 16000


@pytest.fixture
def windows(speech):
    """Three windows of speech, a second of silence between: 92 s."""
    gap = np.zeros(16000, np.float32)
    window = np.concatenate([np.tile(speech, 15)[:29 * 16000], gap])
    return np.tile(window, 3)[:92 * 16000]


def test_each_window_is_judged_on_its_own(tiny, windows, monkeypatch):
    """A window forced to "no speech" is skipped; the windows around it are kept."""
    import s2st_helpers.long_form as long_form

    original = long_form.read_first_step
    calls = []

    def second_window_silent(asr, logits, language=None):
        calls.append(1)
        lang, p, no_speech = original(asr, logits, language)
        return lang, p, 0.99 if len(calls) == 2 else 0.01

    monkeypatch.setattr(long_form, "read_first_step", second_window_silent)
    monkeypatch.setattr(long_form, "average_logprob", lambda *a, **k: -3.0)
    from s2st_helpers.models import load_asr

    segments = list(long_form.translate_windows(load_asr(), windows, temperature=0.0))
    by_window = {}
    for s in segments:
        by_window.setdefault(s.window, []).append(s)
    assert [s.text for s in by_window[1]] == [""]  # skipped, whole
    assert all(s.text for w in (0, 2) for s in by_window.get(w, [])) and by_window.get(0)
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    # the joined text leaves the skipped window out, and is not empty
    calls.clear()
    text = translate(windows, sampling_rate=16000, temperature=0.0)
    assert text and text == " ".join(s.text for s in segments if s.text)


@pytest.mark.parametrize("options", [{}, {"temperature": 0.0}, {"compression_ratio_threshold": 0.5},
                                     {"task": "transcribe", "language": "de"}, {"language": "German"},
                                     {"no_repeat_ngram_size": 0}])
def test_fast_windows_are_the_plain_tiers(tiny, windows, options):
    """The speed layer's windows (one encoding each, the written-out loop with the
    timestamp rules, the ladder's sampling written out where the first pass fails:
    threshold 0.5 fails every pass; a language name read as its code; ``generate`` for
    what only it knows, here ``no_repeat_ngram_size``) give the plain tier's segments,
    and encode each window once. Greedy here:
    beam search with timestamps is held to the plain tier on the real whisper-base
    (test_real_models), as the tiny random model's timestamps are near ties."""
    import torch
    from transformers import WhisperForConditionalGeneration

    from s2st_helpers import long_form
    from s2st_helpers.fast.whisper_steps import WhisperDecoderSteps
    from s2st_helpers.models import load_asr

    options = {"num_beams": 1, **options}
    asr = load_asr()
    encoder = asr.model.get_encoder()
    calls, generated, sampled, found = [], [], [], {}
    original, sample = WhisperForConditionalGeneration.generate, WhisperDecoderSteps.sample
    for preset in ("fast", "exact"):
        calls.clear(), generated.clear(), sampled.clear()
        torch.manual_seed(3)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(encoder, "forward", lambda *a, _f=encoder.forward, **k: calls.append(1) or _f(*a, **k))
            patch.setattr(WhisperForConditionalGeneration, "generate",
                          lambda *a, **k: generated.append(k.get("temperature")) or original(*a, **k))
            patch.setattr(WhisperDecoderSteps, "sample", lambda *a, **k: sampled.append(1) or sample(*a, **k))
            found[preset] = list(long_form.translate_windows(asr, windows, preset=preset, **options))
        windows_decoded = len({s.window for s in found[preset]})
        if preset == "fast" and "no_repeat_ngram_size" not in options:  # every rung written out
            assert len(calls) == windows_decoded and not generated  # once a window
        if preset == "fast" and "compression_ratio_threshold" in options:  # the five sampled rungs, each failing
            assert len(sampled) == 5 * windows_decoded
        if preset == "fast" and "no_repeat_ngram_size" in options:  # generate alone, with its own ladder
            assert len(generated) == windows_decoded and all(t[0] == 0.0 for t in generated) and not sampled
    assert found["fast"] == found["exact"] and any(s.text for s in found["fast"])
    assert len({s.window for s in found["fast"]}) >= 3


def test_a_seed_repeats_the_sampled_windows_whatever_other_threads_draw(tiny, windows):
    """Threshold 0.5 fails every pass, so every window is sampled. With a seed, the
    speed layer draws from a generator of its own: the same segments while another
    thread reseeds and draws from PyTorch's global generator, and the plain tier's
    (window k seeded with seed + k); the global generator is left alone."""
    import torch

    from s2st_helpers import long_form
    from s2st_helpers.models import load_asr

    asr, options = load_asr(), {"num_beams": 1, "compression_ratio_threshold": 0.5}
    seeds, decode = [], long_form.decode
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(long_form, "decode", lambda *a: seeds.append(a[-1]) or decode(*a))
        exact = list(long_form.translate_windows(asr, windows, preset="exact", seed=7, **options))
    assert len(seeds) >= 3 and seeds == [7 + k for k in range(len(seeds))]  # every window is loud here
    stop, drawn = threading.Event(), []

    def draw():  # a draw every millisecond: a busy loop would starve the decoding of the GIL
        while not stop.wait(0.001):
            torch.manual_seed(len(drawn))
            drawn.append(float(torch.rand(1)))

    torch.manual_seed(0)
    state = torch.get_rng_state()
    fast = list(long_form.translate_windows(asr, windows, preset="fast", seed=7, **options))
    assert torch.equal(torch.get_rng_state(), state)
    other = threading.Thread(target=draw)
    other.start()
    try:
        again = list(long_form.translate_windows(asr, windows, preset="fast", seed=7, **options))
    finally:
        stop.set()
        other.join()
    assert drawn and fast == again == exact
    assert len({s.window for s in fast}) >= 3 and any(s.text for s in fast)


@pytest.mark.parametrize("preset", ["fast", "exact"])
def test_a_seed_repeats_a_long_recordings_text_and_leaves_the_voice_alone(tiny, windows, monkeypatch, preset):
    """The cascade's seed reaches Whisper's fallback, which samples every window here
    (threshold 0.5) in the background thread while SpeechT5 reseeds PyTorch's global
    generator for each segment in this one. Under fast: the same text twice. Under
    either, the background thread never seeds the global generator, which would
    change the voice being drawn here (the plain tier's windows are left unseeded)."""
    import torch

    seeded_in = []
    manual_seed = torch.manual_seed
    monkeypatch.setattr(torch, "manual_seed", lambda s: seeded_in.append(threading.current_thread().name)
                        or manual_seed(s))
    options = {"seed": 3, "maxlenratio": 4.0, "preset": preset,
               "generate_kwargs": {"compression_ratio_threshold": 0.5}}
    manual_seed(0)
    first = speech_to_speech_translation(windows, sampling_rate=16000, **options)
    assert first.text and seeded_in and set(seeded_in) == {threading.main_thread().name}
    if preset == "fast":
        manual_seed(1)
        second = speech_to_speech_translation(windows, sampling_rate=16000, **options)
        assert first.text == second.text
        assert first.text == translate(windows, sampling_rate=16000, seed=3, compression_ratio_threshold=0.5)
    with pytest.raises(TypeError, match="seed is one of the cascade's options"):
        speech_to_speech_translation(windows, sampling_rate=16000, generate_kwargs={"seed": 3})


def test_silence_then_speech_is_not_dropped(tiny, speech):
    """35 s of silence in front: the first window is skipped, not the recording."""
    audio = np.concatenate([np.zeros(35 * 16000, np.float32), np.tile(speech, 3)])
    assert translate(audio, sampling_rate=16000) != ""
    assert translate(np.zeros(35 * 16000, np.float32), sampling_rate=16000) == ""


def fake_windows(texts, gate=None):
    """A stand-in for translate_windows: one segment per window; after the first,
    waits until ``gate`` is set (by the listener hearing the first audio)."""

    def translate_windows(asr, waveform, progress=None, **kwargs):
        for i, text in enumerate(texts):
            if i == 1 and gate is not None:
                gate.wait(timeout=20)
            yield Segment(i * 30.0, i * 30.0 + 5, text, "it", 0.0, i)
            if progress:
                progress(min((i + 1) * 30.0, 90.0), 90.0)

    return translate_windows


def test_first_segment_is_spoken_while_the_next_is_translated(tiny, monkeypatch):
    import s2st_helpers.long_form as long_form

    heard = threading.Event()
    monkeypatch.setattr(long_form, "translate_windows", fake_windows(["One.", "", "Two.", "Three."], heard))
    done = []
    texts = []
    for block in speech_to_speech_translation_stream(np.full(90 * 16000, 0.1, np.float32), sampling_rate=16000,
                                                     maxlenratio=1.0, progress=lambda *p: done.append(p)):
        if block[1].size and not heard.is_set():
            heard.set()  # the translation may go on only now: it had to wait for us
            assert not done or done[-1][0] < 90.0
        texts.append(block.text)
    assert heard.is_set()
    assert texts[0] == "One."
    assert texts[-1] == "One. Two. Three." and sorted(texts, key=len) == texts  # in order, only growing
    assert done[-1] == (90.0, 90.0)


def test_stream_and_whole_give_the_same_text(tiny, windows):
    whole = speech_to_speech_translation(windows, sampling_rate=16000, maxlenratio=1.0,
                                         generate_kwargs={"temperature": 0.0})
    assert whole.text == translate(windows, sampling_rate=16000, temperature=0.0)
    assert whole.text and whole[1].dtype == np.int16 and whole[0] == 16000
    assert whole.timings["first audio"] < whole.timings["total"]


def test_long_silence_gives_an_empty_result(tiny):
    result = speech_to_speech_translation(np.zeros(40 * 16000, np.float32), sampling_rate=16000)
    assert result.text == "" and result[1].shape == (0,)


def test_an_error_in_the_translation_thread_reaches_the_caller(tiny, monkeypatch):
    import s2st_helpers.long_form as long_form

    def broken(asr, waveform, progress=None, **kwargs):
        yield Segment(0.0, 5.0, "One.", "it", 0.0, 0)
        raise ValueError("window 2 is broken")

    monkeypatch.setattr(long_form, "translate_windows", broken)
    with pytest.raises(ValueError, match="window 2 is broken"):
        speech_to_speech_translation(np.full(40 * 16000, 0.1, np.float32), sampling_rate=16000, maxlenratio=1.0)


def test_stopping_early_stops_the_thread(monkeypatch):
    import s2st_helpers.long_form as long_form

    made = []

    def endless(asr, waveform, progress=None, **kwargs):
        for i in range(10_000):
            made.append(i)
            yield Segment(i, i + 1, f"s{i}", "it", 0.0, i)

    monkeypatch.setattr(long_form, "translate_windows", endless)
    items = translate_ahead(None, np.zeros(10), size=2)
    assert next(items).text == "s0"
    items.close()
    time.sleep(0.5)
    assert not any(t.name == "s2st-translate" and t.is_alive() for t in threading.enumerate())
    assert len(made) < 10  # it ran no further than the queue allows


def test_progress_items_come_in_order(monkeypatch):
    import s2st_helpers.long_form as long_form

    monkeypatch.setattr(long_form, "translate_windows", fake_windows(["a", "b"]))
    items = list(translate_ahead(None, np.zeros(10)))
    assert [type(i) for i in items] == [Segment, Progress, Segment, Progress]
    assert [i.done for i in items if isinstance(i, Progress)] == [30.0, 60.0]
