"""Whisper's beam step as one TorchScript function, on a CPU.

Introduced in ``06_speed``, beside SpeechT5's scripted step
(:mod:`s2st_helpers.fast.speecht5_script`). A beam step of whisper-base makes ~50
matrix products and ~150 small operations for five rows, and on two cores Python's
calls between them cost about as much as the small operations themselves. TorchScript
runs the same operations, in the same order on the same tensors, from its own
interpreter: the logits are the same bit for bit, so the beams are too. it_001's beam
search took 0.40 s against 0.50 s (``benchmarks/README.md``). ``torch.jit.script`` is deprecated in favour
of ``torch.compile``; where TorchScript is missing or fails, the Python step of
:class:`~s2st_helpers.fast.whisper_steps.WhisperBeamSteps` runs instead.
"""

from __future__ import annotations

import functools
from typing import List, Optional  # TorchScript reads List[...] and Optional[...] from the annotations

import torch
import torch.nn.functional as F

from .half_weights import half_linear
from .torchscript import script

SCRIPTED = True  # off: the Python step, as on a CPU without TorchScript
LAYER_LINEARS = (("self_attn", "k_proj"), ("self_attn", "v_proj"), ("self_attn", "q_proj"), ("self_attn", "out_proj"),
                 ("encoder_attn", "q_proj"), ("encoder_attn", "out_proj"), ("fc1",), ("fc2",))  # _step's order
LAYER_NORMS = ("self_attn_layer_norm", "encoder_attn_layer_norm", "final_layer_norm")


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
            half: Optional[torch.classes.quantized.LinearPackedParamsBase], rows: bool) -> torch.Tensor:
    """``whisper_steps._linear`` (``rows``: ``_module``, that is ``F.linear``) for a
    layer whose float16 copy is ``half``, or None."""
    shape = x.shape[:-1] + [weight.shape[0]]
    if half is not None:
        return torch.ops.quantized.linear_dynamic_fp16(x.reshape(-1, x.shape[-1]), half).view(shape)
    if rows:
        return F.linear(x, weight, bias)
    flat = x.reshape(-1, x.shape[-1]).t()
    out = torch.mm(weight, flat) if bias is None else torch.addmm(bias.unsqueeze(1), weight, flat)
    return out.t().reshape(shape)


def _attend(hidden: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, weights: List[torch.Tensor],
            biases: List[Optional[torch.Tensor]], halves: List[Optional[torch.classes.quantized.LinearPackedParamsBase]],
            q: int, heads: int, head_dim: int, scaling: float) -> torch.Tensor:
    """``WhisperDecoderSteps._attend``: the query from linear ``q``, the output through ``q + 1``."""
    query = (_linear(hidden, weights[q], biases[q], halves[q], False) * scaling).contiguous()
    query = query.view(query.shape[0], -1, heads, head_dim).transpose(1, 2)
    out = F.scaled_dot_product_attention(query, keys, values, scale=1.0)
    return _linear(out.transpose(1, 2).reshape(hidden.shape), weights[q + 1], biases[q + 1], halves[q + 1], False)


def _step(tokens: torch.Tensor, embedding: torch.Tensor, position: torch.Tensor, norms: List[torch.Tensor],
          weights: List[torch.Tensor], biases: List[Optional[torch.Tensor]],
          halves: List[Optional[torch.classes.quantized.LinearPackedParamsBase]], keys: torch.Tensor,
          values: torch.Tensor, length: int, cross_keys: List[torch.Tensor], cross_values: List[torch.Tensor],
          heads: int, head_dim: int, scaling: float, eps: float) -> torch.Tensor:
    """``WhisperBeamSteps.step``: feed one token per beam, write the beams' keys and
    values at ``length``, return the next-token logits (beams, vocab) in float32.
    ``norms``: weight and bias of the three norms per layer, then the decoder's last;
    ``weights``, ``biases``, ``halves``: the eight linear layers per layer in
    ``LAYER_LINEARS``' order, then the output projection."""
    hidden = F.embedding(tokens.unsqueeze(1), embedding) + position
    width = hidden.shape[-1]
    beams = tokens.shape[0]
    for i in range(len(cross_keys)):
        w, b, h, n = weights[8 * i:8 * i + 8], biases[8 * i:8 * i + 8], halves[8 * i:8 * i + 8], norms[6 * i:6 * i + 6]
        normed = F.layer_norm(hidden, [width], n[0], n[1], eps)
        keys[i, :, :, length] = _linear(normed, w[0], b[0], h[0], False).view(beams, heads, head_dim)
        values[i, :, :, length] = _linear(normed, w[1], b[1], h[1], False).view(beams, heads, head_dim)
        hidden = hidden + _attend(normed, keys[i, :, :, :length + 1], values[i, :, :, :length + 1], w, b, h, 2,
                                  heads, head_dim, scaling)
        normed = F.layer_norm(hidden, [width], n[2], n[3], eps).transpose(0, 1)
        hidden = hidden + _attend(normed, cross_keys[i], cross_values[i], w, b, h, 4, heads, head_dim,
                                  scaling).transpose(0, 1)
        ff = _linear(F.layer_norm(hidden, [width], n[4], n[5], eps), w[6], b[6], h[6], False)
        hidden = hidden + _linear(F.gelu(ff), w[7], b[7], h[7], True)
    last = F.layer_norm(hidden, [width], norms[-2], norms[-1], eps)[:, -1]
    return _linear(last, weights[-1], biases[-1], halves[-1], False).float()


