"""Beam 5 against greedy, and the speed layer's beam search against ``generate``'s.

For every clip in a folder (a ``manifest.tsv`` with ``file`` and ``language``), in one
process, interleaved clip by clip: ``translate_details`` with greedy decoding and with
beam 5 on the speed layer (``preset="fast"``: the encoder once, the written-out loops),
and with beam 5 on the plain tier (``preset="exact"``: ``generate``). All three keep the
runaway guard. Prints per clip whether the speed layer's beam-5 text is the plain
tier's, the seconds of each, and the totals and ratios.

    python benchmarks/beam_search.py --clips ../shared/audio

Models come from S2ST_ASR_MODEL (default: the hub id).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from s2st_helpers import translate_details
from s2st_helpers.audio import load_audio
from s2st_helpers.samples import read_manifest

RUNS = {"greedy, fast": {"num_beams": 1, "preset": "fast"}, "beam 5, fast": {"num_beams": 5, "preset": "fast"},
        "beam 5, exact": {"num_beams": 5, "preset": "exact"}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", required=True, help="folder with manifest.tsv")
    args = parser.parse_args(argv)
    root = Path(args.clips)
    rows = read_manifest(root)
    translate_details(root / rows[0]["file"])  # warm-up: load the model
    seconds = dict.fromkeys(RUNS, 0.0)
    same = 0
    print(f"{'clip':12} {'same':5} " + " ".join(f"{name:>14}" for name in RUNS) + "  beam-5 text")
    for row in rows:
        audio = {"array": load_audio(root / row["file"]), "sampling_rate": 16000}
        texts, times = {}, {}
        for name, options in RUNS.items():
            start = time.perf_counter()
            texts[name] = translate_details(audio, seed=0, **options).text  # seeded: a fallback samples
            times[name] = time.perf_counter() - start
            seconds[name] += times[name]
        identical = texts["beam 5, fast"] == texts["beam 5, exact"]
        same += identical
        print(f"{row['file']:12} {str(identical):5} " + " ".join(f"{times[n]:13.2f}s" for n in RUNS)
              + f"  {texts['beam 5, fast'][:60]}")
    print(f"\nbeam-5 text of the speed layer = the plain tier's on {same} of {len(rows)} clips")
    print("total: " + ", ".join(f"{n} {s:.2f} s" for n, s in seconds.items()))
    print(f"beam 5 / greedy on the speed layer: {seconds['beam 5, fast'] / seconds['greedy, fast']:.2f}x; "
          f"plain tier's beam 5 / speed layer's: {seconds['beam 5, exact'] / seconds['beam 5, fast']:.2f}x")


if __name__ == "__main__":
    main()
