"""The speed benchmark runs end to end (on the tiny models: its numbers mean nothing
here; the timings that count come from running it by hand, see benchmarks/README.md)."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "s2st_helpers" / "data" / "samples"


def roomy_tts(tiny, tmp_path, monkeypatch):
    """The tiny SpeechT5 with long position tables: the tutorial's code sends the
    random Whisper's 256-token babble to SpeechT5 uncut, which the tiny model's
    60-token limit would refuse (the tables are buffers, not weights)."""
    import shutil

    path = tmp_path / "tts"
    shutil.copytree(tiny["tts"], path)
    config = json.loads((path / "config.json").read_text())
    config.update(max_text_positions=4096, max_speech_positions=8192)
    (path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("S2ST_TTS_MODEL", str(path))


def test_benchmark_prints_both_paths(tiny, tmp_path, monkeypatch):
    """Two presets in one run: a table each against the same runs of the tutorial, a
    fresh process's memory for each path, and the quality checks of both."""
    roomy_tts(tiny, tmp_path, monkeypatch)
    raw = tmp_path / "raw.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cascade_speed.py"), "--reps", "2", "--maxlenratio", "2",
         "--clip", str(SAMPLES / "it_001.wav"), "--json", str(raw), "--quality", str(SAMPLES),
         "--preset", "fast", "fastest"],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    for line in ("translate (s)", "first audio (s)", "peak RSS MB", "end to end:", "tutorial says:",
                 "speed layer (fast): text identical to the plain tier's on 8/8 clips", "BLEU, 7 clips",
                 "speed layer (fastest): text identical to the plain tier's on",
                 "BLEU, 7 clips with references, speed layer (fastest)",
                 "fastest's BLEU no lower than the plain tier's",
                 "exact preset vs generate_speech", "fast preset vs generate_speech", "targets (CPU, cpu):",
                 "end to end, tutorial / workbook", "synthesis of the same sentence", "first audio / tutorial's total",
                 "peak memory, workbook / tutorial", "both say the same sentence"):
        assert line in out, out
    tables = out.split("\nclip ")
    assert len(tables) == 2 and "| preset fast |" in tables[0] and "| preset fastest |" in tables[1], out
    assert all(table.count("both say the same sentence") == 1 for table in tables)
    result = json.loads(raw.read_text())
    assert result["presets"] == ["fast", "fastest"]
    assert {k: len(v) for k, v in result["runs"].items()} == {"tutorial": 2, "fast": 2, "fastest": 2}
    assert all(r["first audio"] <= r["total"] for r in result["runs"]["fast"] + result["runs"]["fastest"])
    assert set(result["memory"]) == {"tutorial", "fast", "fastest"} and min(result["memory"].values()) > 50

    floor = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "floor.py"), str(raw)],
                           capture_output=True, text=True, timeout=600)
    assert floor.returncode == 0, floor.stderr[-3000:]
    lines = floor.stdout.splitlines()
    for start in ("this machine: float32 products", "translate", "  Whisper's encoder, one padded window",
                  "  beam search,", "synthesise", "  SpeechT5's decoder,", "  HiFi-GAN,", "end to end",
                  "the tutorial's"):
        assert any(line.startswith(start) for line in lines), (start, floor.stdout)
    # no measured stage beats its floor (the tiny SpeechT5's floor rounds to 0.000)
    floors = {line.split()[0]: [float(x) for x in line.split()[-2:]] for line in lines
              if line.split() and line.split()[0] in ("translate", "synthesise", "end")}
    assert all(0 <= floor <= measured for floor, measured in floors.values()) and floors["end"][0] > 0, floors
    # the library's kernels, profiled in a run of the cascade: within that run's time, and a bound beside it
    kernels = next(line for line in lines if line.startswith("PyTorch's kernels alone, in one profiled run"))
    total = float(re.search(r"total ([\d.]+) s", kernels)[1])
    wall = float(re.search(r"the profiled run took ([\d.]+) s", floor.stdout)[1])
    assert 0 < total < wall and "x at most with them" in floor.stdout, floor.stdout


