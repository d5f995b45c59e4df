"""bfloat16 in the speed layer: HiFi-GAN's convolutions (fast) and Whisper's encoder
(fastest), where the processor computes bfloat16 natively. The checks force the
capability on, so they run on any CPU (emulated bfloat16 is slow, not wrong)."""

import pytest
import torch

from s2st_helpers import settings, synthesise, translate
from s2st_helpers.evaluation import snr_db
from s2st_helpers.fast import bf16
from s2st_helpers.fast.hifigan_stream import StreamingHifiGan
from s2st_helpers.models import clear_cache, load_asr, load_tts


@pytest.fixture
def native(monkeypatch):
    monkeypatch.setattr(bf16, "native_bf16", lambda device="cpu": torch.device(device).type == "cpu")
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def not_native(monkeypatch):
    monkeypatch.setattr(bf16, "native_bf16", lambda device="cpu": False)
    clear_cache()
    yield
    clear_cache()


def test_fast_vocoder_is_bf16_and_still_takes_and_gives_float32(tiny, native):
    fast, exact = load_tts(preset="fast"), load_tts(preset="exact")
    assert fast.vocoder.conv_pre.weight.dtype == torch.bfloat16
    assert fast.vocoder.mean.dtype == torch.float32  # the normalisation stays float32
    assert exact.vocoder.conv_pre.weight.dtype == torch.float32  # the plain tier's own copy
    torch.manual_seed(0)
    mel = torch.randn(60, fast.model.config.num_mel_bins)
    with torch.inference_mode():
        got, want = fast.vocoder(mel), exact.vocoder(mel)
    assert got.dtype == torch.float32 and got.shape == want.shape
    assert snr_db(got.numpy(), want.numpy()) > 30


def test_streamed_bf16_vocoder_equals_its_whole_result(tiny, native):
    vocoder = load_tts(preset="fast").vocoder
    torch.manual_seed(1)
    mel = torch.randn(90, 80)
    with torch.inference_mode():
        want = vocoder(mel)
        stream = StreamingHifiGan(vocoder)
        got = torch.cat([stream(mel[:20]), stream(mel[20:55]), stream(mel[55:], final=True)])
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=2e-2, atol=1e-2 * float(want.abs().max()))


def test_without_native_bf16_nothing_changes(tiny, not_native):
    assert load_tts(preset="fast").vocoder.conv_pre.weight.dtype == torch.float32
    assert bf16.encoder_dtype("cpu") == torch.float32
    asr = load_asr()
    window = torch.randn(1, asr.model.config.num_mel_bins, 3000)
    with torch.inference_mode():
        torch.testing.assert_close(bf16.encode(asr.model, window), asr.model.get_encoder()(window).last_hidden_state,
                                   rtol=0, atol=0)


def test_encoder_dtypes():
    assert bf16.encoder_dtype(torch.device("cuda")) == torch.float16  # no GPU needed to pick it
    assert bf16.encoder_dtype("meta") == torch.float32


def test_fastest_encodes_in_bf16_once_per_model(tiny, native):
    asr = load_asr()
    window = torch.randn(1, asr.model.config.num_mel_bins, 3000)
    with torch.inference_mode():
        got = bf16.encode(asr.model, window)
        again = bf16.encode(asr.model, window)
        want = asr.model.get_encoder()(window).last_hidden_state
    copy = bf16._encoders[asr.model]
    assert next(copy.parameters()).dtype == torch.bfloat16
    assert next(asr.model.get_encoder().parameters()).dtype == torch.float32  # the model itself is untouched
    assert got.dtype == torch.float32 and torch.equal(got, again)
    assert not torch.equal(got, want)
    assert snr_db(got.numpy(), want.numpy()) > 25


def test_fastest_preset_runs_the_cascade(tiny, native, speech):
    assert "fastest" in settings.PRESETS
    text = translate(speech, sampling_rate=16000, preset="fastest")
    assert isinstance(text, str)
    audio = synthesise("Hello there.", maxlenratio=4.0, seed=0, preset="fastest")
    same = synthesise("Hello there.", maxlenratio=4.0, seed=0, preset="fast")
    assert audio.dtype == same.dtype and len(audio) == len(same) and (audio == same).all()


def test_fastest_without_native_bf16_is_fast(tiny, not_native, speech):
    texts = []
    for preset in ("fastest", "fast"):
        torch.manual_seed(0)  # the tiny model's text falls back to sampling
        texts.append(translate(speech, sampling_rate=16000, preset=preset, return_language=True))
    assert texts[0] == texts[1]
