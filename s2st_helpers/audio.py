"""Audio in any shape to 16 kHz mono float32, the one format Whisper accepts.

Introduced in ``01_speech_translation``. Decoding is left to soundfile (wav, flac,
ogg, mp3) with PyAV as the fallback for containers libsndfile cannot read (webm,
m4a, mp4); resampling is soxr. Every bad input becomes a ``ValueError`` or
``TypeError`` that says what is wrong, before any model sees it.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLING_RATE = 16_000
MAX_CHANNELS = 8  # more "channels" than this means the array is the wrong way round


def load_audio(audio, sampling_rate: int | None = None) -> np.ndarray:
    """Return ``audio`` as a 1-D float32 array at 16 kHz, mono.

    Accepted: a path (str or Path), raw file bytes, a NumPy array or torch tensor
    with ``sampling_rate``, a ``(sampling_rate, array)`` tuple (what Gradio gives),
    a ``{"array", "sampling_rate"}`` dict, and a datasets audio value (a torchcodec
    ``AudioDecoder``, or ``{"bytes", "path"}`` when decoding is off).
    """
    array, rate = _decode(audio, sampling_rate)
    return to_mono_16k(array, rate)


def to_mono_16k(array, sampling_rate) -> np.ndarray:
    """Check, downmix and resample a decoded array (samples or samples x channels)."""
    rate = _check_rate(sampling_rate)
    array = as_float32(array)
    if array.ndim == 2:
        # channels are the short axis: soundfile and Gradio give (samples, channels),
        # torch and torchcodec give (channels, samples)
        if array.shape[1] > MAX_CHANNELS and array.shape[0] <= MAX_CHANNELS:
            array = array.T
        if array.shape[1] > MAX_CHANNELS:
            raise ValueError(f"audio of shape {array.shape} has no plausible channel axis")
        array = array[:, 0] if array.shape[1] == 1 else array.mean(axis=1)  # mono: a view, no copy
    elif array.ndim != 1:
        raise ValueError(f"audio must be 1-D (samples) or 2-D (samples x channels), got shape {array.shape}")
    if array.size == 0:
        raise ValueError("audio is empty (no samples)")
    if not np.isfinite(array.sum(dtype=np.float64)):  # NaN and inf carry into the sum; no mask array
        raise ValueError("audio contains NaN or infinite samples")
    if rate != SAMPLING_RATE:
        array = soxr.resample(array, rate, SAMPLING_RATE, quality="HQ")
    return np.ascontiguousarray(array, dtype=np.float32)


def read_file(source) -> tuple[np.ndarray, int]:
    """Decode a file path or raw bytes into (samples x channels float32, rate)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ValueError("audio bytes are empty")
        data, name = bytes(source), "the audio data"
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise ValueError(f"audio file not found: {path}")
        if not path.is_file():
            raise ValueError(f"not a file: {path}")
        if path.stat().st_size == 0:
            raise ValueError(f"audio file is empty: {path}")
        data, name = path, str(path)  # read in place: a long file is not held twice
    try:
        array, rate = sf.read(io.BytesIO(data) if isinstance(data, bytes) else data, dtype="float32",
                              always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        array, rate = _read_with_av(data if isinstance(data, bytes) else data.read_bytes(), name)
    return array, rate


def _read_with_av(data: bytes, name: str) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise ValueError(f"{name} has no audio stream")
            stream = container.streams.audio[0]
            # fltp planar float frames -> (channels, samples); resampler fixes the layout
            resampler = av.AudioResampler(format="flt", layout="mono")
            chunks = [f.to_ndarray().reshape(-1) for frame in container.decode(stream)
                      for f in resampler.resample(frame)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
            rate = stream.codec_context.sample_rate or stream.rate
    except av.FFmpegError as err:
        raise ValueError(f"{name} is not a readable audio file ({err.__class__.__name__})") from None
    if not chunks:
        raise ValueError(f"{name} holds no audio samples")
    return np.concatenate(chunks)[:, None], int(rate)


def _decode(audio, sampling_rate):
    if audio is None:
        raise TypeError("audio is None: pass a file path, bytes, an array with its sampling rate, or a dict")
    if isinstance(audio, (str, os.PathLike, bytes, bytearray, memoryview)):
        if isinstance(audio, str) and not audio.strip():
            raise ValueError("audio path is an empty string")
        return read_file(audio)
    if hasattr(audio, "read_bytes") and hasattr(audio, "is_file"):  # package data (importlib Traversable)
        return read_file(audio.read_bytes())
    if isinstance(audio, tuple) and len(audio) == 2 and np.isscalar(audio[0]):
        return audio[1], audio[0]  # Gradio's (sampling_rate, array)
    if isinstance(audio, Mapping):
        return _from_mapping(audio)
    if hasattr(audio, "get_all_samples"):  # torchcodec AudioDecoder (datasets >= 4)
        samples = audio.get_all_samples()
        return samples.data.numpy(), samples.sample_rate
    if isinstance(audio, np.ndarray) or _is_tensor(audio):
        if sampling_rate is None:
            raise ValueError("an audio array needs its sampling rate: pass sampling_rate=... "
                             "or a {'array': ..., 'sampling_rate': ...} dict")
        return audio, sampling_rate
    raise TypeError(f"unsupported audio type {type(audio).__name__}: pass a file path, bytes, "
                    "a NumPy array with sampling_rate, or a {'array', 'sampling_rate'} dict")


def _from_mapping(audio: Mapping):
    array = audio.get("array", audio.get("raw"))
    if array is not None:
        if "sampling_rate" not in audio:
            raise ValueError("audio dict has an array but no 'sampling_rate'")
        return array, audio["sampling_rate"]
    if audio.get("bytes"):
        return read_file(audio["bytes"])
    if audio.get("path"):
        return read_file(audio["path"])
    raise ValueError(f"audio dict needs 'array' and 'sampling_rate' (or 'bytes' or 'path'), got keys {sorted(audio)}")


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "numpy")


def _check_rate(rate) -> int:
    if rate is None:
        raise ValueError("sampling rate is missing")
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise TypeError(f"sampling rate must be a number, got {type(rate).__name__}")
    if not np.isfinite(rate) or rate <= 0 or int(rate) != rate:
        raise ValueError(f"sampling rate must be a positive whole number of Hz, got {rate}")
    if not 1_000 <= rate <= 384_000:
        raise ValueError(f"sampling rate {rate} Hz is outside 1 kHz .. 384 kHz")
    return int(rate)


def as_float32(array) -> np.ndarray:
    """Samples as float32 in [-1, 1]: integer PCM is scaled, float is cast."""
    if _is_tensor(array):
        array = array.detach().cpu().numpy()
    if isinstance(array, (list, tuple)):
        array = np.asarray(array)
    if not isinstance(array, np.ndarray):
        raise TypeError(f"audio array must be a NumPy array or tensor, got {type(array).__name__}")
    kind = array.dtype.kind
    if kind == "f":
        return array.astype(np.float32, copy=False)
    if kind == "i":  # int16 from Gradio and wav files, int32 from 32-bit PCM
        return (array / float(2 ** (8 * array.dtype.itemsize - 1))).astype(np.float32)
    if kind == "u" and array.dtype.itemsize == 1:  # 8-bit PCM is unsigned
        return ((array.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    raise TypeError(f"audio samples must be float or integer PCM, got dtype {array.dtype}")


def to_int16(waveform: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] to 16-bit PCM, clipping instead of wrapping round."""
    return (np.clip(waveform, -1.0, 1.0) * np.iinfo(np.int16).max).astype(np.int16)


def write_wav(target, waveform: np.ndarray, sampling_rate: int = SAMPLING_RATE):
    """Write mono audio as a 16-bit PCM wav to a path or a binary file object."""
    data = waveform if waveform.dtype == np.int16 else to_int16(waveform)
    sf.write(target if hasattr(target, "write") else Path(target), data, sampling_rate,
             subtype="PCM_16", format="WAV")
    return target


def loudest_frame_dbfs(waveform: np.ndarray, frame: int = 480) -> float:
    """Level of the loudest 30 ms frame, in dB relative to full scale."""
    usable = len(waveform) // frame * frame
    frames = waveform[:usable].reshape(-1, frame) if usable else waveform[None]
    rms = float(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)).max())
    return 20 * math.log10(rms) if rms > 0 else -math.inf
