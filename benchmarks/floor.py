"""The least time the workbook's arithmetic can take on this machine, beside what it takes.

Reads the raw timings that ``cascade_speed.py --json FILE`` wrote, counts the work of
each stage for the sentence the workbook said, measures what this machine sustains
(a float32 matrix product of Whisper's encoder's shape; a read of a tensor larger than
any cache) and prints each stage's floor: its arithmetic at the product's rate, or its
weights read at the memory's rate, whichever the stage is bound by. No code doing the
same arithmetic can beat the floor, so the tutorial's total over the floor is the
most any speed-up of this kind can reach on this machine.

It also runs the cascade once under PyTorch's profiler and sums the time spent inside
the library's own kernels for the matrix products, convolutions and attention. Those
kernels run at their own rates, below the machine's; no change in how the workbook
calls them can go under their sum, so the tutorial's total over it is the most these
kernels allow.

    python benchmarks/cascade_speed.py --maxlenratio 4 --json /tmp/raw.json
    python benchmarks/floor.py /tmp/raw.json

Work is counted, not estimated: PyTorch's ``FlopCounterMode`` on the models' own
forward passes for the encoder and HiFi-GAN, the layers' shapes for the steps. The
floors are for the ``fast`` preset's number formats on a CPU: float32 arithmetic,
Whisper's decoder weights read in float16, SpeechT5's linear layers in int8, each
weight read once a step. (``fastest``'s bfloat16 encoder and vocoder can go under
them, so its timings are refused.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time

import numpy as np
import torch
from torch.profiler import profile
from torch.utils.flop_counter import FlopCounterMode

from s2st_helpers import speech_to_speech_translation_stream
from s2st_helpers.audio import load_audio
from s2st_helpers.fast.hifigan_stream import StreamingHifiGan
from s2st_helpers.fast.speecht5_steps import FIRST_BLOCK, MAX_BLOCK, VOCODER_LAG
from s2st_helpers.models import load_asr, load_tts
from s2st_helpers.translation import whisper_features

HOP = 256  # HiFi-GAN's samples per spectrogram frame (4 x 4 x 4 x 4 upsampling)
BEAMS = 5
# the library's compute kernels, by the names the profiler gives them (self time: none counted twice)
KERNELS = {"matrix products": ("addmm", "aten::mm", "bmm", "linear_dynamic"),
           "convolutions": ("conv",), "attention": ("scaled_dot_product", "flash_attention")}
REST = {"translate": "the rest: features, prompt, beam search", "synthesise": "the rest: text encoder, decoder steps"}


def best_of(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def machine_rates() -> tuple[float, float]:
    """(float32 FLOP/s of a matrix product shaped like Whisper's fc1 on a window,
    bytes/s of a sum over 256 MB)."""
    a, b = torch.randn(1500, 512), torch.randn(512, 2048)
    flops = 2 * 1500 * 512 * 2048 / best_of(lambda: a @ b, 10)
    big = torch.ones(64 * 2**20)  # 256 MB of float32: past any cache
    read = big.numel() * 4 / best_of(big.sum, 5)
    return flops, read


def counted(fn) -> float:
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def linear_elements(module, skip=()) -> int:
    """Weight elements of the linear layers in ``module`` (float or int8), less those
    whose names end with one of ``skip``."""
    return sum(m.in_features * m.out_features for name, m in module.named_modules()
               if hasattr(m, "in_features") and hasattr(m, "out_features") and not name.endswith(tuple(skip)))


def whisper_work(asr, waveform: np.ndarray, text: str) -> dict:
    """The encoder's FLOPs on one padded window (its attention added: FlopCounterMode
    does not see the CPU's fused attention), and the bytes a beam step reads."""
    features = whisper_features(asr, waveform)["input_features"]
    encoder = asr.model.model.encoder
    out = {}
    flops = counted(lambda: out.setdefault("hidden", encoder(features).last_hidden_state))
    with torch.inference_mode():
        seconds = best_of(lambda: encoder(features), 3)
    positions, width = out["hidden"].shape[1:]
    flops += len(encoder.layers) * 4 * positions**2 * width  # scores and weighted sum, every layer
    decoder = asr.model.model.decoder
    weights = linear_elements(decoder, skip=("encoder_attn.k_proj", "encoder_attn.v_proj"))
    weights += asr.model.proj_out.in_features * asr.model.proj_out.out_features
    cross = len(decoder.layers) * 2 * positions * width * 4  # the encoder's keys and values, float32
    steps = len(asr.processor.tokenizer(text, add_special_tokens=False).input_ids) + 1  # and the end token
    return {"encoder flops": flops, "encoder s": seconds, "steps": steps, "step bytes": 2 * weights + cross}


