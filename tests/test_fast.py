"""The speed layer against the plain tier: the written-out SpeechT5 loop must give
what ``generate_speech`` gives, and ``preset="fast"`` what ``preset="exact"`` gives
(int8 aside, within its tolerance)."""

import copy
import threading

import numpy as np

import pytest
import torch

from s2st_helpers import synthesise, synthesise_stream
from s2st_helpers import settings
from s2st_helpers.evaluation import snr_db
from s2st_helpers.fast.speecht5_steps import FIRST_BLOCK, VOCODER_LAG, speech_blocks
from s2st_helpers.models import clear_cache, load_tts

HOP = 256


@pytest.fixture
def exact(tiny):
    return load_tts(preset="exact")


def reference(tts, ids, speaker, seed, vocoder=True, **kwargs):
    torch.manual_seed(seed)
    with torch.inference_mode():
        return tts.model.generate_speech(ids, speaker, vocoder=tts.vocoder if vocoder else None, **kwargs)


def streamed(tts, ids, speaker, seed, vocoder=True, **kwargs):
    torch.manual_seed(seed)
    with torch.inference_mode():
        return list(speech_blocks(tts.model, tts.vocoder if vocoder else None, ids, speaker, **kwargs))


def graph_for(model, frames=5, steps=10):
    """The model's recorded step for a sentence of ``frames`` encoder frames."""
    from s2st_helpers.fast import cuda_graph

    return cuda_graph.graphed_step(model, torch.zeros(1, frames, model.config.hidden_size), steps)


def ids_for(tts, text):
    return tts.processor(text=text, return_tensors="pt").input_ids


@pytest.mark.parametrize("first_block", [FIRST_BLOCK, 4, 1000])
def test_blocks_join_to_generate_speech(exact, first_block):
    ids, speaker = ids_for(exact, "A sentence long enough for several blocks."), torch.randn(1, 512)
    want = reference(exact, ids, speaker, seed=7, maxlenratio=6.0)
    blocks = streamed(exact, ids, speaker, seed=7, maxlenratio=6.0, first_block=first_block)
    got = torch.cat(blocks)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()))
    if first_block < 1000:  # the first push holds first_block frames plus HiFi-GAN's lag (less for tiny models)
        assert len(blocks) >= 3 and 0 < len(blocks[0]) <= (first_block + VOCODER_LAG + 1) * HOP


@pytest.mark.parametrize("uniform", [True, False])
def test_either_dropout_draw_gives_generate_speechs_output(exact, monkeypatch, uniform):
    # the rand < p shortcut where this CPU allows it, bernoulli_ itself elsewhere
    from s2st_helpers.fast import speecht5_steps

    if uniform and not speecht5_steps._bernoulli_is_uniform():
        pytest.skip("this CPU's bernoulli_ is not rand < p (MKL's generator)")
    monkeypatch.setattr(speecht5_steps, "_bernoulli_is_uniform", lambda: uniform)
    ids, speaker = ids_for(exact, "Dropout masks."), torch.randn(1, 512)
    want = reference(exact, ids, speaker, seed=3, maxlenratio=4.0)
    got = torch.cat(streamed(exact, ids, speaker, seed=3, maxlenratio=4.0))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()))


def test_dropout_probe_leaves_the_generator_as_it_was():
    from s2st_helpers.fast import speecht5_steps

    torch.manual_seed(5)
    before = torch.get_rng_state()
    speecht5_steps._bernoulli_is_uniform.cache_clear()
    speecht5_steps._bernoulli_is_uniform()
    assert torch.equal(torch.get_rng_state(), before)


def test_streaming_starts_no_thread(exact):
    # a thread that keeps an OpenMP team of its own slows every small operation of
    # the process on two cores (see speecht5_steps): the stream runs in the caller's
    before = set(threading.enumerate())
    streamed(exact, ids_for(exact, "Hello there."), torch.randn(1, 512), seed=0, maxlenratio=4.0)
    assert set(threading.enumerate()) == before


