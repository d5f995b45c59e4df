"""The tutorial's cascade and the workbook's, side by side on one clip.

The tutorial's code runs as written (the ASR pipeline with its default beam 5, then
SpeechT5's ``generate_speech`` with the vocoder); the workbook runs
``speech_to_speech_translation_stream``. Same clip, same models, repetitions
interleaved, medians reported: per-stage seconds, time to first audio, real-time
factor, peak memory (each path in a fresh process) and the ratios.

    python benchmarks/cascade_speed.py --clip ../shared/audio/it_001.wav --maxlenratio 4
    python benchmarks/cascade_speed.py --quality ../shared/audio   # text, BLEU, audio checks

Models come from S2ST_ASR_MODEL, S2ST_TTS_MODEL and S2ST_VOCODER (default: the hub
ids). With the random-weight SpeechT5 stand-ins pass ``--maxlenratio 4`` (their stop
head never fires; 4 gives about the length real speech has).
"""

from __future__ import annotations

import argparse
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
from s2st_helpers.models import asr_model_id, load_asr, pick_device, preset_name, tts_model_id, vocoder_id
from s2st_helpers.speakers import load_speaker

DEFAULT_CLIP = Path(__file__).resolve().parents[1] / "s2st_helpers" / "data" / "samples" / "it_001.wav"


class Tutorial:
    """Unit 7's code, with the model ids made configurable and nothing else changed
    (``maxlenratio`` is passed only when asked for, as the stand-ins need)."""

    def __init__(self, device, maxlenratio: float | None):
        from transformers import SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5Processor, pipeline

        self.device = device
        self.pipe = pipeline("automatic-speech-recognition", model=asr_model_id(), device=device)
        self.processor = SpeechT5Processor.from_pretrained(tts_model_id())
        self.model = SpeechT5ForTextToSpeech.from_pretrained(tts_model_id()).to(device)
        self.vocoder = SpeechT5HifiGan.from_pretrained(vocoder_id()).to(device)
        # embeddings_dataset[7306]["xvector"]: the same x-vector, bundled
        self.speaker_embeddings = torch.tensor(load_speaker("slt")).unsqueeze(0)
        self.extra = {} if maxlenratio is None else {"maxlenratio": maxlenratio}

    def translate(self, audio):
        outputs = self.pipe(audio, max_new_tokens=256, generate_kwargs={"task": "translate"})
        return outputs["text"]

    def synthesise(self, text):
        inputs = self.processor(text=text, return_tensors="pt")
        speech = self.model.generate_speech(inputs["input_ids"].to(self.device),
                                            self.speaker_embeddings.to(self.device), vocoder=self.vocoder,
                                            **self.extra)
        return speech.cpu()

    def run(self, waveform: np.ndarray) -> dict:
        start = time.perf_counter()
        text = self.translate({"array": waveform.copy(), "sampling_rate": SAMPLING_RATE})
        translated = time.perf_counter()
        speech = (self.synthesise(text).numpy() * 32767).astype(np.int16)
        _sync(self.device)
        end = time.perf_counter()
        return {"translate": translated - start, "synthesise": end - translated, "first audio": end - start,
                "total": end - start, "speech s": len(speech) / SAMPLING_RATE, "text": text}


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
             "workbook": Workbook(device, args.maxlenratio, args.preset)}
    for path in paths.values():  # warm-up: loading, first-call allocations
        path.run(waveform)
    runs = {name: [] for name in paths}
    same_text = []
    for rep in range(args.reps):
        order = list(paths) if rep % 2 == 0 else list(paths)[::-1]
        for name in order:
            runs[name].append(paths[name].run(waveform))
        same_text.append(paths["workbook"].synthesise_text(runs["tutorial"][-1]["text"]))
    return {"device": str(device), "clip": str(args.clip), "seconds": len(waveform) / SAMPLING_RATE,
            "runs": runs, "workbook synthesise (tutorial's text)": same_text}


def peak_memory(args, name: str) -> float:
    """Peak resident memory (MB) of a fresh process that loads one path and runs it
    once; on CUDA, peak allocated GPU memory instead."""
    command = [sys.executable, __file__, "--memory-of", name, "--clip", str(args.clip), "--preset", args.preset]
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
            else Workbook(device, args.maxlenratio, args.preset))
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


