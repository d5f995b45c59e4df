"""SpeechT5's linear layers in int8 on a CPU (the ``fast`` preset).

Introduced in ``06_speed``. Each decoder step reads every weight once for a single
frame, so the step waits on memory, not arithmetic: a quarter of the bytes roughly
halves it. Convolutions (postnet, HiFi-GAN) stay in float32.
"""

from __future__ import annotations

import warnings

import torch


def quantise_int8(model):
    """Store the model's linear layers in int8 (PyTorch's dynamic quantisation)."""
    with warnings.catch_warnings():  # torch.ao.quantization warns that torchao will replace it;
        warnings.simplefilter("ignore")  # it is in torch 2.13 and runs fbgemm's int8 kernels
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8,
                                                      inplace=True)
