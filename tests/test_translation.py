import numpy as np
import pytest
import torch

from s2st_helpers import translate, translate_details
from s2st_helpers.translation import guard_options, loudest_frame_dbfs, token_budget


def test_translate_returns_text(tiny, speech):
    text = translate({"array": speech, "sampling_rate": 16000})
    assert isinstance(text, str) and text


def test_return_language(tiny, wav_file):
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    text, language = translate(wav_file, return_language=True)
    assert isinstance(text, str) and language in LANGUAGES


def test_details(tiny, wav_file):
    result = translate_details(wav_file)
    assert 0 <= result.no_speech_probability <= 1 and 0 < result.language_probability <= 1
    assert result.seconds == pytest.approx(2.0)
    assert str(result) == result.text


def test_given_language_and_task_reach_generate(tiny, wav_file, monkeypatch):
    from transformers import WhisperForConditionalGeneration

    calls = []
    original = WhisperForConditionalGeneration.generate

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WhisperForConditionalGeneration, "generate", spy)
    result = translate_details(wav_file, language="it", task="transcribe", num_beams=2)
    assert result.language == "it" and result.language_probability is None
    first = calls[0]  # greedy (here beam 2) on the shared encoder output
    assert first["language"] == "it" and first["task"] == "transcribe" and first["num_beams"] == 2
    assert first["temperature"] == 0.0 and "encoder_outputs" in first
    assert first["max_length"] == 4 + token_budget(2.0)
    # the runaway guard is on by default: a looping first pass goes on up the ladder
    if len(calls) > 1:
        assert calls[1]["compression_ratio_threshold"] == 1.35 and calls[1]["temperature"][0] == 0.2


def test_default_is_greedy_translate(tiny, wav_file, monkeypatch):
    from transformers import WhisperForConditionalGeneration

    seen = {}
    original = WhisperForConditionalGeneration.generate
    monkeypatch.setattr(WhisperForConditionalGeneration, "generate",
                        lambda self, *a, **k: seen.update(k) or original(self, *a, **k))
    translate(wav_file)
    assert seen["task"] == "translate" and seen["num_beams"] == 1


@pytest.mark.parametrize("audio", [np.zeros(32000, np.float32),
                                   np.random.default_rng(0).normal(0, 1e-4, 32000).astype(np.float32)])
def test_silence_gives_empty_text(tiny, audio, monkeypatch):
    from transformers import WhisperForConditionalGeneration

    monkeypatch.setattr(WhisperForConditionalGeneration, "generate",
                        lambda *a, **k: pytest.fail("silence must not reach the decoder"))
    assert translate(audio, sampling_rate=16000) == ""


def test_no_speech_probability_gives_empty_text(tiny, speech, monkeypatch):
    """Noise loud enough to pass the level gate is judged by Whisper's no-speech probability."""
    import s2st_helpers.translation as tr

    monkeypatch.setattr(tr, "first_step", lambda *a, **k: ("en", 0.1, 0.95))
    assert translate(speech, sampling_rate=16000) == ""
    monkeypatch.setattr(tr, "first_step", lambda *a, **k: ("en", 0.1, 0.05))
    assert translate(speech, sampling_rate=16000) != ""


def test_long_audio_uses_long_form(tiny, speech, monkeypatch):
    from transformers import WhisperForConditionalGeneration

    seen = {}
    original = WhisperForConditionalGeneration.generate

    def spy(self, *args, **kwargs):
        seen.update(kwargs, frames=kwargs["input_features"].shape[-1])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WhisperForConditionalGeneration, "generate", spy)
    long = np.tile(speech, 20)  # 40 s
    text = translate(long, sampling_rate=16000)
    assert isinstance(text, str) and text
    assert seen["frames"] == 4000 and seen["return_timestamps"] is True and "max_length" not in seen
    assert seen["attention_mask"].shape[-1] == 4000


def test_five_minute_recording(tiny, speech):
    result = translate_details(np.tile(speech, 150), sampling_rate=16000)  # 300 s
    assert result.seconds == pytest.approx(300) and isinstance(result.text, str)


def test_token_budget():
    assert token_budget(0.1) == 24
    assert token_budget(10) == 80
    assert token_budget(300) == 444
    assert guard_options(40, long_form=True)["return_timestamps"] is True


def test_loudest_frame():
    assert loudest_frame_dbfs(np.zeros(1000, np.float32)) == -np.inf
    assert loudest_frame_dbfs(np.full(960, 0.1, np.float32)) == pytest.approx(-20)
    assert loudest_frame_dbfs(np.full(5, 0.1, np.float32)) == pytest.approx(-20)


@pytest.mark.parametrize("audio,error", [(np.zeros(0, np.float32), ValueError), (None, TypeError),
                                         ([0.1, 0.2], TypeError), ("/no/such/file.wav", ValueError)])
def test_bad_input_fails_before_any_model(audio, error, monkeypatch):
    import s2st_helpers.translation as tr

    monkeypatch.setattr(tr, "load_asr", lambda *a, **k: pytest.fail("model loaded for bad input"))
    with pytest.raises(error):
        translate(audio, sampling_rate=16000)


def test_model_is_loaded_once(tiny, speech):
    from s2st_helpers.models import load_asr

    assert load_asr() is load_asr()
    assert load_asr().device == torch.device("cpu")


@pytest.mark.parametrize("options", [{"temperature": 0.0}, {}, {"compression_ratio_threshold": 0.5},
                                     {"num_beams": 2, "temperature": 0.0}])
def test_reused_encoder_output_gives_generates_text(tiny, speech, options):
    """Greedy with the shared encoder output, and the fallback ladder when it fails
    (threshold 0.5 makes every greedy pass fail), give what one generate call gives."""
    from s2st_helpers.translation import translate_with_generate

    for scale in (1.0, 0.3):
        torch.manual_seed(11)
        got = translate_details(speech * scale, sampling_rate=16000, language="fr", **options).text
        torch.manual_seed(11)
        assert got == translate_with_generate(speech * scale, sampling_rate=16000, language="fr", **options)


def test_encoder_runs_once(tiny, speech, monkeypatch):
    from s2st_helpers.models import load_asr

    encoder = load_asr().model.get_encoder()
    calls = []
    monkeypatch.setattr(encoder, "forward", lambda *a, _f=encoder.forward, **k: calls.append(1) or _f(*a, **k))
    translate(speech, sampling_rate=16000, temperature=0.0)
    assert len(calls) == 1


def test_translate_with_generate_takes_one_window(tiny, speech):
    from s2st_helpers.translation import translate_with_generate

    with pytest.raises(ValueError, match="up to 30 s"):
        translate_with_generate(np.tile(speech, 16), sampling_rate=16000)  # 32 s
