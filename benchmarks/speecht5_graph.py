"""SpeechT5's decoder loop three ways on one sentence: the tutorial's
``generate_speech``, the speed layer's eager loop, and the same loop replayed as a
CUDA graph (GPU only), each with the vocoder; then, on a GPU, the graph with its stop
head read at every step (the loop's default reads it every ``READ_STOP_EVERY``
steps), and the graph in float16.
Same seed for all; seconds are medians, and each is compared with
``generate_speech``'s speech (SNR).

    python benchmarks/speecht5_graph.py --device cuda --maxlenratio 4

Models come from S2ST_TTS_MODEL and S2ST_VOCODER (default: the hub ids).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from s2st_helpers.evaluation import snr_db
from s2st_helpers.fast import speecht5_steps
from s2st_helpers.fast.speecht5_steps import speech_blocks
from s2st_helpers.models import load_tts, pick_device
from s2st_helpers.speakers import load_speaker

TEXT = "From the pass you climb to the summit along the south ridge."


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device, fn, reps: int):
    """(median seconds, result of the last run), after one untimed warm-up run."""
    fn()
    seconds = []
    for _ in range(reps):
        _sync(device)
        start = time.perf_counter()
        out = fn()
        _sync(device)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=None)
    ap.add_argument("--text", default=TEXT)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--maxlenratio", type=float, default=20.0)
    args = ap.parse_args(argv)
    if args.reps < 1:
        raise ValueError("--reps must be at least 1")
    device = pick_device(args.device)
    tts = load_tts(device=device, preset="exact")  # float32 weights: the same model for all three
    ids = tts.processor(text=args.text, return_tensors="pt").input_ids.to(device)
    speaker = torch.from_numpy(load_speaker("slt"))[None].to(device)

    def tutorial():
        torch.manual_seed(0)
        with torch.inference_mode():
            return tts.model.generate_speech(ids, speaker, vocoder=tts.vocoder, maxlenratio=args.maxlenratio)

    def loop(model=tts.model, vocoder=tts.vocoder, graphs=False, first=None, every=None):
        speecht5_steps.CUDA_GRAPHS = graphs
        torch.manual_seed(0)
        blocks = []
        start = time.perf_counter()
        with torch.inference_mode():
            for block in speech_blocks(model, vocoder, ids.to(device), speaker.to(next(model.parameters()).dtype),
                                       maxlenratio=args.maxlenratio, read_stop_every=every):
                blocks.append(block.float().cpu())
                if first is not None and len(blocks) == 1:
                    first.append(time.perf_counter() - start)
        return torch.cat(blocks)

    reference_s, reference = timed(device, tutorial, args.reps)
    reference = reference.float().cpu().numpy()
    steps = len(reference) // 256 // tts.model.config.reduction_factor
    print(f"device {device} | {steps} decoder steps ({len(reference) / 16000:.2f} s of speech) | "
          f"{args.reps} reps, medians | torch {torch.__version__}")
    print(f"{'':34}{'seconds':>9}{'ms/step':>9}{'speed-up':>10}{'SNR dB':>9}")

    def row(name, seconds, speech):
        snr = snr_db(speech.numpy(), reference) if speech is not None else float("nan")
        print(f"{name:34}{seconds:9.3f}{seconds / steps * 1000:9.2f}{reference_s / seconds:9.2f}x{snr:9.1f}",
              flush=True)

    row("generate_speech (tutorial)", reference_s, torch.from_numpy(reference))
    first: list[float] = []
    seconds, speech = timed(device, lambda: loop(first=first), args.reps)
    row("eager loop (speed layer)", seconds, speech)
    print(f"{'  first block after':34}{statistics.median(first[1:]):9.3f}")
    if device.type != "cuda":
        print("CUDA graph: not on this device")
        return
    start = time.perf_counter()
    recording = loop(graphs=True)  # the first call records the graph
    recorded = time.perf_counter() - start
    first.clear()
    seconds, speech = timed(device, lambda: loop(graphs=True, first=first), args.reps)
    row("CUDA graph", seconds, speech)
    print(f"{'  first block after':34}{statistics.median(first[1:]):9.3f}")
    print(f"{'  first call, recording included':34}{recorded:9.3f}{'':19}"
          f"{snr_db(recording.numpy(), reference):9.1f}")
    seconds, speech = timed(device, lambda: loop(graphs=True, every=1), args.reps)
    row("CUDA graph, stop read every step", seconds, speech)
    half, half_vocoder = copy.deepcopy(tts.model).half(), copy.deepcopy(tts.vocoder).half()
    seconds, speech = timed(device, lambda: loop(half, half_vocoder, graphs=True), args.reps)
    row("CUDA graph, float16", seconds, speech)
    speecht5_steps.CUDA_GRAPHS = True


if __name__ == "__main__":
    main()