def report(result: dict, memory: dict, args) -> str:
    med = {name: {k: statistics.median(r[k] for r in runs) for k in ("translate", "synthesise", "first audio",
                                                                     "total", "speech s")}
           for name, runs in result["runs"].items()}
    t, w = med["tutorial"], med["workbook"]
    seconds = result["seconds"]
    cpu = cpu_name()
    lines = [f"clip {Path(result['clip']).name} ({seconds:.2f} s) | device {result['device']} "
             f"({torch.get_num_threads()} threads, {cpu}) | preset {args.preset} | maxlenratio {args.maxlenratio}"
             f" | {args.reps} interleaved reps, medians | torch {torch.__version__}",
             f"{'':34}{'tutorial':>10}{'workbook':>10}{'ratio':>8}"]
    for key in ("translate", "synthesise", "total"):
        lines.append(f"{key + ' (s)':34}{t[key]:10.3f}{w[key]:10.3f}{t[key] / w[key]:7.2f}x")
    same = statistics.median(result["workbook synthesise (tutorial's text)"])
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
    lines.append(f"tutorial says: {result['runs']['tutorial'][-1]['text'].strip()!r}")
    lines.append(f"workbook says: {result['runs']['workbook'][-1]['text']!r}")
    return "\n".join(lines)


def quality(directory: str, clip: str, maxlenratio: float | None) -> str:
    """Greedy text unchanged, BLEU against references, and how far the fast preset's
    speech is from the float32 path's."""
    import csv

    from s2st_helpers import translate
    from s2st_helpers.models import load_tts
    from s2st_helpers.streaming import speech_blocks
    from s2st_helpers.evaluation import bleu, log_spectral_distance, snr_db
    from s2st_helpers.translation import translate_with_generate

    asr = load_asr()
    ratio = 20.0 if maxlenratio is None else maxlenratio  # generate_speech's default
    rows = list(csv.DictReader((Path(directory) / "manifest.tsv").read_text(encoding="utf-8").splitlines(),
                               delimiter="\t", quoting=csv.QUOTE_NONE))
    tutorial = Tutorial(asr.device, ratio)
    texts = {"tutorial (beam 5)": [], "greedy, unoptimised": [], "workbook": []}
    for row in rows:
        waveform = load_audio(Path(directory) / row["file"])
        torch.manual_seed(0)
        texts["workbook"].append(translate(waveform, sampling_rate=SAMPLING_RATE))
        torch.manual_seed(0)
        texts["greedy, unoptimised"].append(translate_with_generate(waveform, sampling_rate=SAMPLING_RATE))
        texts["tutorial (beam 5)"].append(tutorial.translate({"array": waveform, "sampling_rate": SAMPLING_RATE}).strip())
    same = sum(a == b for a, b in zip(texts["workbook"], texts["greedy, unoptimised"]))
    lines = [f"greedy text identical to the unoptimised greedy path: {same}/{len(rows)} clips"]
    scored = [i for i, r in enumerate(rows) if r.get("english")]
    refs = [rows[i]["english"] for i in scored]
    for name, hyps in texts.items():
        lines.append(f"BLEU, {len(scored)} clips with references, {name}: {bleu([hyps[i] for i in scored], refs):.1f}")

    # the same ids, voice and seed through generate_speech and through both presets
    ids = tutorial.processor(text=translate(clip), return_tensors="pt").input_ids
    torch.manual_seed(0)
    reference = tutorial.model.generate_speech(ids, tutorial.speaker_embeddings, vocoder=tutorial.vocoder,
                                               maxlenratio=ratio).numpy()
    for preset in ("exact", "fast"):
        tts = load_tts(preset=preset)
        torch.manual_seed(0)
        with torch.inference_mode():
            blocks = speech_blocks(tts.model, tts.vocoder, ids, tutorial.speaker_embeddings, maxlenratio=ratio)
            speech = torch.cat(list(blocks)).numpy()
        lines.append(f"{preset} preset vs generate_speech (float32, same seed): {snr_db(speech, reference):.1f} dB SNR,"
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
    ap.add_argument("--preset", default=None)
    ap.add_argument("--no-memory", action="store_true", help="skip the two fresh-process memory runs")
    ap.add_argument("--quality", metavar="DIR", help="also check text, BLEU and audio on the clips in DIR")
    ap.add_argument("--json", metavar="FILE", help="write the raw timings here")
    ap.add_argument("--memory-of", choices=("tutorial", "workbook"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.preset = preset_name(args.preset)
    if args.reps < 1:
        raise ValueError("--reps must be at least 1")
    if args.memory_of:
        return _memory_of(args)
    if args.device:
        os.environ["S2ST_DEVICE"] = args.device
    result = measure(args)
    memory = {} if args.no_memory else {name: peak_memory(args, name) for name in ("tutorial", "workbook")}
    print(report(result, memory, args), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({**result, "memory": memory}, indent=1))
    if args.quality:
        print(quality(args.quality, args.clip, args.maxlenratio))


if __name__ == "__main__":
    main()