def speecht5_work(tts, text: str, frames: int) -> dict:
    """The text encoder's FLOPs, the bytes a decoder step reads in int8, HiFi-GAN's FLOPs."""
    model = tts.model
    tokens = tts.processor(text=text, return_tensors="pt")["input_ids"].shape[1]
    encoder_flops = 2 * tokens * linear_elements(model.speecht5.encoder)
    decoder = model.speecht5.decoder
    step = linear_elements(decoder, skip=("encoder_attn.k_proj", "encoder_attn.v_proj"))
    step += linear_elements(model.speech_decoder_postnet)
    layers, width = model.config.decoder_layers, model.config.hidden_size
    cross = layers * 2 * tokens * width * 4
    mel = torch.randn(1, frames, model.config.num_mel_bins, device=tts.device)
    vocoder_flops = counted(lambda: tts.vocoder(mel))
    with torch.inference_mode():
        seconds = best_of(lambda: stream(tts.vocoder, mel[0]), 3)
    return {"encoder flops": encoder_flops, "steps": -(-frames // model.config.reduction_factor),
            "step bytes": step + cross, "vocoder flops": vocoder_flops, "vocoder s": seconds, "tokens": tokens}


def stream(vocoder, mel: torch.Tensor) -> None:
    """HiFi-GAN as the workbook's cascade runs it: the speed layer's stream, in its
    blocks (the first with HiFi-GAN's lag, then doubling up to MAX_BLOCK)."""
    voice, done = StreamingHifiGan(vocoder), 0
    doubling = (min(FIRST_BLOCK * 2**k, MAX_BLOCK) for k in itertools.count(1))
    for block in itertools.chain([FIRST_BLOCK + VOCODER_LAG], doubling):
        voice(mel[done:done + block], final=done + block >= len(mel))
        done += block
        if done >= len(mel):
            return


def kernel_times(waveform: np.ndarray, maxlenratio: float | None) -> dict:
    """One warm run of the ``fast`` cascade under the profiler: seconds inside each
    group of ``KERNELS``, in all other operations, the run's wall time and its text."""
    def run():
        for block in speech_to_speech_translation_stream({"array": waveform, "sampling_rate": 16000},
                                                         maxlenratio=maxlenratio, preset="fast"):
            pass
        return block.text

    run()  # the first run lays weights out once
    with profile() as prof:
        start = time.perf_counter()
        text = run()
        wall = time.perf_counter() - start
    out = {group: 0.0 for group in KERNELS} | {"other": 0.0}
    for event in prof.key_averages():
        name = event.key.lower()
        group = next((g for g, parts in KERNELS.items() if any(p in name for p in parts)), "other")
        out[group] += event.self_cpu_time_total / 1e6
    return {**out, "wall": wall, "text": text}


def kernels_report(kernels: dict, raw: dict) -> str:
    tutorial = statistics.median(r["total"] for r in raw["runs"]["tutorial"])
    groups = list(KERNELS)
    total = sum(kernels[g] for g in groups)
    said = "" if kernels["text"] == raw["runs"]["fast"][-1]["text"] else f" (it said {kernels['text']!r})"
    return "\n".join([
        f"PyTorch's kernels alone, in one profiled run of the cascade{said}: "
        + ", ".join(f"{g} {kernels[g]:.3f} s" for g in groups) + f"; total {total:.3f} s",
        f"  all other operations {kernels['other']:.3f} s; between operations (Python, the profiler) "
        f"{kernels['wall'] - total - kernels['other']:.3f} s; the profiled run took {kernels['wall']:.3f} s",
        f"the tutorial's {tutorial:.2f} s over these kernels alone: {tutorial / total:.2f}x at most with them; "
        + (f"4x leaves {tutorial / 4 - total:.3f} s for everything else" if tutorial / 4 > total
           else "4x would need faster kernels than these")])


def report(raw: dict, rates: tuple[float, float], whisper: dict, speecht5: dict, frames: int) -> str:
    flops, read = rates
    measured = {k: statistics.median(r[k] for r in raw["runs"]["fast"]) for k in ("translate", "synthesise",
                                                                                        "total")}
    tutorial = statistics.median(r["total"] for r in raw["runs"]["tutorial"])
    # (row, work, floor, measured): None measured is the stage's time less the rows timed alone
    stages = {
        "translate": [
            ("Whisper's encoder, one padded window", f"{whisper['encoder flops'] / 1e9:.1f} GFLOP",
             whisper["encoder flops"] / flops, whisper["encoder s"]),
            (f"beam search, {whisper['steps']} steps x {BEAMS} beams", f"{whisper['step bytes'] / 1e6:.0f} MB a step",
             whisper["steps"] * whisper["step bytes"] / read, None)],
        "synthesise": [
            (f"SpeechT5's text encoder, {speecht5['tokens']} tokens", f"{speecht5['encoder flops'] / 1e9:.1f} GFLOP",
             speecht5["encoder flops"] / flops, None),
            (f"SpeechT5's decoder, {speecht5['steps']} steps", f"{speecht5['step bytes'] / 1e6:.0f} MB a step",
             speecht5["steps"] * speecht5["step bytes"] / read, None),
            (f"HiFi-GAN, {frames} frames", f"{speecht5['vocoder flops'] / 1e9:.1f} GFLOP",
             speecht5["vocoder flops"] / flops, speecht5["vocoder s"])]}
    lines = [f"this machine: float32 products {flops / 1e9:.0f} GFLOP/s, memory reads {read / 1e9:.1f} GB/s "
             f"({torch.get_num_threads()} threads)",
             f"the workbook said {raw['runs']['fast'][-1]['text']!r}",
             f"{'stage':46}{'work':>16}{'floor (s)':>11}{'measured (s)':>14}"]
    floor_total = 0.0
    for stage, rows in stages.items():
        floor = sum(row[2] for row in rows)
        floor_total += floor
        lines.append(f"{stage:46}{'':>16}{floor:11.3f}{measured[stage]:14.3f}")
        rest = measured[stage] - sum(row[3] for row in rows if row[3] is not None)
        for name, work, floor, seconds in rows:
            timed = f"{seconds:14.3f}" if seconds is not None else ""
            lines.append(f"  {name:44}{work:>16}{floor:11.3f}{timed}")
        lines.append(f"  {REST[stage]:44}{'':>16}{'':>11}{rest:14.3f}")
    lines.append(f"{'end to end':46}{'':>16}{floor_total:11.3f}{measured['total']:14.3f}")
    lines.append(f"the tutorial's {tutorial:.2f} s over each: {tutorial / floor_total:.1f}x at the floor, "
                 f"{tutorial / measured['total']:.2f}x measured; 4x needs {tutorial / 4:.2f} s")
    lines.append("(Whisper's encoder and HiFi-GAN's stream timed alone; the rest is the stage's time less them)")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("timings", help="the JSON file written by cascade_speed.py --json")
    args = parser.parse_args(argv)
    raw = json.loads(open(args.timings, encoding="utf-8").read())
    if "fast" not in raw.get("presets", []):
        found = ", ".join(map(repr, raw.get("presets", []))) or "none"
        raise ValueError(f"{args.timings}: floor.py takes the timings of preset fast, not {found}")
    last = raw["runs"]["fast"][-1]
    text = last["text"]
    frames = round(last["speech s"] * 16000 / HOP)
    asr, tts = load_asr(), load_tts(preset="fast")
    if tts.device.type != "cpu":
        raise ValueError("floor.py counts a CPU's floors; on a GPU the steps are bound by launches, not bytes")
    waveform = load_audio(raw["clip"])
    whisper = whisper_work(asr, waveform, text)
    speecht5 = speecht5_work(tts, text, frames)
    print(report(raw, machine_rates(), whisper, speecht5, frames))
    print(kernels_report(kernel_times(waveform, raw.get("maxlenratio")), raw))


if __name__ == "__main__":
    main()
