"""Whisper's beam step from TorchScript (``s2st_helpers.fast.whisper_script``): the
Python step's logits bit for bit, on float32 layers and on layers read in float16."""

import pytest
import torch

from s2st_helpers.fast import half_weights, whisper_script
from s2st_helpers.fast.whisper_steps import WhisperBeamSteps, WhisperDecoderSteps
from s2st_helpers.models import load_asr
from s2st_helpers.translation import whisper_features


def decoder_steps(speech):
    asr = load_asr()
    config = asr.model.generation_config
    steps = WhisperDecoderSteps.encode(asr.model, whisper_features(asr, speech)["input_features"])
    prompt = [config.decoder_start_token_id, config.lang_to_id["<|fr|>"], config.task_to_id["translate"],
              config.no_timestamps_token_id]
    with torch.inference_mode():
        steps.restart(prompt)
    return asr, steps


def both_steps(steps, beams: int = 5):
    """The scripted step, and the Python step over the same prompt."""
    scripted, python = WhisperBeamSteps(steps, beams, 12), WhisperBeamSteps(steps, beams, 12)
    assert scripted.scripted is not None  # a CPU, a model in eval mode: the script applies
    python.scripted = None
    return scripted, python


def run_both(scripted, python, steps: int = 8):
    tokens = torch.tensor([5, 17, 3, 30, 8])
    parents = [torch.tensor(p) for p in ([0, 0, 1, 3, 2], [4, 3, 2, 1, 0], [1, 1, 1, 1, 1])]
    with torch.inference_mode():
        for k in range(steps):
            a, b = scripted.step(tokens), python.step(tokens)
            assert a.dtype == torch.float32 and a.shape == b.shape
            assert torch.equal(a, b), (k, (a - b).abs().max())
            n = scripted.length  # the caches past it are not written yet
            assert n == python.length
            assert torch.equal(scripted.keys[..., :n, :], python.keys[..., :n, :])
            assert torch.equal(scripted.values[..., :n, :], python.values[..., :n, :])
            scripted.reorder(parents[k % 3])
            python.reorder(parents[k % 3])
            tokens = a.argmax(-1)


def test_scripted_beam_step_is_the_python_step_bit_for_bit(tiny, speech):
    _, steps = decoder_steps(speech)
    run_both(*both_steps(steps))


@pytest.mark.skipif(not half_weights._kernel(), reason="this PyTorch has no fbgemm float16 product")
def test_scripted_beam_step_reads_float16_where_the_python_step_does(tiny, speech, monkeypatch):
    """Weights rounded to float16 values, as whisper-base's are: the larger layers
    (the feed-forward ones and the output projection) are read in float16, the
    attention projections in float32, by both steps."""
    asr = load_asr()
    decoder = asr.model.model.decoder
    with torch.no_grad():
        for p in list(decoder.parameters()) + list(asr.model.proj_out.parameters()):
            p.copy_(p.half().float())
    monkeypatch.setattr(half_weights, "MIN_WEIGHTS", decoder.layers[0].fc1.weight.numel())
    _, steps = decoder_steps(speech)
    scripted, python = both_steps(steps)
    halves = scripted.scripted.halves
    assert halves[6] is not None and halves[7] is not None and halves[-1] is not None  # fc1, fc2, projection
    assert halves[0] is None  # the attention's key projection
    run_both(scripted, python)


def test_scripted_beam_step_only_where_it_applies(tiny, speech, monkeypatch):
    asr, steps = decoder_steps(speech)
    assert whisper_script.scripted(steps) is not None
    monkeypatch.setattr(whisper_script, "SCRIPTED", False)
    assert whisper_script.scripted(steps) is None
    monkeypatch.setattr(whisper_script, "SCRIPTED", True)
    asr.model.train()
    try:
        assert whisper_script.scripted(steps) is None  # dropout would run in training
    finally:
        asr.model.eval()
    layer = steps.layers[0]
    monkeypatch.setattr(layer, "activation_fn", torch.nn.ReLU())
    assert whisper_script.scripted(steps) is None  # the script's step has Whisper's GELU written in


def test_without_torchscript_the_python_step_decodes(tiny, speech, monkeypatch):
    from s2st_helpers.fast.whisper_steps import beam_search

    asr, steps = decoder_steps(speech)
    prompt = list(steps.tokens)
    scripted = beam_search(steps, prompt, 12, 5)

    def fails(*args, **kwargs):
        raise RuntimeError("no TorchScript here")

    whisper_script.scripted_step.cache_clear()
    monkeypatch.setattr(torch.jit, "script", fails)
    try:
        assert whisper_script.scripted(steps) is None
        assert torch.equal(beam_search(steps, prompt, 12, 5), scripted)
    finally:
        monkeypatch.undo()
        whisper_script.scripted_step.cache_clear()
