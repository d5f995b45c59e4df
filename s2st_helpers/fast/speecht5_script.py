"""SpeechT5's int8 decoder step as one TorchScript function, on a CPU.

Introduced in ``06_speed``. The written-out step (:mod:`s2st_helpers.fast.speecht5_steps`)
makes ~40 int8 products and ~150 small operations a frame, and on two cores Python
spends about as long calling them as the products take. TorchScript runs the same
operations, in the same order on the same tensors, from its own interpreter: the
speech is the same bit for bit, and 150 steps took 0.58-0.64 s against 0.91-0.97 s.
``torch.compile`` did not pay here (``benchmarks/README.md``): the int8 weights break
its graph. ``torch.jit.script`` is deprecated in favour of it, so where TorchScript
is missing or fails the eager step runs instead.

Only the int8 step is scripted: it is what the ``fast`` preset runs on a CPU, and
its weights are the kernel's packed ones (float32 layers take the eager step; a GPU
replays a CUDA graph).
"""

from __future__ import annotations

import functools
from typing import List  # TorchScript reads List[...] from the annotations

import torch
import torch.nn.functional as F

from .speecht5_steps import EagerStep, prenet_keeps, step_calls
from .torchscript import script

SCRIPTED = True  # off: the eager step, as on a CPU without TorchScript
LAYER_LINEARS = ("qkv", "out", "cross_query", "cross_out", "up", "down")  # LayerCalls' products, in _step's order


def _attend(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
            out: torch.classes.quantized.LinearPackedParamsBase, heads: int, head_dim: int, scaling: float,
            reduce_range: bool) -> torch.Tensor:
    """``speecht5_steps._attend`` for one query frame."""
    split = (query * scaling).view(-1, heads, head_dim).transpose(0, 1)
    weights = torch.bmm(split, keys.transpose(1, 2)).softmax(dim=-1)
    mixed = torch.bmm(weights, values).transpose(0, 1).reshape(query.shape)
    return torch.ops.quantized.linear_dynamic(mixed, out, reduce_range)


def _step(last: torch.Tensor, keeps: List[torch.Tensor], position: torch.Tensor, speaker: torch.Tensor,
          prenet: List[torch.classes.quantized.LinearPackedParamsBase], linears: List[torch.classes.quantized.LinearPackedParamsBase],
          norms: List[torch.Tensor], keys: torch.Tensor, values: torch.Tensor, length: int,
          cross_keys: List[torch.Tensor], cross_values: List[torch.Tensor], alpha: torch.Tensor, p: float,
          heads: int, head_dim: int, scaling: float, eps: float, reduce_range: bool, spectrum_width: int):
    """One decoder step: ``speecht5_steps.prenet_frame``, the layers of
    ``decoder_layer`` and the spectrum and stop heads, in their order. ``prenet``:
    the prenet's layers, its final layer and the speaker layer; ``linears``: six per
    decoder layer (query-key-value, out, cross query, cross out, up, down) and the
    heads; ``norms``: weight and bias of the three norms per layer. Writes the frame's
    keys and values at ``length`` and returns (spectrum, stop logits)."""
    hidden = last
    for j in range(len(keeps)):
        activated = F.relu(torch.ops.quantized.linear_dynamic(hidden, prenet[j], reduce_range))
        hidden = torch.where(keeps[j], activated, 0) * 1 / (1 - p)
    hidden = torch.ops.quantized.linear_dynamic(hidden, prenet[len(keeps)], reduce_range)
    hidden = hidden + alpha * position
    hidden = torch.cat([hidden, speaker], dim=-1)
    hidden = F.relu(torch.ops.quantized.linear_dynamic(hidden, prenet[len(keeps) + 1], reduce_range))
    width = heads * head_dim
    for i in range(len(cross_keys)):
        layer, norm = linears[6 * i:6 * i + 6], norms[6 * i:6 * i + 6]
        query, key, value = torch.ops.quantized.linear_dynamic(hidden, layer[0], reduce_range).split(width, -1)
        keys[i, :, length:length + 1] = key.view(-1, heads, head_dim).transpose(0, 1)
        values[i, :, length:length + 1] = value.view(-1, heads, head_dim).transpose(0, 1)
        out = _attend(query, keys[i, :, :length + 1], values[i, :, :length + 1], layer[1], heads, head_dim, scaling,
                      reduce_range)
        hidden = F.layer_norm(hidden + out, [width], norm[0], norm[1], eps)
        query = torch.ops.quantized.linear_dynamic(hidden, layer[2], reduce_range)
        out = _attend(query, cross_keys[i], cross_values[i], layer[3], heads, head_dim, scaling, reduce_range)
        hidden = F.layer_norm(hidden + out, [width], norm[2], norm[3], eps)
        up = F.gelu(torch.ops.quantized.linear_dynamic(hidden, layer[4], reduce_range))
        hidden = F.layer_norm(hidden + torch.ops.quantized.linear_dynamic(up, layer[5], reduce_range), [width],
                              norm[4], norm[5], eps)
    both = torch.ops.quantized.linear_dynamic(hidden.view(1, -1), linears[-1], reduce_range)
    return both[:, :spectrum_width], both[:, spectrum_width:]


