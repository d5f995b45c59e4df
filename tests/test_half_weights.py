"""Whisper's decoder weights read in float16 where they are float16 values
(``s2st_helpers.fast.half_weights``): the same numbers in half the bytes, so the same
text as the plain tier."""

import pytest
import torch

from s2st_helpers import translate_details
from s2st_helpers.fast import half_weights
from s2st_helpers.fast.half_weights import half_linear
from s2st_helpers.models import clear_cache, load_asr

needs_kernel = pytest.mark.skipif(not half_weights._kernel(), reason="this PyTorch has no fbgemm float16 product")


@pytest.fixture(autouse=True)
def any_size(monkeypatch):
    """The tests' layers are small: let them through (the size rule has a test of its own)."""
    monkeypatch.setattr(half_weights, "MIN_WEIGHTS", 1)


def halved(layer: torch.nn.Linear) -> torch.nn.Linear:
    """``layer`` with its weights rounded to float16 values (still stored in float32)."""
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(p.half().float())
    return layer


@needs_kernel
@pytest.mark.parametrize("shape", [(5, 64), (5, 1, 64), (1, 3, 64)])
def test_half_linear_gives_the_layers_output_to_float32s_rounding(shape):
    torch.manual_seed(0)
    layer = halved(torch.nn.Linear(64, 300))
    x = torch.randn(*shape)
    call = half_linear(layer)
    assert call is not None
    with torch.inference_mode():
        got, want = call(x), layer(x)
        transposed = call(x.transpose(0, -2)) if x.dim() == 3 else None  # a view, as the beam step passes
    assert got.shape == want.shape and got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    if transposed is not None:
        torch.testing.assert_close(transposed, layer(x.transpose(0, -2)), rtol=1e-5, atol=1e-5)
    assert half_linear(layer) is call  # laid out once per weight


def test_weights_that_are_not_float16_values_stay_float32():
    torch.manual_seed(1)
    assert half_linear(torch.nn.Linear(16, 8)) is None  # float32's own precision
    layer = halved(torch.nn.Linear(16, 8))
    with torch.no_grad():
        layer.bias[0] = 1 / 3  # one value float16 cannot hold
    assert half_linear(layer) is None
    assert half_linear(halved(torch.nn.Linear(16, 8)).to(torch.bfloat16)) is None
    assert half_linear(torch.nn.Linear(16, 8, device="meta")) is None


@needs_kernel
def test_small_layers_stay_float32(monkeypatch):
    monkeypatch.setattr(half_weights, "MIN_WEIGHTS", 1 << 20)
    assert half_linear(halved(torch.nn.Linear(512, 512))) is None  # whisper-base's attention projections
    assert half_linear(halved(torch.nn.Linear(512, 2048))) is not None  # its feed-forward layers


@needs_kernel
def test_a_replaced_weight_is_laid_out_again():
    torch.manual_seed(2)
    layer = halved(torch.nn.Linear(16, 8, bias=False))
    first = half_linear(layer)
    layer.weight = torch.nn.Parameter(torch.ones(8, 16))
    x = torch.randn(2, 16)
    with torch.inference_mode():
        assert half_linear(layer) is not first
        torch.testing.assert_close(half_linear(layer)(x), x.sum(-1, keepdim=True).expand(2, 8))


def test_kernel_probe_leaves_the_random_stream_alone():
    """The probe may run mid-sentence, between SpeechT5's dropout draws."""
    half_weights._kernel.cache_clear()
    torch.manual_seed(5)
    half_weights._kernel()
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(3))


@pytest.fixture
def whisper_in_half_values(tiny, tmp_path, monkeypatch):
    """The tiny Whisper with every weight rounded to a float16 value, as OpenAI's are."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    model = WhisperForConditionalGeneration.from_pretrained(tiny["asr"])
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    model.save_pretrained(tmp_path / "whisper")
    WhisperProcessor.from_pretrained(tiny["asr"]).save_pretrained(tmp_path / "whisper")
    monkeypatch.setenv("S2ST_ASR_MODEL", str(tmp_path / "whisper"))
    clear_cache()
    yield load_asr()
    clear_cache()


@needs_kernel
@pytest.mark.parametrize("options", [{"temperature": 0.0}, {"num_beams": 5},
                                     {"num_beams": 5, "compression_ratio_threshold": 0.5}])
def test_whisper_in_float16_values_decodes_as_the_plain_tier(whisper_in_half_values, speech, options):
    """The speed layer reads the decoder's weights in float16 here, and its text is
    still the plain tier's ``generate``'s (greedy, beam 5, and the fallback ladder)."""
    asr = whisper_in_half_values
    for scale in (1.0, 0.3):
        torch.manual_seed(11)
        fast = translate_details(speech * scale, sampling_rate=16000, preset="fast", **options)
        torch.manual_seed(11)
        exact = translate_details(speech * scale, sampling_rate=16000, preset="exact", **options)
        assert (fast.text, fast.language) == (exact.text, exact.language)
    decoder = asr.model.model.decoder
    used = [asr.model.proj_out, decoder.layers[0].fc1, decoder.layers[-1].fc2, decoder.layers[-1].self_attn.q_proj]
    assert all("half_linear" in layer.__dict__.get("_s2st_kept", {}) for layer in used)
    assert all(half_linear(layer) is not None for layer in used)