def test_spectrogram_blocks_match_too(exact):
    ids, speaker = ids_for(exact, "Hello there."), torch.randn(1, 512)
    want = reference(exact, ids, speaker, seed=1, vocoder=False, maxlenratio=8.0)
    got = torch.cat(streamed(exact, ids, speaker, seed=1, vocoder=False, maxlenratio=8.0))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_stop_head_and_minimum_length(exact):
    """A stop head that fires at once: the loop stops where upstream stops, after minlen."""
    model = copy.deepcopy(exact.model)
    with torch.no_grad():
        model.speech_decoder_postnet.prob_out.bias.fill_(20.0)
    tts = type(exact)(model, exact.processor, exact.vocoder, exact.device)
    ids, speaker = ids_for(tts, "Stop early please."), torch.randn(1, 512)
    for minlenratio in (0.0, 1.0):
        want = reference(tts, ids, speaker, seed=2, minlenratio=minlenratio, maxlenratio=5.0)
        got = torch.cat(streamed(tts, ids, speaker, seed=2, minlenratio=minlenratio, maxlenratio=5.0))
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()))


@pytest.mark.parametrize("every", [3, 5])
def test_stop_head_read_late_gives_the_same_speech_and_generator(exact, every):
    """As on a GPU, the stop head read every few steps: steps made past the stop are
    dropped and the generator is put back, so the speech and the state after it are
    generate_speech's (a stop head that fires at once, after minlen, and wherever
    the tiny model's own head reaches a threshold)."""
    model = copy.deepcopy(exact.model)
    with torch.no_grad():
        model.speech_decoder_postnet.prob_out.bias.fill_(20.0)
    eager = type(exact)(model, exact.processor, exact.vocoder, exact.device)
    ids, speaker = ids_for(exact, "Stop where upstream stops."), torch.randn(1, 512)
    cases = [(eager, {"minlenratio": 0.0}), (eager, {"minlenratio": 1.0})]
    cases += [(exact, {"threshold": t}) for t in (0.6, 0.9, 1.2, 3.0)]  # 3.0: never stops
    lengths = set()
    for tts, options in cases:
        want = reference(tts, ids, speaker, seed=2, maxlenratio=5.0, **options)
        want_state = torch.get_rng_state()
        got = torch.cat(streamed(tts, ids, speaker, seed=2, maxlenratio=5.0, first_block=4,
                                 read_stop_every=every, **options))
        assert got.shape == want.shape, options
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()))
        assert torch.equal(torch.get_rng_state(), want_state), options
        lengths.add(len(want))
    assert len(lengths) >= 3  # the stop fell at different steps


@pytest.mark.parametrize("every", [0, -1, 1.5, True, "8"])
def test_read_stop_every_must_be_a_whole_number(exact, every):
    with pytest.raises(ValueError, match="read_stop_every"):
        streamed(exact, ids_for(exact, "Hello."), torch.randn(1, 512), seed=0, read_stop_every=every)


def test_padded_batches_are_refused(exact):
    ids = torch.tensor([[4, 5, 6, exact.model.config.pad_token_id]])
    with pytest.raises(ValueError, match="unpadded"):
        list(speech_blocks(exact.model, exact.vocoder, ids, torch.randn(1, 512)))


def test_stream_starts_small_and_joins_to_synthesise(tiny):
    blocks = list(synthesise_stream("First sentence here. Second one!", maxlenratio=6.0, seed=4))
    assert 0 < len(blocks[0]) <= (FIRST_BLOCK + VOCODER_LAG + 1) * HOP
    assert np.array_equal(np.concatenate(blocks), synthesise("First sentence here. Second one!",
                                                             maxlenratio=6.0, seed=4))


def test_fast_preset_is_int8_and_close(tiny):
    fast, exact = load_tts(preset="fast"), load_tts(preset="exact")
    layer = fast.model.speecht5.decoder.wrapped_decoder.layers[0].feed_forward.intermediate_dense
    assert "quantized" in type(layer).__module__
    assert isinstance(exact.model.speech_decoder_postnet.feat_out, torch.nn.Linear)
    a = synthesise("Close enough.", maxlenratio=4.0, seed=3, preset="fast")
    b = synthesise("Close enough.", maxlenratio=4.0, seed=3, preset="exact")
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_preset_names(monkeypatch):
    assert settings.preset() == "fast"
    monkeypatch.setenv("S2ST_PRESET", "exact")
    assert settings.preset() == "exact"
    with pytest.raises(ValueError, match="preset"):
        settings.preset("turbo")


@pytest.fixture
def float32_fast(tiny, monkeypatch):
    """The speed layer without int8 or bfloat16 (as on a GPU), to compare its loops alone."""
    import s2st_helpers.fast.bf16 as bf16
    import s2st_helpers.fast.int8 as int8

    monkeypatch.setattr(int8, "quantise_int8", lambda model, checkpoint=None: model)
    monkeypatch.setattr(bf16, "convolutions_to_bf16", lambda vocoder: False)
    clear_cache()
    yield
    clear_cache()


