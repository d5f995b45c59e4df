import numpy as np
import pytest
import torch

from s2st_helpers import normalise_numbers, synthesise, synthesise_stream
from s2st_helpers.synthesis import chunk_text, split_sentences

HOP = 256  # HiFi-GAN samples per mel frame


@pytest.mark.parametrize("text,spoken", [
    ("I have 42 apples", "I have forty two apples"),
    ("It costs $3.50", "It costs three dollars, fifty cents"),
    ("1,000,000 people", "one million people"),
    ("She came 3rd", "She came third"),
    ("up 50%", "up fifty percent"),
    ("in 1999", "in nineteen ninety nine"),
    ("pi is 3.14", "pi is three point one four"),
    ("no numbers here", "no numbers here"),
])
def test_numbers_spelled_out(text, spoken):
    assert normalise_numbers(text) == spoken


def test_split_sentences():
    assert split_sentences("Hello there. How are you? Fine! ") == ["Hello there.", "How are you?", "Fine!"]


def test_chunks_fit_and_keep_every_word():
    text = " ".join(f"Sentence number {i} is here, and it goes on for a while." for i in range(30))
    chunks = chunk_text(text, len, 100)
    assert all(len(c) <= 100 for c in chunks) and len(chunks) > 5
    assert " ".join(chunks).split() == text.split()
    assert all(c.endswith(".") for c in chunks)  # cut at sentence ends when sentences fit


def test_overlong_sentence_and_word_are_cut():
    chunks = chunk_text("word " * 100 + "x" * 250, len, 50)
    assert all(len(c) <= 50 for c in chunks) and "".join(chunks).count("x") == 250


def test_synthesise_returns_float32_16k(tiny):
    audio = synthesise("Hello world.", maxlenratio=4.0, seed=0)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # the tiny model's stop head never fires: length = maxlenratio * tokens / reduction * 2 frames
    from s2st_helpers.models import load_tts

    tokens = load_tts().processor(text="Hello world.", return_tensors="pt").input_ids.shape[1]
    assert len(audio) == int(tokens * 4.0 / 2) * 2 * HOP


@pytest.fixture(params=["fast", "exact"])
def calls(request, monkeypatch):
    """Spy on the decoder of either tier (the speed layer's loop, or the plain tier's
    ``generate_speech``): (input_ids, keyword arguments) per text chunk."""
    import s2st_helpers.fast.speecht5_steps as steps
    from transformers import SpeechT5ForTextToSpeech

    seen = []
    blocks, generate_speech = steps.speech_blocks, SpeechT5ForTextToSpeech.generate_speech

    def spy_blocks(model, vocoder, ids, speaker, **kwargs):
        seen.append((ids, kwargs))
        return blocks(model, vocoder, ids, speaker, **kwargs)

    def spy_generate(self, ids, speaker, vocoder=None, **kwargs):
        seen.append((ids, kwargs))
        return generate_speech(self, ids, speaker, vocoder=vocoder, **kwargs)

    monkeypatch.setattr(steps, "speech_blocks", spy_blocks)
    monkeypatch.setattr(SpeechT5ForTextToSpeech, "generate_speech", spy_generate)
    monkeypatch.setenv("S2ST_PRESET", request.param)
    return seen


def test_generation_options_pass_through(tiny, calls):
    synthesise("Hi there.", threshold=0.3, minlenratio=0.5, maxlenratio=2.0)
    assert calls[0][1] == {"threshold": 0.3, "minlenratio": 0.5, "maxlenratio": 2.0}


def test_default_cap_and_clamp(tiny, calls):
    synthesise("Hi.")
    assert calls[-1][1]["maxlenratio"] == 10.0  # default cap, half of upstream's 20
    synthesise("A fairly long sentence without a stop", maxlenratio=100.0)
    ids, kwargs = calls[-1]
    assert int(ids.shape[1] * kwargs["maxlenratio"] / 2) < 400  # tiny model has 400 speech positions


def test_long_text_is_split_not_crashed(tiny, calls):
    text = "This is a sentence that the tiny model must say. " * 8  # ~400 tokens, limit 60
    audio = synthesise(text, maxlenratio=1.0)
    lengths = [ids.shape[1] for ids, _ in calls]
    assert len(lengths) > 5 and max(lengths) <= 60 and audio.size > 0


def test_stream_yields_chunks(tiny):
    pieces = list(synthesise_stream("First sentence here. " * 4 + "Second one!", maxlenratio=1.0))
    assert len(pieces) >= 2 and all(p.dtype == np.float32 and p.size for p in pieces)


def test_seed_makes_output_repeatable(tiny):
    a = synthesise("Same words.", maxlenratio=2.0, seed=3)
    b = synthesise("Same words.", maxlenratio=2.0, seed=3)
    assert np.array_equal(a, b)


def test_speaker_changes_voice(tiny):
    a = synthesise("Voice test.", "slt", maxlenratio=2.0, seed=1)
    b = synthesise("Voice test.", "bdl", maxlenratio=2.0, seed=1)
    c = synthesise("Voice test.", torch.zeros(1, 512), maxlenratio=2.0, seed=1)
    assert a.shape == b.shape == c.shape
    assert np.abs(a - b).max() > 0.01 * np.abs(a).max()  # tiny random weights: tiny levels


@pytest.mark.parametrize("text,error", [("", ValueError), ("   ", ValueError), (None, TypeError),
                                        (42, TypeError), (["hi"], TypeError)])
def test_bad_text(tiny, text, error):
    with pytest.raises(error, match="text"):
        synthesise(text)


@pytest.mark.parametrize("options,error", [
    ({"threshold": 0}, ValueError), ({"threshold": 1.5}, ValueError), ({"maxlenratio": 0}, ValueError),
    ({"minlenratio": -1}, ValueError), ({"minlenratio": 5, "maxlenratio": 2}, ValueError),
    ({"threshold": "high"}, TypeError), ({"seed": 1.5}, TypeError), ({"preset": "turbo"}, ValueError),
    ({"speed": 2}, TypeError), ({"options": {"seed": 1}}, TypeError)])
def test_bad_options(tiny, options, error, monkeypatch):
    import s2st_helpers.synthesis as synthesis

    monkeypatch.setattr(synthesis, "load_tts", lambda *a, **k: pytest.fail("model loaded for bad options"))
    with pytest.raises(error, match="threshold|minlenratio|seed|preset|speed|SpeechOptions"):
        synthesise("Hello.", **options)


def test_options_object_and_keywords_agree(tiny):
    from s2st_helpers import SpeechOptions

    options = SpeechOptions(maxlenratio=2.0, seed=5)
    assert np.array_equal(synthesise("Same again.", options=options), synthesise("Same again.", maxlenratio=2.0, seed=5))
    assert SpeechOptions.make(options, seed=6) == SpeechOptions(maxlenratio=2.0, seed=6)
    assert options.resolved().preset == "fast" and SpeechOptions().resolved().maxlenratio == 10.0


def test_default_cap_from_environment(tiny, monkeypatch):
    from s2st_helpers import settings

    monkeypatch.setenv("S2ST_MAXLENRATIO", "4")
    assert settings.maxlenratio() == 4.0
    short = synthesise("Hi.", seed=0)
    monkeypatch.delenv("S2ST_MAXLENRATIO")
    assert len(synthesise("Hi.", seed=0)) > len(short)
    monkeypatch.setenv("S2ST_MAXLENRATIO", "lots")
    with pytest.raises(ValueError, match="S2ST_MAXLENRATIO"):
        synthesise("Hi.")
