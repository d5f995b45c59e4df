"""How good, how fast: BLEU, chrF, ASR-BLEU and latency of the cascade.

Introduced in ``05_evaluation``. Scores come from sacrebleu (the reference
implementation, so numbers compare with papers). The evaluation set is a folder
with a ``manifest.tsv`` (columns ``file``, ``language``, ``transcript``, ``english``);
by default the clips bundled with the package, whose English references were
written for this workbook.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import settings
from .audio import SAMPLING_RATE, load_audio
from .samples import read_manifest
from .cascade import speech_to_speech_translation
from .translation import translate


@dataclass
class Item:
    audio: object  # path or Traversable
    language: str
    transcript: str
    english: str


@dataclass
class Run:
    """One clip through the cascade."""

    item: Item
    translation: str
    heard_back: str  # Whisper's transcript of the synthesised English
    seconds: float  # input duration
    timings: dict = field(default_factory=dict)

    @property
    def rtf(self) -> float:
        """Real-time factor: processing time / audio duration (below 1 is faster than real time)."""
        return self.timings["total"] / self.seconds


def load_eval_set(directory=None, *, with_references: bool = True) -> list[Item]:
    """Clips listed in ``directory/manifest.tsv`` (default: ``S2ST_EVAL_DIR``, else the
    bundled clips). ``with_references`` keeps only clips with an English reference."""
    directory = directory or settings.eval_dir()
    root = Path(directory) if directory else resources.files("s2st_helpers") / "data" / "samples"
    items = [Item(root / r["file"], r["language"], r.get("transcript") or "", r.get("english") or "")
             for r in read_manifest(root)]
    return [i for i in items if i.english] if with_references else items


def run_cascade(items: list[Item], *, speaker=None, progress: bool = True, **options) -> list[Run]:
    """Translate and speak each clip, then let Whisper transcribe the English speech back."""
    from tqdm.auto import tqdm

    runs = []
    for item in tqdm(items, desc="clips", disable=not progress):
        audio = load_audio(item.audio)
        result = speech_to_speech_translation({"array": audio, "sampling_rate": SAMPLING_RATE},
                                              speaker=speaker, **options)
        rate, speech = result
        start = time.perf_counter()
        heard = transcribe_back(result)
        timings = {**result.timings, "transcribe back": time.perf_counter() - start}
        runs.append(Run(item, result.text, heard, len(audio) / SAMPLING_RATE, timings))
    return runs


def round_trip(audio, **options) -> dict:
    """Translate and speak, then let Whisper transcribe the English speech back:
    ``{"translation", "heard_back", "wer"}`` (word error rate of what was heard
    against what was said; 1.0 when either is empty). A cheap check of the speech
    that needs no reference (``03_speech_to_speech``)."""
    import jiwer

    result = speech_to_speech_translation(audio, **options)
    heard = transcribe_back(result)
    error = jiwer.wer(result.text.lower(), heard.lower()) if result.text and heard else 1.0
    return {"translation": result.text, "heard_back": heard, "wer": error}


def transcribe_back(result) -> str:
    """What Whisper hears in the cascade's English speech ("" for no speech)."""
    rate, speech = result
    return translate((rate, speech), task="transcribe", language="en") if speech.size else ""


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU (sacrebleu defaults: 13a tokenisation, case-sensitive)."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def chrf(hypotheses: list[str], references: list[str]) -> float:
    """Corpus chrF: character n-gram F-score, kinder to short and morphologically rich text."""
    import sacrebleu

    return float(sacrebleu.corpus_chrf(hypotheses, [references]).score)


def scores(runs: list[Run]) -> dict:
    """BLEU and chrF of the text translations; ASR-BLEU of the English speech."""
    refs = [r.item.english for r in runs]
    if not refs or not all(refs):
        raise ValueError("every run needs an English reference to be scored")
    return {"clips": len(runs),
            "BLEU": bleu([r.translation for r in runs], refs),
            "chrF": chrf([r.translation for r in runs], refs),
            "ASR-BLEU": bleu([r.heard_back for r in runs], refs)}


def latency_table(runs: list[Run]):
    """One row per clip: duration, per-stage seconds and real-time factor (a DataFrame)."""
    import pandas as pd

    rows = [{"clip": Path(str(r.item.audio)).name, "language": r.item.language, "audio s": r.seconds,
             **{f"{k} s": v for k, v in r.timings.items()}, "RTF": r.rtf} for r in runs]
    table = pd.DataFrame(rows).set_index("clip")
    table.loc["mean"] = table.mean(numeric_only=True)
    table.loc["mean", "language"] = ""  # a mean of languages is no language: blank, not NaN
    return table.round(2)


def snr_db(x, reference) -> float:
    """Signal-to-noise ratio of ``x`` against ``reference`` in dB (how far a faster
    path's audio is from the float32 one; same length required)."""
    import numpy as np

    x, reference = np.asarray(x, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if x.shape != reference.shape:
        raise ValueError(f"audio lengths differ: {x.shape} vs {reference.shape}")
    noise = float(((x - reference) ** 2).sum())
    return float("inf") if noise == 0 else float(10 * np.log10((reference ** 2).sum() / noise))


def log_spectral_distance(x, reference, n_fft: int = 1024) -> float:
    """Log-spectral distance in dB: per frame, the RMS over frequency of the
    difference of log power spectra; averaged over frames."""
    import numpy as np
    import torch

    def log_power(a):
        a = torch.from_numpy(np.asarray(a, dtype=np.float64))
        spec = torch.stft(a, n_fft, hop_length=n_fft // 4, window=torch.hann_window(n_fft, dtype=torch.float64),
                          return_complex=True)
        return 10 * torch.log10(spec.abs() ** 2 + 1e-20)

    if np.shape(x) != np.shape(reference):
        raise ValueError(f"audio lengths differ: {np.shape(x)} vs {np.shape(reference)}")
    return float((log_power(x) - log_power(reference)).pow(2).mean(dim=0).sqrt().mean())
