"""The tutorial's cascade and the workbook's, side by side on one clip.

The tutorial's code is notebook 03's own: its cells tagged "tutorial" (the ASR
pipeline with its default beam 5, then SpeechT5's ``generate_speech`` with the
vocoder, then the int16 conversion) run here as they stand. The workbook runs
``speech_to_speech_translation_stream`` with the chosen preset, or with each of several
presets (the tutorial then runs once for all of them). Same clip, same models, repetitions
interleaved, medians reported: per-stage seconds, time to first audio, real-time
factor, peak memory (each path in a fresh process) and the ratios.

    python benchmarks/cascade_speed.py --clip ../shared/audio/it_001.wav --maxlenratio 4
    python benchmarks/cascade_speed.py --preset fast fastest   # one table per preset
    python benchmarks/cascade_speed.py --quality ../shared/audio   # text, BLEU, audio checks

Models come from S2ST_ASR_MODEL, S2ST_TTS_MODEL and S2ST_VOCODER (default: the hub
ids). With the random-weight SpeechT5 stand-ins pass ``--maxlenratio 4`` (their stop
head never fires; 4 gives about the length real speech has).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from s2st_helpers import speech_to_speech_translation_stream
from s2st_helpers.audio import SAMPLING_RATE, load_audio
from s2st_helpers import settings
from s2st_helpers.models import load_asr, pick_device

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = ROOT / "s2st_helpers" / "data" / "samples" / "it_001.wav"
NOTEBOOK = ROOT / "notebooks" / "03_speech_to_speech.ipynb"


def tutorial_code(notebook: Path = NOTEBOOK) -> str:
    """The source of the notebook's cells tagged "tutorial", in order."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) for c in cells if "tutorial" in c.get("metadata", {}).get("tags", [])]
    if not code:
        raise ValueError(f"no cells tagged 'tutorial' in {notebook}")
    return "\n\n".join(code)


class Tutorial:
    """The tutorial's cascade, run from notebook 03's own cells. Nothing is changed
    but, when asked, SpeechT5's ``maxlenratio`` (the random-weight stand-ins never
    stop by themselves)."""

    def __init__(self, device, maxlenratio: float | None):
        self.code = {}
        exec(compile(tutorial_code(), str(NOTEBOOK), "exec"), self.code)
        self.device = self.code["device"]
        if maxlenratio is not None:
            model = self.code["model"]
            model.generate_speech = functools.partial(model.generate_speech, maxlenratio=maxlenratio)
        self.translate = self.code["translate"]
        self.seconds, self.outputs = {}, {}
        for stage in ("translate", "synthesise"):  # the cascade looks each stage up by name: time it there
            self.code[stage] = self._timed(stage, self.code[stage])

    def _timed(self, stage, fn):
        def timed(*args):
            start = time.perf_counter()
            self.outputs[stage] = fn(*args)
            _sync(self.device)
            self.seconds[stage] = time.perf_counter() - start
            return self.outputs[stage]
        return timed

    def run(self, waveform: np.ndarray) -> dict:
        start = time.perf_counter()
        rate, speech = self.code["speech_to_speech_translation"]({"array": waveform.copy(),
                                                                  "sampling_rate": SAMPLING_RATE})
        end = time.perf_counter()
        return {**self.seconds, "first audio": end - start, "total": end - start,
                "speech s": len(speech) / rate, "text": self.outputs["translate"]}


class Workbook:
    def __init__(self, device, maxlenratio: float | None, preset: str):
        self.options = {"maxlenratio": maxlenratio, "preset": preset}
        load_asr(device=device)

    def run(self, waveform: np.ndarray) -> dict:
        samples = 0
        for block in speech_to_speech_translation_stream({"array": waveform, "sampling_rate": SAMPLING_RATE},
                                                         **self.options):
            samples += len(block[1])
        timings = dict(block.timings)
        return {**timings, "speech s": samples / SAMPLING_RATE, "text": block.text}

    def synthesise_text(self, text: str) -> float:
        """Seconds to speak a given text (the tutorial's, for a same-length comparison)."""
        from s2st_helpers import synthesise_stream

        start = time.perf_counter()
        for _ in synthesise_stream(text, "slt", **self.options):
            pass
        return time.perf_counter() - start


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def measure(args) -> dict:
    device = pick_device(args.device)
    waveform = load_audio(args.clip)
    paths = {"tutorial": Tutorial(device, args.maxlenratio),
             **{preset: Workbook(device, args.maxlenratio, preset) for preset in args.presets}}
    for path in paths.values():  # warm-up: loading, first-call allocations
        path.run(waveform)
    runs = {name: [] for name in paths}
    same_text = {preset: [] for preset in args.presets}
    for rep in range(args.reps):
        order = list(paths) if rep % 2 == 0 else list(paths)[::-1]
        for name in order:
            runs[name].append(paths[name].run(waveform))
        for preset in args.presets:
            same_text[preset].append(paths[preset].synthesise_text(runs["tutorial"][-1]["text"]))
    return {"device": str(device), "clip": str(args.clip), "seconds": len(waveform) / SAMPLING_RATE,
            "presets": args.presets, "runs": runs, "synthesise, tutorial's text": same_text}