@pytest.mark.parametrize("text", ["One sentence.", "A first sentence here. And a second, longer one after it!"])
def test_fast_tier_equals_plain_tier(float32_fast, text):
    """Same seed, same speech: the speed layer's loops change no sample beyond rounding."""
    exact = synthesise(text, maxlenratio=5.0, seed=9, preset="exact")
    fast = synthesise(text, maxlenratio=5.0, seed=9, preset="fast")
    assert fast.shape == exact.shape
    assert snr_db(fast, exact) > 80


def test_int8_is_within_tolerance(tiny):
    """The fast preset on a CPU is int8: close to the plain tier, not equal (the
    real-model tier holds full-size SpeechT5 to 25 dB; random tiny weights are
    rougher: 28.6 dB when written, so here 20 dB)."""
    exact = synthesise("Within tolerance.", maxlenratio=4.0, seed=2, preset="exact")
    fast = synthesise("Within tolerance.", maxlenratio=4.0, seed=2, preset="fast")
    assert fast.shape == exact.shape and not np.array_equal(fast, exact)
    print(f"int8 vs float32 on the tiny model: {snr_db(fast, exact):.1f} dB SNR")
    assert snr_db(fast, exact) > 20


def _quantised(out_features, in_features=24, per_channel=False, bias=True):
    import warnings

    linear = torch.nn.Linear(in_features, out_features, bias=bias)
    qconfig = torch.ao.quantization.per_channel_dynamic_qconfig if per_channel else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = {torch.nn.Linear: qconfig} if qconfig else {torch.nn.Linear}
        return torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(linear), spec, dtype=torch.qint8)[0]


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_direct_int8_calls_are_the_modules_bit_for_bit(per_channel, bias):
    """Stacked into one product or called alone, the int8 layers give the modules'
    own outputs exactly: each row keeps its layer's scale."""
    from s2st_helpers.fast.int8 import direct

    torch.manual_seed(1)
    layers = [_quantised(n, per_channel=per_channel, bias=bias) for n in (24, 16, 8)]
    x = torch.randn(1, 1, 24) * 4
    stacked = direct(*layers)(x)
    assert len(stacked) == 3
    for got, layer in zip(stacked, layers):
        assert torch.equal(got, layer(x))
    assert torch.equal(direct(layers[1])(x), layers[1](x))


def test_direct_calls_of_float_or_mixed_layers_are_the_modules():
    from s2st_helpers.fast.int8 import direct

    torch.manual_seed(2)
    plain, other = torch.nn.Linear(24, 12), torch.nn.Linear(24, 6, bias=False)
    x = torch.randn(1, 1, 24)
    assert torch.equal(direct(plain)(x), plain(x))
    mixed = direct(plain, _quantised(5), other)(x)  # not all int8: one call each
    assert [t.shape[-1] for t in mixed] == [12, 5, 6] and torch.equal(mixed[2], other(x))
    wide = direct(_quantised(4, in_features=24), _quantised(4, in_features=24))
    assert [t.shape[-1] for t in wide(x)] == [4, 4]


def test_int8_loop_through_direct_calls_is_the_loop_through_modules(tiny, monkeypatch):
    """The int8 loop's direct, stacked calls change no bit of its speech against the
    same loop calling each layer's module (``generate_speech`` itself differs: it runs
    the prenet on every frame, and int8 scales each input by its largest value)."""
    from s2st_helpers.fast import speecht5_steps

    fast = load_tts(preset="fast")
    ids, speaker = ids_for(fast, "The int8 loop."), torch.randn(1, 512)
    got = torch.cat(streamed(fast, ids, speaker, seed=5, maxlenratio=4.0))
    monkeypatch.setattr(speecht5_steps, "direct", lambda *layers: (
        layers[0] if len(layers) == 1 else (lambda x: [layer(x) for layer in layers])))
    monkeypatch.delitem(fast.model.__dict__, "_s2st_kept")  # put back afterwards: the module calls stay here
    want = torch.cat(streamed(fast, ids, speaker, seed=5, maxlenratio=4.0))
    assert torch.equal(got, want)


