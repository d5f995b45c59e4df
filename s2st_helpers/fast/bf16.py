"""bfloat16 where the processor computes it natively.

Introduced in ``06_speed``. A CPU with AVX-512 BF16 or AMX multiplies bfloat16 at
about twice the float32 rate; elsewhere PyTorch emulates it and it is slower than
float32, so these helpers do nothing there.

* ``fast``: HiFi-GAN's convolutions (compute-bound: 0.34 s to 0.15 s for 4.8 s of
  speech; 45 dB SNR from float32). The text is not touched.
* ``fastest``: ``fast``, plus Whisper's encoder, the largest single cost of a short
  clip (a padded 30 s window: 0.51 s to 0.24 s on two cores; each window of a longer
  recording too, and the sampled passes of a window whose first pass loops decode from
  the same encoding). This changes the
  translated text of some clips (3 of the 27 shared ones), which is why it is a
  preset of its own; ``benchmarks/README.md`` has its BLEU. On a GPU the encoder runs
  in float16, as OpenAI's own Whisper code does by default there.
"""

from __future__ import annotations

import copy
import weakref

import torch


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