def peak_memory(args, name: str) -> float:
    """Peak resident memory (MB) of a fresh process that loads one path and runs it
    once; on CUDA, peak allocated GPU memory instead."""
    command = [sys.executable, __file__, "--memory-of", name, "--clip", str(args.clip)]
    if args.maxlenratio is not None:
        command += ["--maxlenratio", str(args.maxlenratio)]
    if args.device:
        command += ["--device", args.device]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak MB"]


def _memory_of(args):
    device = pick_device(args.device)
    waveform = load_audio(args.clip)
    path = (Tutorial(device, args.maxlenratio) if args.memory_of == "tutorial"
            else Workbook(device, args.maxlenratio, settings.preset(args.memory_of)))
    path.run(waveform)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = _peak_rss_mb()
    print(json.dumps({"peak MB": peak}))


def _peak_rss_mb() -> float:
    """This process's resident-memory high-water mark. Linux's VmHWM belongs to the
    process image; getrusage's ru_maxrss survives exec, so a child started by a big
    parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)


def report(result: dict, memory: dict, args, preset: str) -> str:
    """One preset's table: its runs against the tutorial's, and the targets."""
    med = {name: {k: statistics.median(r[k] for r in result["runs"][name])
                  for k in ("translate", "synthesise", "first audio", "total", "speech s")}
           for name in ("tutorial", preset)}
    t, w = med["tutorial"], med[preset]
    memory = {"tutorial": memory["tutorial"], "workbook": memory[preset]} if memory else {}
    seconds = result["seconds"]
    cpu = cpu_name()
    lines = [f"clip {Path(result['clip']).name} ({seconds:.2f} s) | device {result['device']} "
             f"({torch.get_num_threads()} threads, {cpu}) | preset {preset} | maxlenratio {args.maxlenratio}"
             f" | {args.reps} interleaved reps, medians | torch {torch.__version__}",
             f"{'':34}{'tutorial':>10}{'workbook':>10}{'ratio':>8}"]
    for key in ("translate", "synthesise", "total"):
        lines.append(f"{key + ' (s)':34}{t[key]:10.3f}{w[key]:10.3f}{t[key] / w[key]:7.2f}x")
    same = statistics.median(result["synthesise, tutorial's text"][preset])
    lines.append(f"{'synthesise, tutorial text (s)':34}{t['synthesise']:10.3f}{same:10.3f}"
                 f"{t['synthesise'] / same:7.2f}x")
    lines.append(f"{'first audio (s)':34}{t['first audio']:10.3f}{w['first audio']:10.3f}"
                 f"{t['total'] / w['first audio']:7.2f}x")
    lines.append(f"{'real-time factor (total / input)':34}{t['total'] / seconds:10.3f}{w['total'] / seconds:10.3f}")
    lines.append(f"{'speech out (s)':34}{t['speech s']:10.2f}{w['speech s']:10.2f}")
    if memory:
        unit = "GPU MB" if result["device"].startswith("cuda") else "RSS MB"
        lines.append(f"{'peak ' + unit:34}{memory['tutorial']:10.0f}{memory['workbook']:10.0f}")
    lines.append(f"end to end: {t['total'] / w['total']:.2f}x faster | first audio at "
                 f"{w['first audio'] / t['total']:.2f} of the tutorial's total ({w['first audio'] * 1000:.0f} ms)")
    said = result['runs']['tutorial'][-1]['text'].strip(), result['runs'][preset][-1]['text']
    lines.append(f"tutorial says: {said[0]!r}")
    lines.append(f"workbook says: {said[1]!r}")
    lines += targets_table(t, w, same, memory, said[0] == said[1], result["device"])
    return "\n".join(lines)


def targets_table(t: dict, w: dict, same: float, memory: dict, same_sentence: bool, device: str) -> list[str]:
    """The targets of the speed work for the device it ran on (a CPU's, or a GPU's),
    each with what was measured and whether it is met."""
    if device.startswith("cuda"):
        rows = [("end to end, tutorial / workbook", t["total"] / w["total"], ">=", 10.0, "x"),
                ("first audio after Whisper finishes", (w["first audio"] - w["translate"]) * 1000, "<=", 60.0,
                 "ms")]
    else:
        rows = [("end to end, tutorial / workbook", t["total"] / w["total"], ">=", 4.0, "x"),
                ("synthesis of the same sentence", t["synthesise"] / same, ">=", 3.0, "x"),
                ("first audio / tutorial's total", w["first audio"] / t["total"], "<=", 0.15, "")]
    if memory:
        rows.append(("peak memory, workbook / tutorial", memory["workbook"] / memory["tutorial"], "<=", 1.0, ""))
    lines = [f"targets ({'GPU' if device.startswith('cuda') else 'CPU'}, {device}):"]
    for name, value, sense, goal, unit in rows:
        met = value >= goal if sense == ">=" else value <= goal
        lines.append(f"  {name:36}{value:8.2f}{unit:2} {sense} {goal:g}{unit:2}  {'met' if met else 'NOT MET'}")
    verdict = "met" if same_sentence else "NOT MET"
    lines.append(f"  {'both say the same sentence':36}{'yes' if same_sentence else 'no':>10}   {verdict}")
    return lines


def quality(directory: str, clip: str, maxlenratio: float | None, presets=("fast",)) -> str:
    """The speed layer's text against the plain tier's, BLEU against references, and
    how far each preset's speech is from the tutorial's ``generate_speech``.
    ``fast`` must give the plain tier's text; ``fastest`` (which changes it) a BLEU
    no lower than the plain tier's."""
    from s2st_helpers import normalise_numbers, synthesise, translate
    from s2st_helpers.evaluation import bleu, log_spectral_distance, snr_db
    from s2st_helpers.samples import read_manifest

    asr = load_asr()
    ratio = 20.0 if maxlenratio is None else maxlenratio  # generate_speech's default
    rows = read_manifest(directory)
    tutorial = Tutorial(asr.device, ratio)
    presets = ["exact", "fast"] + (["fastest"] if "fastest" in presets else [])
    names = {"exact": "plain tier (exact)", "fast": "speed layer (fast)", "fastest": "speed layer (fastest)"}
    texts = {"tutorial (beam 5)": [], **{names[p]: [] for p in presets}}
    for row in rows:
        waveform = load_audio(Path(directory) / row["file"])
        for p in presets:  # seeded: a fallback samples
            texts[names[p]].append(translate(waveform, sampling_rate=SAMPLING_RATE, preset=p, seed=0))
        heard = {"array": waveform, "sampling_rate": SAMPLING_RATE}
        texts["tutorial (beam 5)"].append(tutorial.translate(heard).strip())
    plain = texts[names["exact"]]
    lines = []
    for p in presets[1:]:
        same = sum(a == b for a, b in zip(texts[names[p]], plain))
        lines.append(f"{names[p]}: text identical to the plain tier's on {same}/{len(rows)} clips")
    scored = [i for i, r in enumerate(rows) if r.get("english")]
    refs = [rows[i]["english"] for i in scored]
    scores = {}
    for name, hyps in texts.items():
        scores[name] = bleu([hyps[i] for i in scored], refs)
        lines.append(f"BLEU, {len(scored)} clips with references, {name}: {scores[name]:.2f}")
    if "fastest" in presets:
        met = scores[names["fastest"]] >= scores[names["exact"]]
        lines.append(f"fastest's BLEU no lower than the plain tier's: {'met' if met else 'NOT MET'}")

    # the same text, voice and seed through the tutorial's generate_speech and through the presets
    # (digits spelled out and spaces collapsed first, as synthesise does, so both read the same tokens)
    text = " ".join(normalise_numbers(translate(clip)).split())
    code = tutorial.code
    device = code["device"]
    ids = code["processor"](text=text, return_tensors="pt").input_ids.to(device)
    torch.manual_seed(0)
    reference = code["model"].generate_speech(ids, code["speaker_embeddings"].to(device),
                                              vocoder=code["vocoder"]).cpu().numpy()
    for p in ("exact", "fast"):  # fastest speaks as fast does
        speech = synthesise(text, "slt", maxlenratio=ratio, seed=0, preset=p)
        lines.append(f"{p} preset vs generate_speech (float32, same seed): {snr_db(speech, reference):.1f} dB SNR,"
                     f" log-spectral distance {log_spectral_distance(speech, reference):.3f} dB")
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default=str(DEFAULT_CLIP))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--maxlenratio", type=float, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--preset", nargs="+", default=[None], dest="presets", metavar="PRESET",
                    help="one or more presets, each measured against the same runs of the tutorial")
    ap.add_argument("--no-memory", action="store_true",
                    help="skip the fresh-process memory runs (the tutorial, each preset)")
    ap.add_argument("--quality", metavar="DIR", help="also check text, BLEU and audio on the clips in DIR")
    ap.add_argument("--json", metavar="FILE", help="write the raw timings here")
    ap.add_argument("--memory-of", help=argparse.SUPPRESS)  # "tutorial" or a preset
    args = ap.parse_args(argv)
    args.presets = list(dict.fromkeys(settings.preset(p) for p in args.presets))
    if args.reps < 1:
        raise ValueError("--reps must be at least 1")
    if args.memory_of:
        return _memory_of(args)
    if args.device:
        os.environ["S2ST_DEVICE"] = args.device
    result = measure(args)
    memory = {} if args.no_memory else {name: peak_memory(args, name) for name in ("tutorial", *args.presets)}
    for preset in args.presets:
        print(report(result, memory, args, preset), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({**result, "maxlenratio": args.maxlenratio, "memory": memory},
                                              indent=1))
    if args.quality:
        print(quality(args.quality, args.clip, args.maxlenratio, args.presets))


if __name__ == "__main__":
    main()