def test_step_calls_follow_the_model(exact):
    """Made once per model, made again when a layer or a weight is replaced."""
    from s2st_helpers.fast.speecht5_steps import step_calls

    model = exact.model
    first = step_calls(model)
    assert step_calls(model) is first
    postnet = model.speech_decoder_postnet
    postnet.feat_out.weight.data = postnet.feat_out.weight.data.clone()
    assert step_calls(model) is not first
    assert step_calls(copy.deepcopy(model)) is not step_calls(model)


def test_step_calls_follow_int8_weights_loaded_in_place(tiny):
    """``load_state_dict`` gives an int8 layer new packed weights and no parameter
    moves: the calls are made again all the same."""
    from s2st_helpers.fast.speecht5_steps import step_calls

    model = load_tts(preset="fast").model
    first = step_calls(model)
    model.load_state_dict(copy.deepcopy(model).state_dict())
    assert step_calls(model) is not first


def test_models_still_copy_and_pickle_after_speaking(tiny):
    """What the speed layer keeps on the models (direct calls, laid-out weights) is
    left out of a copy or a pickle, which makes its own."""
    import io

    from s2st_helpers.fast.speecht5_steps import step_calls

    synthesise("Keep nothing.", maxlenratio=2.0, seed=1)
    fast = load_tts(preset="fast")
    assert "_s2st_kept" in fast.model.__dict__
    for module in (fast.model, fast.vocoder):
        torch.save(module, io.BytesIO())
    twin = copy.deepcopy(fast.model)
    assert "step_calls" not in twin.__dict__["_s2st_kept"]
    assert step_calls(twin) is not step_calls(fast.model)


@pytest.mark.parametrize("splits", [[200], [16, 32, 64, 88], [1] * 30 + [170], [40, 0, 100, 60]])
def test_stateful_hifigan_equals_whole_spectrogram(exact, splits):
    from s2st_helpers.fast.hifigan_stream import StreamingHifiGan

    torch.manual_seed(0)
    mel = torch.randn(sum(splits), exact.model.config.num_mel_bins)
    with torch.inference_mode():
        want = exact.vocoder(mel)
        stream, pieces, start = StreamingHifiGan(exact.vocoder), [], 0
        for i, n in enumerate(splits):
            pieces.append(stream(mel[start:start + n], final=i == len(splits) - 1))
            start += n
    got = torch.cat(pieces)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()))
    with pytest.raises(RuntimeError, match="ended"):
        stream(mel[:4])


@pytest.mark.parametrize("dilation", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_stream_convolution_takes_and_gives_time_by_channels(dilation, dtype):
    """The stream's convolution: (time, channels) in and out, through oneDNN's weights
    laid out once where it can, within the dtype's rounding of ``F.conv1d``."""
    from s2st_helpers.fast.hifigan_stream import conv1d

    torch.manual_seed(3)
    conv = torch.nn.Conv1d(16, 8, 5, dilation=dilation).to(dtype)
    x = torch.randn(40, 16, dtype=dtype)
    with torch.inference_mode():
        got = conv1d(conv)(x)
        want = torch.nn.functional.conv1d(x.T[None], conv.weight, conv.bias, dilation=dilation)[0].T
    assert got.shape == (40 - 4 * dilation, 8) and got.dtype == dtype
    tolerance = {"rtol": 2e-2, "atol": 2e-2} if dtype == torch.bfloat16 else {"rtol": 1e-5, "atol": 1e-6}
    torch.testing.assert_close(got.float(), want.float(), **tolerance)
    assert conv1d(conv) is conv1d(conv)  # laid out once per weight
    conv.weight = torch.nn.Parameter(torch.zeros_like(conv.weight))
    with torch.inference_mode():  # a weight replaced is laid out again
        torch.testing.assert_close(conv1d(conv)(x).float(), conv.bias.float().expand(len(got), 8))


def test_stream_convolution_goes_through_onednn_on_this_cpu():
    """Where PyTorch has oneDNN (every CPU build the workbook installs), float32 takes
    the laid-out path too: ``F.conv1d`` copied the stream's signals at every call."""
    from s2st_helpers.fast import hifigan_stream

    if not torch.backends.mkldnn.is_available():
        pytest.skip("this PyTorch has no oneDNN")
    conv = torch.nn.Conv1d(4, 4, 3)
    assert hifigan_stream._onednn(torch.float32)
    assert hifigan_stream.conv1d(conv).__name__ == "call"


def test_stream_convolution_probe_leaves_the_random_stream_alone():
    """The probe runs mid-sentence, between dropout draws: it must not draw from the
    global generator (a seed would then give different speech on the first call)."""
    from s2st_helpers.fast import hifigan_stream

    hifigan_stream._onednn.cache_clear()
    torch.manual_seed(5)
    hifigan_stream._onednn(torch.float32)
    hifigan_stream._onednn(torch.bfloat16)
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(3))


