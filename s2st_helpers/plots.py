"""Pictures for the notebooks: waveforms, log-mel spectrograms, voices, latencies.

Introduced in ``02_text_to_speech`` (and used again in ``03_speech_to_speech``).
The log-mel spectrogram is computed with transformers' own audio utilities, with
SpeechT5's settings (80 mel bands, 1024-point FFT, 256-sample hop at 16 kHz).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .audio import SAMPLING_RATE, as_float32


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Log-mel spectrogram (80 x frames) with SpeechT5's settings."""
    from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

    mel = mel_filter_bank(num_frequency_bins=513, num_mel_filters=80, min_frequency=80,
                          max_frequency=7600, sampling_rate=SAMPLING_RATE, norm="slaney", mel_scale="slaney")
    return spectrogram(np.asarray(audio, np.float32), window_function(1024, "hann"), frame_length=1024,
                       hop_length=256, fft_length=1024, mel_filters=mel, log_mel="log10", mel_floor=1e-10)


def waveform_and_spectrogram(audio: np.ndarray, title: str = "", spectrogram=None):
    """Waveform above a log-mel spectrogram; returns the figure. ``spectrogram``: the
    one SpeechT5 predicted (frames x 80, natural log, as ``generate_speech`` returns it
    without a vocoder); without it, one computed from the waveform (log10)."""
    audio = as_float32(np.asarray(audio))  # int16 from the cascade is scaled to [-1, 1]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.5), sharex=False, constrained_layout=True)
    seconds = np.arange(len(audio)) / SAMPLING_RATE
    top.plot(seconds, audio, linewidth=0.5)
    top.set(xlabel="seconds", ylabel="amplitude", title=title, xlim=(0, max(seconds[-1], 1e-3)))
    if spectrogram is None:
        picture, label = log_mel(audio), "log10 power"
    else:
        if hasattr(spectrogram, "detach"):  # a torch tensor
            spectrogram = spectrogram.detach().float().cpu().numpy()
        picture, label = np.asarray(spectrogram).T, "log power (predicted)"
    image = bottom.imshow(picture, origin="lower", aspect="auto", cmap="magma",
                          extent=(0, len(audio) / SAMPLING_RATE, 0, picture.shape[0]))
    bottom.set(xlabel="seconds", ylabel="mel band")
    fig.colorbar(image, ax=bottom, label=label)
    return fig


def speaker_map(names: list[str], vectors: np.ndarray, title: str = "x-vectors, first two principal components"):
    """2-D PCA map of x-vectors, coloured by speaker (the middle part of the name)."""
    from sklearn.decomposition import PCA

    from .speakers import short_name

    points = PCA(n_components=2).fit_transform(np.asarray(vectors))
    speakers = [short_name(n) for n in names]
    fig, ax = plt.subplots(figsize=(6, 5), constrained_layout=True)
    for speaker in sorted(set(speakers)):
        mask = np.array([s == speaker for s in speakers])
        ax.scatter(points[mask, 0], points[mask, 1], s=8 if mask.sum() > 20 else 60, label=speaker, alpha=0.7)
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    ax.legend(markerscale=2, fontsize="small")
    return fig


def latency_chart(timings: dict, audio_seconds: float | None = None):
    """The stages on a timeline, each bar from when it started to when it ended; marks
    when the first audio was ready and the input's duration, if given. Stages that ran
    one after the other (their seconds add up to no more than the total) are laid end
    to end; stages that overlapped (a long recording, translated while it is spoken)
    are each drawn from 0, and the title says so."""
    stages = [k for k in timings if k not in ("total", "first audio")]
    seconds = [timings[k] for k in stages]
    total = timings.get("total", sum(seconds))
    in_turn = sum(seconds) <= total * 1.01
    starts = np.concatenate([[0.0], np.cumsum(seconds)[:-1]]) if in_turn else np.zeros(len(stages))
    fig, ax = plt.subplots(figsize=(7, 2.5), constrained_layout=True)
    ax.barh(stages, seconds, left=starts, color=["tab:blue", "tab:orange", "tab:green"][: len(stages)])
    ax.invert_yaxis()  # the first stage on top, as on a timeline
    if "first audio" in timings:
        ax.axvline(timings["first audio"], color="tab:red", label=f"first audio at {timings['first audio']:.2f} s")
    if audio_seconds:
        ax.axvline(audio_seconds, color="grey", linestyle="--", label=f"input length {audio_seconds:.1f} s")
    if "first audio" in timings or audio_seconds:
        ax.legend(loc="upper right")  # stages in turn leave that corner empty
    overlap = "" if in_turn else "; the stages overlapped"
    ax.set(xlabel="seconds from the start", title=f"when each stage ran (total {total:.2f} s{overlap})")
    return fig
