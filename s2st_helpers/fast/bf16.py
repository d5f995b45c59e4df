"""bfloat16 where the processor computes it natively.

Introduced in ``06_speed``. A CPU with AVX-512 BF16 or AMX multiplies bfloat16 at
about twice the float32 rate; elsewhere PyTorch emulates it and it is slower than
float32, so these helpers do nothing there.

* ``fast``: HiFi-GAN's convolutions (compute-bound: 0.34 s to 0.15 s for 4.8 s of
  speech; 45 dB SNR from float32). The text is not touched.
* ``fastest``: ``fast``, plus Whisper's encoder, the largest single cost of a short
  clip (a padded 30 s window: 0.51 s to 0.24 s on two cores; each window of a longer
  recording too, and a window whose first pass loops falls back to ``generate``, in
  float32). This changes the
  translated text of some clips (3 of the 27 shared ones), which is why it is a
  preset of its own; ``benchmarks/README.md`` has its BLEU. On a GPU the encoder runs
  in float16, as OpenAI's own Whisper code does by default there.
"""

from __future__ import annotations

import copy
import functools
import weakref

import torch

from .kept import kept


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bfloat16 natively (a CUDA device counts when it
    supports it; a CPU needs AVX-512 BF16 or AMX)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(cpu, name, lambda: False)() for name in checks)


def convolutions_to_bf16(vocoder) -> bool:
    """Store HiFi-GAN's convolution weights in bfloat16, on a CPU that computes it
    natively. The vocoder still takes and returns float32: its normalisation runs in
    float32, the first convolution casts its input, and the last casts its output
    back before the tanh. Returns whether it did."""
    device = next(vocoder.parameters()).device
    if device.type != "cpu" or not native_bf16(device):
        return False
    for module in vocoder.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            module.to(torch.bfloat16)
    vocoder.conv_pre.register_forward_pre_hook(_input_to_bf16)
    vocoder.conv_post.register_forward_hook(_output_to_float)
    return True


def _input_to_bf16(module, args):  # hooks by name, not lambdas, so the vocoder still pickles
    return (args[0].to(torch.bfloat16),)


def _output_to_float(module, args, out):
    return out.float()


def encoder_dtype(device: torch.device | str) -> torch.dtype:
    """Whisper's encoder dtype under ``fastest``: float16 on a GPU, bfloat16 on a CPU
    that computes it natively, else float32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.float16
    return torch.bfloat16 if native_bf16(device) else torch.float32


_encoders: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def encode(model, window: torch.Tensor) -> torch.Tensor:
    """Whisper's encoder output for one window of features, computed in
    :func:`encoder_dtype` (a copy of the encoder in that dtype is made once per model)
    and returned in float32 for the decoder."""
    dtype = encoder_dtype(window.device)
    if dtype == torch.float32:
        return model.get_encoder()(window).last_hidden_state
    encoder = _encoders.get(model)
    if encoder is None or next(encoder.parameters()).dtype != dtype:
        encoder = _encoders[model] = copy.deepcopy(model.get_encoder()).to(dtype)
    return encoder(window.to(dtype)).last_hidden_state.float()


def conv1d(conv: torch.nn.Conv1d):
    """``conv`` (stride 1, no padding of its own) as a function of a (time, channels)
    input, returning (time, channels), for HiFi-GAN's stream (:mod:`s2st_helpers.fast.hifigan_stream`). In bfloat16 on a CPU
    the weight is laid out once in oneDNN's blocked order: ``F.conv1d`` lays it out
    again at every call, which costs ~0.1 ms for 256 channels whatever the input's
    length, most of a small block's cost. The results differ from ``F.conv1d``'s by
    bfloat16's rounding (one unit in the last place), no further from float64's.
    Elsewhere, or where PyTorch lacks the oneDNN operators, it is ``F.conv1d``. Made
    once per convolution and weight (kept on the module): a weight replaced is seen, a
    weight overwritten in place is not (its laid-out copy stays as it was)."""
    key = (conv.weight.data_ptr(), conv.weight.dtype, conv.weight.device)
    return kept(conv, "conv1d", key, lambda: _conv1d(conv))


def _conv1d(conv: torch.nn.Conv1d):
    dilation, weight, bias = conv.dilation[0], conv.weight, conv.bias

    def plain(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv1d(x.T[None], weight, bias, dilation=dilation, groups=conv.groups)[0].T

    if weight.dtype != torch.bfloat16 or weight.device.type != "cpu" or conv.groups != 1 or not _onednn():
        return plain
    try:
        packed = torch._C._nn.mkldnn_reorder_conv2d_weight(weight.detach().unsqueeze(2).to_mkldnn(), [0, 0],
                                                           [1, 1], [1, dilation], 1, [])
    except RuntimeError:
        return plain
    dilations = [1, dilation]

    def call(x: torch.Tensor) -> torch.Tensor:
        # (time, channels) is oneDNN's channels-last: in and out without a copy
        out = torch.ops.mkldnn._convolution_pointwise(x.T[None, :, None], packed, bias, [0, 0], [1, 1],
                                                      dilations, 1, "none", [], "")
        return out[0, :, 0].T
    return call


@functools.cache
def _onednn() -> bool:
    """Whether this PyTorch has the oneDNN operators :func:`conv1d` uses, and they
    give F.conv1d's result on a small case."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:  # its own generator: the global one draws the speech's dropout masks
        draw = torch.Generator().manual_seed(0)
        weight, bias, x = (torch.randn(*shape, generator=draw).to(torch.bfloat16) for shape in ((4, 4, 3), (4,),
                                                                                               (1, 4, 16)))
        packed = torch._C._nn.mkldnn_reorder_conv2d_weight(weight.unsqueeze(2).to_mkldnn(), [0, 0], [1, 1],
                                                           [1, 2], 1, [])
        out = torch.ops.mkldnn._convolution_pointwise(x.unsqueeze(2), packed, bias, [0, 0], [1, 1], [1, 2], 1,
                                                      "none", [], "").squeeze(2)
        want = torch.nn.functional.conv1d(x, weight, bias, dilation=2)
        return out.shape == want.shape and bool(torch.allclose(out.float(), want.float(), rtol=0.02, atol=0.05))
    except (AttributeError, RuntimeError):
        return False