def _int8_from(model_dir, checkpoint):
    from transformers import SpeechT5ForTextToSpeech

    from s2st_helpers.fast.int8 import quantise_int8

    model = SpeechT5ForTextToSpeech.from_pretrained(model_dir, dtype=torch.float32).eval()
    return quantise_int8(model, checkpoint)


def _int8_weights(model):
    return {name: module.weight().int_repr() for name, module in model.named_modules()
            if isinstance(module, torch.ao.nn.quantized.dynamic.Linear)}


def test_int8_read_layer_by_layer_equals_quantising_the_model(tiny_paths):
    """Read from the checkpoint one layer at a time, or quantised from the loaded
    model: the same int8 weights, scales and outputs."""
    from s2st_helpers.fast.int8 import checkpoint_file

    path = tiny_paths["tts"]
    streamed, whole = _int8_from(path, checkpoint_file(path)), _int8_from(path, None)
    assert checkpoint_file(path).endswith("model.safetensors")
    got, want = _int8_weights(streamed), _int8_weights(whole)
    assert got.keys() == want.keys() and len(got) > 10
    for name in got:
        assert torch.equal(got[name], want[name]), name
    assert not any(isinstance(m, torch.nn.Linear) for m in streamed.modules())
    from transformers import SpeechT5ForTextToSpeech

    from s2st_helpers.fast.int8 import _Checkpoint

    fresh = SpeechT5ForTextToSpeech.from_pretrained(path, dtype=torch.float32)
    with _Checkpoint(checkpoint_file(path)) as weights:  # every layer came from the file
        assert all(weights.linear(n, m) is not None for n, m in fresh.named_modules()
                   if isinstance(m, torch.nn.Linear))
    x = torch.randn(3, streamed.config.hidden_size)
    name = "speecht5.decoder.wrapped_decoder.layers.0.feed_forward.intermediate_dense"
    torch.testing.assert_close(streamed.get_submodule(name)(x), whole.get_submodule(name)(x), rtol=0, atol=0)


def test_int8_falls_back_to_the_models_weights_when_the_file_differs(tiny_paths, tmp_path):
    """A checkpoint whose tensors are not the model's is not used: the model's own
    weights are quantised instead."""
    from safetensors.torch import load_file, save_file

    path = tiny_paths["tts"]
    tensors = load_file(f"{path}/model.safetensors")
    name = "speecht5.decoder.wrapped_decoder.layers.0.feed_forward.intermediate_dense.weight"
    tensors[name] = tensors[name] + 1.0
    other = tmp_path / "model.safetensors"
    save_file(tensors, str(other))
    from transformers import SpeechT5ForTextToSpeech

    from s2st_helpers.fast.int8 import _Checkpoint

    fresh = SpeechT5ForTextToSpeech.from_pretrained(path, dtype=torch.float32)
    with _Checkpoint(other) as weights:
        assert weights.linear(name[:-len(".weight")], fresh.get_submodule(name[:-len(".weight")])) is None
    got, want = _int8_weights(_int8_from(path, other)), _int8_weights(_int8_from(path, None))
    for key in got:
        assert torch.equal(got[key], want[key]), key


@pytest.fixture
def fixed_shape_step(exact, monkeypatch):
    """The CUDA graph's step (cuda_graph.py), run eagerly on the CPU in place of the loop."""
    from s2st_helpers.fast import cuda_graph, speecht5_steps

    static = cuda_graph.StaticSpeechT5Step(exact.model)

    def use_static(model, memory, capacity):
        assert model is exact.model and static.fits(memory, capacity)
        assert static.busy.acquire(blocking=False)
        return static

    monkeypatch.setattr(speecht5_steps, "_graphed", use_static)
    return static