@functools.cache
def scripted_step():
    """``_step`` compiled by TorchScript, or None where it cannot be (:func:`.torchscript.script`)."""
    return script(_step)


class ScriptedBeamStep:
    """The beam step of one window's decoder (a ``WhisperDecoderSteps``) as
    :func:`scripted_step`; call with the beams' tokens, their caches and the length."""

    def __init__(self, steps, function, linears: list, norms: list):
        decoder, layers = steps.decoder, steps.layers
        self.function = function
        self.weights = [linear.weight for linear in linears]
        self.biases = [linear.bias for linear in linears]
        self.halves = [_half(linear) for linear in linears]
        self.norms = [t for norm in norms for t in (norm.weight, norm.bias)]
        self.embedding, self.positions = decoder.embed_tokens.weight, decoder.embed_positions.weight
        self.cross_keys = [keys for keys, _ in steps.cross]
        self.cross_values = [values for _, values in steps.cross]
        attn = layers[0].self_attn
        self.options = dict(heads=steps.heads, head_dim=steps.head_dim, scaling=attn.scaling,
                            eps=layers[0].self_attn_layer_norm.eps)

    def __call__(self, tokens: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, length: int) -> torch.Tensor:
        return self.function(tokens, self.embedding, self.positions[length:length + 1], self.norms, self.weights,
                             self.biases, self.halves, keys, values, length, self.cross_keys, self.cross_values,
                             **self.options)


def scripted(steps) -> ScriptedBeamStep | None:
    """The scripted beam step where it applies: on a CPU, a model in eval mode whose
    decoder layers are Whisper's (exact GELU, one epsilon in its norms, plain linear
    layers), and TorchScript at hand; otherwise None (take the Python step)."""
    model = steps.model
    if not SCRIPTED or steps.keys.device.type != "cpu" or model.training:
        return None
    layers, (linears, norms) = steps.layers, _parts(steps)
    if (any(type(linear) is not torch.nn.Linear for linear in linears)
            or any(getattr(layer.activation_fn, "act", None) is not F.gelu for layer in layers)
            or any(type(norm) is not torch.nn.LayerNorm for norm in norms) or len({n.eps for n in norms}) > 1
            or layers[0].self_attn.scaling != layers[-1].self_attn.scaling):
        return None
    function = scripted_step()
    return None if function is None else ScriptedBeamStep(steps, function, linears, norms)


def _parts(steps) -> tuple[list, list]:
    """The step's linear layers and norms in ``_step``'s order: eight linear layers
    per decoder layer (``LAYER_LINEARS``), then the output projection; three norms per
    layer (``LAYER_NORMS``), then the decoder's last."""
    linears = [_get(layer, path) for layer in steps.layers for path in LAYER_LINEARS] + [steps.model.proj_out]
    norms = [getattr(layer, name) for layer in steps.layers for name in LAYER_NORMS] + [steps.decoder.layer_norm]
    return linears, norms


def _get(layer, path: tuple[str, ...]) -> torch.nn.Module:
    for name in path:
        layer = getattr(layer, name)
    return layer


def _half(linear: torch.nn.Linear):
    """The layer's float16 copy, as the Python step reads it, or None."""
    half = half_linear(linear)
    return None if half is None else half.packed
