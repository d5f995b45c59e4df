"""A long recording through the cascade: first audio, total, and the CLI's memory.

Builds an N-minute recording from real clips laid end to end (repeated to length),
then runs ``speech_to_speech_translation_stream`` on it and reports when the first
English audio came, how long the translation and the whole took, and how much
English speech came out. The tutorial's cascade (notebook 03's cells tagged
"tutorial") runs next to it on the first 30 s only: its ASR pipeline raises a
ValueError past 30 s on transformers 5 (long-form needs ``return_timestamps=True``),
so 30 s is all it can translate. ``--presets exact fast`` runs the workbook once per
preset, the plain tier as the baseline in the same run; ``--presets fast fast --seed 0``
shows whether a seeded run repeats its text (a digest of each run's English is printed). ``--memory 5 30`` also runs the command line on
recordings of those lengths in fresh processes and reports their peak memory next
to the size of the recording itself.

    python benchmarks/long_recording.py --clips ../shared/audio --minutes 5 --maxlenratio 4
    python benchmarks/long_recording.py --clips ../shared/audio --memory 5 30 --maxlenratio 1

Models come from S2ST_ASR_MODEL, S2ST_TTS_MODEL and S2ST_VOCODER (default: the hub ids).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from s2st_helpers import settings, speech_to_speech_translation_stream
from s2st_helpers.audio import SAMPLING_RATE, load_audio
from s2st_helpers.models import load_asr, load_tts, pick_device
from s2st_helpers.samples import read_manifest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cascade_speed import Tutorial, cpu_name  # noqa: E402  (the tutorial's code, as cascade_speed runs it)


def recording(clips: Path, minutes: float) -> np.ndarray:
    """The manifest's clips end to end, repeated to ``minutes``."""
    joined = np.concatenate([load_audio(clips / row["file"]) for row in read_manifest(clips)])
    samples = int(minutes * 60 * SAMPLING_RATE)
    return np.tile(joined, -(-samples // len(joined)))[:samples]


def workbook(waveform: np.ndarray, maxlenratio: float | None, preset: str | None = None,
             seed: int | None = None) -> dict:
    windows = []
    samples = 0
    start = time.perf_counter()
    for block in speech_to_speech_translation_stream(waveform, sampling_rate=SAMPLING_RATE, maxlenratio=maxlenratio,
                                                     preset=preset, seed=seed,
                                                     progress=lambda done, total: windows.append(done)):
        samples += len(block[1])
    return {**block.timings, "wall": time.perf_counter() - start, "speech s": samples / SAMPLING_RATE,
            "windows": len(windows), "characters": len(block.text),
            "text digest": hashlib.sha256(block.text.encode()).hexdigest()[:12]}


def cli_peak_mb(path: Path, maxlenratio: float | None) -> float:
    """Peak resident memory of ``python3 -m s2st_helpers`` on one file, in a fresh process."""
    command = [sys.executable, "-m", "s2st_helpers", str(path), "-o", str(path.with_suffix(".en.wav")), "--quiet"]
    if maxlenratio is not None:
        command += ["--maxlenratio", str(maxlenratio)]
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL,"
             " stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, *command], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1]) / 1024


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", required=True, help="folder with a manifest.tsv (e.g. ../shared/audio)")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--maxlenratio", type=float, default=None)
    ap.add_argument("--presets", nargs="+", default=[None], metavar="PRESET",
                    help="run the workbook with each (default: S2ST_PRESET, else fast)")
    ap.add_argument("--seed", type=int, default=None, help="seed the workbook's runs (Whisper's fallback, SpeechT5)")
    ap.add_argument("--memory", type=float, nargs="*", default=[], metavar="MINUTES",
                    help="also: the CLI's peak memory on recordings this long")
    ap.add_argument("--json", metavar="FILE", help="write the numbers here")
    args = ap.parse_args(argv)
    clips = Path(args.clips)
    device = pick_device()
    result: dict = {"device": str(device), "cpu": cpu_name(), "minutes": args.minutes}

    waveform = recording(clips, args.minutes)
    load_asr(), load_tts()  # loading is not what is measured
    tutorial = Tutorial(device, args.maxlenratio)
    first_30 = waveform[:30 * SAMPLING_RATE]
    tutorial.run(first_30[:5 * SAMPLING_RATE])  # warm-up
    result["tutorial (first 30 s)"] = {k: v for k, v in tutorial.run(first_30).items() if k != "text"}
    runs: dict = {}
    for preset in args.presets:  # a preset given twice: "workbook (fast)", then "workbook (fast) #2"
        name = f"workbook ({preset or settings.preset()})"
        name += f" #{sum(n.startswith(name) for n in runs) + 1}" if name in runs else ""
        runs[name] = workbook(waveform, args.maxlenratio, preset, args.seed)
    result.update(runs)

    t = result["tutorial (first 30 s)"]
    print(f"{args.minutes:g}-minute recording from {clips} on {result['cpu']} ({device})")
    print(f"{'':34s}{'first audio':>12s}{'translate':>11s}{'total':>9s}{'English':>9s}  text (characters, digest)")
    for name, w in runs.items():
        print(f"{name + ', whole recording':34s}{w['first audio']:11.1f}s{w['translate']:10.1f}s{w['total']:8.1f}s"
              f"{w['speech s']:8.0f}s  {w['characters']}, {w['text digest']}")
    print(f"{'tutorial, first 30 s only':34s}{t['first audio']:11.1f}s{t['translate']:10.1f}s{t['total']:8.1f}s"
          f"{t['speech s']:8.0f}s")
    base = runs.get("workbook (exact)")
    for name, w in runs.items():
        if base is not None and w is not base:
            print(f"{name} against the plain tier: translation {base['translate'] / w['translate']:.2f}x, "
                  f"first audio {base['first audio'] / w['first audio']:.2f}x, total {base['total'] / w['total']:.2f}x")
    w = list(runs.values())[-1]
    print(f"the workbook's first audio came after {w['first audio']:.1f} s of {w['total']:.1f} s "
          f"({w['windows']} windows of 30 s, {w['characters']} characters of English); the tutorial's code "
          f"stops at 30 s: its pipeline raises a ValueError on anything longer")

    if args.memory:
        result["memory"] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for minutes in args.memory:
                path = Path(tmp) / f"{minutes:g}min.wav"
                audio = recording(clips, minutes)
                sf.write(path, audio, SAMPLING_RATE, subtype="PCM_16")
                peak = cli_peak_mb(path, args.maxlenratio)
                result["memory"][minutes] = {"peak MB": peak, "recording MB (float32)": audio.nbytes / 2**20}
                print(f"CLI on {minutes:g} min: peak memory {peak:.0f} MB; the recording itself is "
                      f"{audio.nbytes / 2**20:.0f} MB as float32", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