@pytest.mark.parametrize("uniform", [True, False])
def test_fixed_shape_step_gives_generate_speechs_output(exact, fixed_shape_step, monkeypatch, uniform):
    """Masked full-length caches instead of growing ones: the same speech, for one
    sentence and for the next one on the same buffers (a longer text, then a shorter).
    ``uniform=False``: the masks drawn in place into the step's buffers, as on a GPU."""
    from s2st_helpers.fast import speecht5_steps

    if uniform and not speecht5_steps._bernoulli_is_uniform():
        pytest.skip("this CPU's bernoulli_ is not rand < p (MKL's generator)")
    monkeypatch.setattr(speecht5_steps, "_bernoulli_is_uniform", lambda: uniform)
    speaker = torch.randn(1, 512)
    for text in ("A sentence long enough for several blocks.", "Short one."):
        ids = ids_for(exact, text)
        want = reference(exact, ids, speaker, seed=11, maxlenratio=6.0)
        got = torch.cat(streamed(exact, ids, speaker, seed=11, maxlenratio=6.0))
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()))
    assert not fixed_shape_step.busy.locked()  # released when the sentence ends


@pytest.mark.parametrize("every", [None, 4])  # 4: the stop head read late, as on a GPU
def test_fixed_shape_step_stops_where_upstream_stops(exact, fixed_shape_step, every):
    model = exact.model
    bias = model.speech_decoder_postnet.prob_out.bias
    saved = bias.detach().clone()
    try:
        with torch.no_grad():
            bias.fill_(20.0)
        ids, speaker = ids_for(exact, "Stop early please."), torch.randn(1, 512)
        want = reference(exact, ids, speaker, seed=2, minlenratio=1.0, maxlenratio=5.0)
        want_state = torch.get_rng_state()
        got = torch.cat(streamed(exact, ids, speaker, seed=2, minlenratio=1.0, maxlenratio=5.0, read_stop_every=every))
        assert torch.equal(torch.get_rng_state(), want_state)
    finally:
        with torch.no_grad():
            bias.copy_(saved)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()))


def test_fixed_shape_step_is_released_when_the_stream_is_dropped(exact, fixed_shape_step):
    blocks = speech_blocks(exact.model, exact.vocoder, ids_for(exact, "A sentence long enough for several blocks."),
                           torch.randn(1, 512), maxlenratio=6.0, first_block=2)
    next(blocks)
    assert fixed_shape_step.busy.locked()
    blocks.close()
    assert not fixed_shape_step.busy.locked()


def test_no_cuda_graph_off_the_gpu(exact, monkeypatch):
    from s2st_helpers.fast import speecht5_steps

    memory = torch.zeros(1, 5, exact.model.config.hidden_size)
    assert speecht5_steps._graphed(exact.model, memory, 10) is None


def test_a_recording_that_fails_leaves_the_eager_loop(exact, monkeypatch):
    from s2st_helpers.fast import cuda_graph

    def fail(self):
        raise RuntimeError("capture refused")

    monkeypatch.setattr(cuda_graph.StaticSpeechT5Step, "record", fail)
    model = copy.deepcopy(exact.model)
    with pytest.warns(UserWarning, match="capture refused"):
        assert graph_for(model) is None
    assert graph_for(model) is None  # not tried again


def test_a_graph_in_use_is_not_shared(exact, monkeypatch):
    from s2st_helpers.fast import cuda_graph

    monkeypatch.setattr(cuda_graph.StaticSpeechT5Step, "record", lambda self: setattr(self, "graph", "recorded"))
    model = copy.deepcopy(exact.model)
    first = graph_for(model)
    assert first is not None and first.graph == "recorded"
    assert graph_for(model) is None  # a second caller runs the eager loop
    first.busy.release()
    assert graph_for(model) is first
    first.busy.release()


def test_a_graph_follows_the_weights(exact, monkeypatch):
    """A graph reads weights at the addresses it was recorded with: weights moved
    (model.half(), new tensors) mean a new recording, not stale ones."""
    from s2st_helpers.fast import cuda_graph

    monkeypatch.setattr(cuda_graph.StaticSpeechT5Step, "record", lambda self: setattr(self, "graph", "recorded"))
    model = copy.deepcopy(exact.model)
    first = graph_for(model)
    first.busy.release()
    assert graph_for(model) is first
    first.busy.release()
    with torch.no_grad():
        model.speech_decoder_postnet.feat_out.weight.data = model.speech_decoder_postnet.feat_out.weight.data.clone()
    second = graph_for(model)
    assert second is not None and second is not first and second.graph == "recorded"
    second.busy.release()