def test_floor_refuses_timings_without_fast(tiny, tmp_path, monkeypatch):
    roomy_tts(tiny, tmp_path, monkeypatch)
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cascade_speed.py"), "--reps", "1", "--maxlenratio", "2",
         "--clip", str(SAMPLES / "it_001.wav"), "--no-memory", "--preset", "fastest",
         "--json", str(tmp_path / "raw.json")],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "| preset fastest |" in out and "| preset fast |" not in out and "BLEU" not in out, out
    assert "peak memory, workbook / tutorial" not in out
    # fastest's bfloat16 stages can go under fast's floors: floor.py refuses its timings
    floor = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "floor.py"), str(tmp_path / "raw.json")],
                           capture_output=True, text=True, timeout=600)
    assert floor.returncode != 0 and "takes the timings of preset fast, not 'fastest'" in floor.stderr


def test_benchmark_refuses_bad_options(tiny):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cascade_speed.py"), "--preset", "turbo"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "unknown preset" in run.stderr


def test_long_recording_benchmark(tiny, tmp_path, monkeypatch):
    roomy_tts(tiny, tmp_path, monkeypatch)
    raw = tmp_path / "long.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "long_recording.py"), "--clips", str(SAMPLES), "--minutes", "1",
         "--maxlenratio", "1", "--memory", "0.6", "--presets", "exact", "fast", "fast", "--seed", "0",
         "--json", str(raw)],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for line in ("workbook (exact), whole recording", "workbook (fast), whole recording", "tutorial, first 30 s only",
                 "workbook (fast) against the plain tier: translation", "raises a ValueError",
                 "CLI on 0.6 min: peak memory"):
        assert line in run.stdout, run.stdout
    result = json.loads(raw.read_text())
    for preset in ("exact", "fast"):
        workbook = result[f"workbook ({preset})"]
        assert workbook["windows"] >= 2 and workbook["first audio"] < workbook["total"]
    assert result["tutorial (first 30 s)"]["total"] > 0 and result["memory"]["0.6"]["peak MB"] > 50
    # seeded, the default preset repeats its English (the digest is of the text; the
    # tiny Whisper loops, so its windows fall back to sampling)
    assert result["workbook (fast)"]["text digest"] == result["workbook (fast) #2"]["text digest"]


def test_beam_search_benchmark(tiny):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "beam_search.py"), "--clips", str(SAMPLES)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "beam-5 text of the speed layer = the plain tier's on 8 of 8 clips" in run.stdout, run.stdout
    assert "beam 5 / greedy on the speed layer:" in run.stdout


def test_gpu_targets_are_the_gpu_ones():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import cascade_speed
    finally:
        sys.path.pop(0)
    tutorial = {"total": 1.0, "synthesise": 0.7}
    workbook = {"total": 0.08, "translate": 0.05, "first audio": 0.07}
    lines = cascade_speed.targets_table(tutorial, workbook, 0.1, {"tutorial": 900, "workbook": 950}, True, "cuda:0")
    text = " ".join(" ".join(lines).split())
    assert lines[0] == "targets (GPU, cuda:0):"
    assert "tutorial / workbook 12.50x >= 10x met" in text
    assert "first audio after Whisper finishes 20.00ms <= 60ms met" in text
    assert "synthesis of the same sentence" not in text
    assert "peak memory, workbook / tutorial 1.06 <= 1 NOT MET" in text


def test_speecht5_graph_benchmark(tiny):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speecht5_graph.py"), "--reps", "1",
                          "--maxlenratio", "4", "--text", "Hello there."], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for line in ("decoder steps", "generate_speech (tutorial)", "eager loop (speed layer)", "first block after",
                 "CUDA graph: not on this device"):
        assert line in run.stdout, run.stdout
    eager = next(line for line in run.stdout.splitlines() if line.startswith("eager loop"))
    assert float(eager.split()[-1]) > 60  # dB from generate_speech: the same speech
    refused = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speecht5_graph.py"), "--reps", "0"],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "--reps must be at least 1" in refused.stderr
