"""TorchScript for the speed layer's scripted steps, introduced in ``06_speed``
(:mod:`.speecht5_script`, :mod:`.whisper_script`)."""

from __future__ import annotations

import warnings

import torch


def script(function):
    """``function`` compiled by TorchScript, or None where it cannot be (no TorchScript,
    no source files to read, a kernel it calls missing): the caller then runs its
    Python step, which gives the same numbers. ``torch.jit.script`` is deprecated in
    favour of ``torch.compile``, which did not pay for these steps
    (``benchmarks/README.md``); its warning is silenced here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.script(function)
    except Exception:  # any failure to compile leaves the Python step
        return None