def test_an_interrupted_recording_is_tried_again(exact, monkeypatch):
    from s2st_helpers.fast import cuda_graph

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(cuda_graph.StaticSpeechT5Step, "record", interrupted)
    model = copy.deepcopy(exact.model)
    with pytest.raises(KeyboardInterrupt):
        graph_for(model)
    monkeypatch.setattr(cuda_graph.StaticSpeechT5Step, "record", lambda self: setattr(self, "graph", "recorded"))
    step = graph_for(model)  # not marked failed, and not left locked
    assert step is not None and step.graph == "recorded"
    assert cuda_graph.recorded(model) == ["StaticSpeechT5Step"]
    step.busy.release()


def test_a_failing_vocoder_releases_the_graphed_step(exact, fixed_shape_step):
    class Broken:
        conv_pre = None

    with pytest.raises(Exception):
        list(speech_blocks(exact.model, Broken(), ids_for(exact, "Hello."), torch.randn(1, 512), maxlenratio=2.0))
    assert not fixed_shape_step.busy.locked()


def test_a_sentence_too_long_for_the_buffers_is_not_recorded(exact, monkeypatch):
    from s2st_helpers.fast import cuda_graph

    calls = []
    monkeypatch.setattr(cuda_graph.StaticSpeechT5Step, "record", lambda self: calls.append(1))
    model = copy.deepcopy(exact.model)
    config = model.config
    assert graph_for(model, frames=config.max_text_positions + 1) is None
    assert graph_for(model, steps=config.max_speech_positions + 1) is None
    assert calls == []  # checked before recording
    step = graph_for(model, frames=config.max_text_positions, steps=config.max_speech_positions)
    assert step is not None and calls == [1]
    step.busy.release()


@pytest.mark.parametrize("dropout", [None, 0.3])  # 0.3: the prenet's 1 / (1 - p) is not a power of two
def test_scripted_int8_step_is_the_eager_step_bit_for_bit(tiny, monkeypatch, dropout):
    from s2st_helpers.fast import speecht5_script

    fast = load_tts(preset="fast")
    if dropout is not None:
        monkeypatch.setattr(fast.model.config, "speech_decoder_prenet_dropout", dropout)
    memory = torch.zeros(1, 5, fast.model.config.hidden_size)
    assert speecht5_script.scripted(fast.model, memory, 10) is not None  # the int8 model takes the script
    ids, speaker = ids_for(fast, "Scripted or not, the same bits."), torch.randn(1, 512)
    scripted = streamed(fast, ids, speaker, seed=6, maxlenratio=4.0)
    monkeypatch.setattr(speecht5_script, "SCRIPTED", False)
    eager = streamed(fast, ids, speaker, seed=6, maxlenratio=4.0)
    assert [len(b) for b in scripted] == [len(b) for b in eager]
    assert torch.equal(torch.cat(scripted), torch.cat(eager))


def test_scripted_step_only_where_it_applies(tiny, exact, monkeypatch):
    from s2st_helpers.fast import speecht5_script

    memory = torch.zeros(1, 5, exact.model.config.hidden_size)
    assert speecht5_script.scripted(exact.model, memory, 10) is None  # float32 layers: the eager step
    fast = load_tts(preset="fast")
    assert speecht5_script.scripted(fast.model, memory, 10) is not None
    fast.model.train()  # the positional encoding's dropout would be on: the eager step does that
    try:
        assert speecht5_script.scripted(fast.model, memory, 10) is None
    finally:
        fast.model.eval()
    monkeypatch.setattr(speecht5_script, "SCRIPTED", False)
    assert speecht5_script.scripted(fast.model, memory, 10) is None


def test_without_torchscript_the_eager_step_speaks(tiny, monkeypatch):
    from s2st_helpers.fast import speecht5_script

    fast = load_tts(preset="fast")
    ids, speaker = ids_for(fast, "No TorchScript here."), torch.randn(1, 512)
    want = torch.cat(streamed(fast, ids, speaker, seed=7, maxlenratio=4.0))

    def fails(fn):
        raise RuntimeError("TorchScript is not available")

    speecht5_script.scripted_step.cache_clear()
    monkeypatch.setattr(torch.jit, "script", fails)
    try:
        assert speecht5_script.scripted_step() is None
        memory = torch.zeros(1, 5, fast.model.config.hidden_size)
        assert speecht5_script.scripted(fast.model, memory, 10) is None
        assert torch.equal(torch.cat(streamed(fast, ids, speaker, seed=7, maxlenratio=4.0)), want)
    finally:
        speecht5_script.scripted_step.cache_clear()
