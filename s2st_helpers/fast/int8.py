"""SpeechT5's linear layers in int8 on a CPU (the ``fast`` preset).

Introduced in ``06_speed``. Each decoder step reads every weight once for a single
frame, so the step waits on memory, not arithmetic: a quarter of the bytes roughly
halves it. The convolutions are not touched here (HiFi-GAN's go to bfloat16 where the
CPU computes it natively: :mod:`s2st_helpers.fast.bf16`).

Memory: ``from_pretrained`` maps the checkpoint file and reads a weight only when it
is first used. Quantising the loaded model would read every float32 weight, and the
pages it read stay resident beside the int8 copies (a fresh process peaked at
1156 MB loading SpeechT5 this way, against 430 MB in float32). So each linear
layer's float32 weight is read from the checkpoint on its own, quantised and let
go; the mapped float32 weights are never read.
"""

from __future__ import annotations

import functools
import os
import warnings

import torch
import torch.nn.functional as F


def quantise_int8(model, checkpoint: str | os.PathLike | None = None):
    """Store the model's linear layers in int8 (PyTorch's dynamic quantisation).

    ``checkpoint``: the model's ``.safetensors`` file; its float32 weights are read
    one layer at a time instead of the model's own. Without it, or where its tensors
    are not the model's, the model's own weights are quantised (the same result,
    more memory on the way)."""
    linears = [(name, module) for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]
    with _Checkpoint(checkpoint) as weights:
        for name, linear in linears:
            parent, _, child = name.rpartition(".")
            source = weights.linear(name, linear) or linear
            setattr(model.get_submodule(parent) if parent else model, child, _int8(source))
    return model


def _int8(linear: torch.nn.Linear):
    with warnings.catch_warnings():  # torch.ao.quantization warns that torchao will replace it;
        warnings.simplefilter("ignore")  # it is in torch 2.13 and runs fbgemm's int8 kernels
        return torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(linear), {torch.nn.Linear},
                                                      dtype=torch.qint8)[0]


class _Checkpoint:
    """Float32 linear layers read from a safetensors file, one at a time. The file is
    opened afresh for each layer: ``get_tensor`` hands out views of a mapping of the
    whole file, and every page read through it stays resident until it is closed."""

    def __init__(self, path):
        self.path, self.keys = path, set()

    def __enter__(self):
        if self.path is not None and str(self.path).endswith(".safetensors") and os.path.isfile(self.path):
            with self._open() as file:
                self.keys = set(file.keys())
        return self

    def __exit__(self, *exc):
        self.keys = set()

    def _open(self):
        from safetensors import safe_open

        return safe_open(str(self.path), framework="pt")

    def linear(self, name: str, model_linear: torch.nn.Linear) -> torch.nn.Linear | None:
        """A float32 copy of ``model_linear`` from the file, or None where the file
        does not hold the same tensors (checked on one row each: a row is a page or
        two of the mapped file, not the whole weight)."""
        parts = [p for p in ("weight", "bias") if getattr(model_linear, p) is not None]
        if any(f"{name}.{part}" not in self.keys for part in parts):
            return None
        out = torch.nn.Linear(model_linear.in_features, model_linear.out_features,
                              bias=model_linear.bias is not None, device="meta")
        with self._open() as file:
            for part in parts:
                own, tensor = getattr(model_linear, part), file.get_tensor(f"{name}.{part}")
                if tensor.shape != own.shape or tensor.dtype != own.dtype or not torch.equal(tensor[:1], own[:1]):
                    return None
                setattr(out, part, torch.nn.Parameter(tensor, requires_grad=False))
        return out.train(model_linear.training)


def checkpoint_file(model_id: str) -> str | None:
    """The single ``model.safetensors`` of a local folder or of a hub id already
    in the cache (``from_pretrained`` has just put it there), else None."""
    if os.path.isdir(model_id):
        path = os.path.join(model_id, "model.safetensors")
        return path if os.path.isfile(path) else None
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(model_id, "model.safetensors")
    return path if isinstance(path, str) else None


def direct(*linears):
    """``linears`` (float32 or int8 layers that take the same input) as one function of
    that input, returning their outputs in order: a tensor for one layer, a list for
    several. It calls the kernels directly, skipping ``nn.Module.__call__`` (about 6 µs
    a call on two cores, and a SpeechT5 step makes ~50). Int8 layers become one
    product over their rows stacked, each row keeping its layer's scale: the same bits
    as one call each, in half the time for three."""
    packed = _packed(linears)
    if packed is not None:
        sizes = [linear.out_features for linear in linears]
        reduce_range = linears[0].version is not None and linears[0].version >= 4  # as its forward picks

        def call(x):
            out = torch.ops.quantized.linear_dynamic(x, packed, reduce_range)
            return out if len(sizes) == 1 else list(out.split(sizes, dim=-1))
        call.packed, call.reduce_range = packed, reduce_range  # for the scripted step (speecht5_script.py)
        return call
    calls = [functools.partial(F.linear, weight=l.weight, bias=l.bias) if type(l) is torch.nn.Linear else l
             for l in linears]
    return calls[0] if len(calls) == 1 else (lambda x: [call(x) for call in calls])


def _packed(linears):
    """The int8 kernel's weights for ``linears`` stacked by rows, or None where they
    are not all int8 layers of one input width and one quantisation scheme."""
    if not all(isinstance(l, torch.ao.nn.quantized.dynamic.Linear) and l._packed_params.dtype == torch.qint8
               for l in linears):
        return None
    if len(linears) == 1:
        return linears[0]._packed_params._packed_params
    weights, biases = [l.weight() for l in linears], [l.bias() for l in linears]
    if len({l.in_features for l in linears}) > 1 or len({l.version for l in linears}) > 1 \
            or len({b is None for b in biases}) > 1:
        return None
    rows, scales, zeros = [], [], []
    for w in weights:
        if w.qscheme() == torch.per_tensor_affine:
            scales.append(torch.full((w.size(0),), w.q_scale(), dtype=torch.float64))
            zeros.append(torch.full((w.size(0),), w.q_zero_point(), dtype=torch.long))
        elif w.qscheme() == torch.per_channel_affine and w.q_per_channel_axis() == 0:
            scales.append(w.q_per_channel_scales().double())
            zeros.append(w.q_per_channel_zero_points().long())
        else:
            return None
        rows.append(w.int_repr())
    stacked = torch._make_per_channel_quantized_tensor(torch.cat(rows), torch.cat(scales), torch.cat(zeros), 0)
    return torch.ops.quantized.linear_prepack(stacked, None if biases[0] is None else torch.cat(biases))