@functools.cache
def scripted_step():
    """``_step`` compiled by TorchScript, or None where it cannot be (:func:`.torchscript.script`)."""
    return script(_step)


class ScriptedStep(EagerStep):
    """:class:`~s2st_helpers.fast.speecht5_steps.EagerStep` with its arithmetic in
    :func:`scripted_step`: the same interface, the same dropout draws, the same bits."""

    def __init__(self, model, memory: torch.Tensor, capacity: int, function, packed: tuple[list, list]):
        super().__init__(model, memory, capacity)
        calls, decoder = self.calls, self.decoder
        self.function = function
        self.packed_prenet, self.linears = packed
        self.norms = [t for layer in calls.layers for norm in layer.norms
                      for t in (norm.keywords["weight"], norm.keywords["bias"])]
        first = calls.layers[0]
        self.options = dict(heads=first.num_heads, head_dim=first.head_dim, scaling=first.scaling,
                            eps=first.norms[0].keywords["eps"], reduce_range=first.qkv.reduce_range,
                            spectrum_width=self.r * self.n_mels)
        self.cross_keys = [keys for keys, _ in decoder.cross]
        self.cross_values = [values for _, values in decoder.cross]
        positions = self.prenet.encode_positions
        self.positions, self.alpha = positions.pe, positions.alpha
        self.p = self.prenet.config.speech_decoder_prenet_dropout

    def step(self, step: int) -> torch.Tensor:
        spectrum, self.stop = self.function(
            self.last, prenet_keeps(self.prenet, step, self.last), self.positions[:, step - 1:step], self.speaker,
            self.packed_prenet, self.linears, self.norms, self.decoder.keys, self.decoder.values,
            self.decoder.length, self.cross_keys, self.cross_values, self.alpha, self.p, **self.options)
        self.decoder.length += 1
        spectrum = spectrum.view(self.r, self.n_mels)
        self.last = spectrum[-1].view(1, 1, self.n_mels)
        return spectrum


def scripted(model, memory: torch.Tensor, capacity: int) -> ScriptedStep | None:
    """The scripted step where it applies: on a CPU, a model in eval mode with every
    linear layer of the step in int8 (one quantisation scheme), GELU between its
    feed-forward layers and one epsilon in its norms, and TorchScript at hand;
    otherwise None (take the eager step)."""
    if not SCRIPTED or memory.device.type != "cpu" or model.training:
        return None
    calls = step_calls(model)
    packed = _packed(calls)
    epsilons = {norm.keywords["eps"] for layer in calls.layers for norm in layer.norms}
    if packed is None or any(layer.act is not F.gelu for layer in calls.layers) or len(epsilons) > 1:
        return None
    function = scripted_step()
    return None if function is None else ScriptedStep(model, memory, capacity, function, packed)


def _packed(calls) -> tuple[list, list] | None:
    """The step's int8 weights in ``_step``'s order: (the prenet's layers, its final
    layer and the speaker layer; six per decoder layer, then the heads), or None where
    a layer is not int8 or the layers differ in their quantisation scheme."""
    prenet = [*calls.prenet, calls.prenet_final, calls.speaker]
    linears = [*(getattr(layer, name) for layer in calls.layers for name in LAYER_LINEARS), calls.spectrum_and_stop]
    if not all(hasattr(call, "packed") for call in prenet + linears) \
            or len({call.reduce_range for call in prenet + linears}) > 1:
        return None
    return [call.packed for call in prenet], [call.packed for call in linears]
