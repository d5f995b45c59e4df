"""What the speed layer keeps on a model or a module between calls.

Introduced with ``06_speed``'s loops: a model's direct calls
(:func:`s2st_helpers.fast.speecht5_steps.step_calls`), a convolution's weights laid
out for oneDNN (:func:`s2st_helpers.fast.hifigan_stream.conv1d`) and a linear layer's
float16 weights (:func:`s2st_helpers.fast.half_weights.half_linear`) are made once and
kept on the module they belong to. They point at that module's tensors, so a deep
copy or a pickle of the module starts without them and makes its own. Some are copies
of weights in another layout: SpeechT5's stacked int8 weights (each self-attention's
query, key and value, each cross-attention's key and value: 17.9 MB beside the
layers' own), HiFi-GAN's convolution weights laid out for oneDNN (22.5 MB in
bfloat16, 45 MB in float32) and Whisper's large decoder layers in float16 (78 MB);
the peak memory in ``benchmarks/README.md`` includes them.
"""

from __future__ import annotations


class Kept(dict):
    """A dict that a deep copy or a pickle of its owner gets empty (also the store of
    a model's CUDA graphs, :mod:`s2st_helpers.fast.cuda_graph`)."""

    def __deepcopy__(self, memo):
        return Kept()

    def __reduce__(self):
        return Kept, ()


def kept(module, name: str, key, make):
    """``module``'s kept ``name``, made by ``make()`` when missing or made for another
    ``key`` (where and in which dtype the weights were, say)."""
    store = module.__dict__.setdefault("_s2st_kept", Kept())
    cached = store.get(name)
    if cached is None or cached[0] != key:
        cached = store[name] = (key, make())
    return cached[1]


def weights(model) -> tuple:
    """Where and in which dtype the model's parameters are: what kept calls and
    recorded graphs read, so a change here means making them again."""
    return tuple((p.data_ptr(), p.dtype) for p in model.parameters())
