"""Whisper's decoder weights read in float16 where that changes no number.

Introduced in ``06_speed``. OpenAI released Whisper in float16, and the hub's float32
checkpoint holds those float16 values: stored in float16 they are the same numbers in
half the bytes. A decoder step reads every decoder weight for a handful of rows (one
per beam), so it waits on memory, and the output projection over 51,865 tokens is the
largest read of all. fbgemm's float16 matrix product (the kernel behind PyTorch's
float16 dynamic quantisation) reads the weights in float16 and keeps the activations
and the sums in float32: the products are float32's, summed in another order, as
another BLAS would sum them. On two AVX2 cores that projection took 3.0 ms for five
beams against 9.9 ms in float32 (``benchmarks/README.md``).

:func:`half_linear` gives this for a CPU layer of at least ``MIN_WEIGHTS`` weights
whose weight and bias are all float16 values, where this PyTorch has the kernel;
anything else (a GPU, a fine-tuned model whose weights use float32's precision, a
build without fbgemm) keeps float32. In whisper-base that is the output projection
and the feed-forward layers: a 512 x 512 attention projection took longer for one row
this way (0.058 ms against 0.032 ms) and would add 25 MB of copies. The copies of the
others take 78 MB; laying them out costs ~0.6 s once per model, on the first
translation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .kept import kept

MIN_WEIGHTS = 1 << 20  # smaller layers stay float32: a small product waits on its call, not on memory


def half_linear(layer: torch.nn.Linear) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """``layer`` as a function of its input that reads float16 copies of its weights,
    or None where that would change a number, cannot run here, or the layer has fewer
    than ``MIN_WEIGHTS`` weights. Made once per layer and weights (kept on the
    layer)."""
    weight, bias = layer.weight, layer.bias
    if weight.numel() < MIN_WEIGHTS:
        return None
    key = (weight.data_ptr(), weight.dtype, weight.device, None if bias is None else bias.data_ptr())
    return kept(layer, "half_linear", key, lambda: _half_linear(weight, bias))


def _half_linear(weight: torch.Tensor, bias: torch.Tensor | None):
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or not _kernel():
        return None
    weight, bias = weight.detach(), None if bias is None else bias.detach()
    if not all(torch.equal(t, t.half().float()) for t in (weight, bias) if t is not None):
        return None
    packed = torch.ops.quantized.linear_prepack_fp16(weight, bias)
    outputs = weight.shape[0]

    def call(x: torch.Tensor) -> torch.Tensor:
        out = torch.ops.quantized.linear_dynamic_fp16(x.reshape(-1, x.shape[-1]), packed)
        return out.view(*x.shape[:-1], outputs)
    call.packed = packed  # for the scripted beam step (whisper_script.py), which calls the kernel itself
    return call


@functools.cache
def _kernel() -> bool:
    """Whether this PyTorch has fbgemm's float16 product and it gives F.linear's
    result, to float32's rounding, on a small case (no random draws: the global
    generator belongs to the speech's dropout)."""
    try:
        weight = (torch.arange(96, dtype=torch.float32).view(8, 12) / 16 - 3).half().float()
        bias = torch.linspace(-1, 1, 8).half().float()
        x = torch.linspace(-2, 2, 36).view(3, 12)
        out = torch.ops.quantized.linear_dynamic_fp16(x, torch.ops.quantized.linear_prepack_fp16(weight, bias))
        return bool(torch.allclose(out, F.linear(x, weight, bias), rtol=1e-5, atol=1e-5))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
