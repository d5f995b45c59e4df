import numpy as np
import pytest

from s2st_helpers import solutions


def test_compare_decoding(tiny, wav_file):
    rows = solutions.compare_decoding(wav_file, beams=(1, 2))
    assert [r["num_beams"] for r in rows] == [1, 2]
    assert all(isinstance(r["text"], str) and r["seconds"] > 0 for r in rows)


def test_transcribe_and_translate(tiny, wav_file):
    out = solutions.transcribe_and_translate(wav_file)
    assert set(out) == {"language", "transcript", "translation"} and out["translation"]


def test_nearest_speakers_finds_itself():
    best = solutions.nearest_speakers("bdl", k=2)
    assert best[0][0] == "bdl" and best[0][1] == pytest.approx(1.0, abs=1e-5) and len(best) == 2


def test_round_trip(tiny, wav_file):
    from s2st_helpers.evaluation import round_trip

    out = round_trip(wav_file, maxlenratio=2.0)
    assert out["translation"] and isinstance(out["heard_back"], str) and 0 <= out["wer"]


def test_round_trip_all_sorts_worst_first(tiny):
    rows = solutions.round_trip_all(("it", "de"), maxlenratio=2.0)
    assert [r["language"] for r in rows] != [] and rows[0]["wer"] >= rows[-1]["wer"]


def test_length_by_stop_settings(tiny):
    rows = solutions.length_by_stop_settings("Hi there.", thresholds=(0.5,), maxlenratios=(2.0, 4.0))
    assert rows[0]["seconds"] < rows[1]["seconds"]  # the tiny voice never stops: the cap sets the length


def test_cascade_grid_and_stage_times(tiny, wav_file):
    rows = solutions.cascade_grid(("it",), ("slt", "bdl"), maxlenratio=2.0)
    assert [r["speaker"] for r in rows] == ["slt", "bdl"] and all(r["speech s"] > 0 for r in rows)
    times = solutions.stage_times(wav_file, beams=(1, 2), maxlenratio=2.0)
    assert set(times) == {1, 2} and all(t["translate"] > 0 for t in times.values())


def test_demo_with_length_slider(tiny, wav_file):
    import gradio as gr

    app = solutions.demo_with_length_slider()
    assert isinstance(app, gr.Interface)
    rate, speech = app.fn(str(wav_file), 2.0)
    assert rate == 16000 and speech.dtype == np.int16 and speech.size
    with pytest.raises(gr.Error):
        app.fn(None, 2.0)


def test_evaluate_folder(tiny, tmp_path, wav_file):
    import shutil

    shutil.copy(wav_file, tmp_path / "mine.wav")
    (tmp_path / "manifest.tsv").write_text("file\tlanguage\ttranscript\tenglish\nmine.wav\tit\tciao\thello\n")
    out = solutions.evaluate_folder(tmp_path, maxlenratio=2.0, progress=False)
    assert out["scores"]["clips"] == 1 and "RTF" in out["latency"].columns


def test_first_audio_by_block_restores_the_default(tiny, wav_file):
    from s2st_helpers.fast import speecht5_steps

    rows = solutions.first_audio_by_block(wav_file, first_blocks=(4, 64), maxlenratio=4.0)
    assert [r["first block (frames)"] for r in rows] == [4, 64] and speecht5_steps.FIRST_BLOCK == 16


def test_run_shows_the_code_then_answers(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    assert solutions.run(solutions.nearest_speakers, "bdl", k=1)[0][0] == "bdl"
    assert "def nearest_speakers" in shown[0].data
    monkeypatch.setenv("S2ST_HIDE_SOLUTIONS", "1")
    assert solutions.run(solutions.nearest_speakers, "bdl") is None
    assert "hidden" in capsys.readouterr().out


def test_every_solution_shown_runs_as_pasted():
    """The code a solution shows can be pasted into a fresh cell: no relative import,
    no decorator from the module, and every global name it reads is a builtin or
    imported in the code shown (checked on the compiled function, not the text)."""
    import builtins
    import dis

    shown = {name: solutions.shown_source(fn) for name, fn in vars(solutions).items()
             if callable(fn) and getattr(fn, "__wrapped__", None) is not None and fn.__module__ == solutions.__name__}
    assert len(shown) >= 15
    for name, code in shown.items():
        assert "from ." not in code and "@solution" not in code, code
        cell: dict = {}
        exec(compile(code, f"<{name}>", "exec"), cell)  # the imports at its top run here
        fn = cell[name]
        codes, read = [fn.__code__], set()
        while codes:  # the function's own code and any nested in it (comprehensions, lambdas)
            c = codes.pop()
            read |= {i.argval for i in dis.get_instructions(c) if i.opname == "LOAD_GLOBAL"}
            codes += [k for k in c.co_consts if hasattr(k, "co_code")]
        missing = {n for n in read if n not in cell and not hasattr(builtins, n)}
        imported = set()
        for line in code.splitlines():  # names a function imports inside itself count as defined
            if line.strip().startswith(("from ", "import ")):
                imported |= {part.split(" as ")[-1].strip() for part in line.split(" import ")[-1].split(",")}
        assert not missing - imported, (name, missing - imported)


def test_every_exercise_checks_itself_and_has_a_solution():
    """Each numbered exercise in a notebook has its check cell and its solution cell,
    and the exercises module holds as many exercises as the notebook asks."""
    import json
    import re
    from pathlib import Path

    from s2st_helpers.exercises import exercises as exercises_of

    for path in sorted(Path(__file__).resolve().parents[1].glob("notebooks/0*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        text = "".join("".join(c["source"]) + "\n" for c in cells)
        tail = text[text.index("## Exercises"):]
        asked = len(re.findall(r"^\d+\. ", tail, flags=re.M))
        assert asked == len(vars(exercises_of(path.name[:2]))), path.name
        for n in range(1, asked + 1):
            assert f"ex.q{n}.check(" in tail and f"ex.q{n}.solution(" in tail, f"{path.name}: exercise {n}"
        assert f'exercises("{path.name[:2]}")' in tail and "ex.q1.hint()" in tail
        for cell in cells:  # folded on the course site
            if cell["cell_type"] == "code" and ".solution(" in "".join(cell["source"]):
                assert "hide-cell" in cell["metadata"].get("tags", []), f"{path.name}: solution cell not folded"


def test_one_switch_hides_all(monkeypatch):
    monkeypatch.setenv("S2ST_HIDE_SOLUTIONS", "1")
    with pytest.raises(RuntimeError, match="hidden by your teacher"):
        solutions.nearest_speakers("bdl")
    monkeypatch.delenv("S2ST_HIDE_SOLUTIONS")
    solutions.hide()
    try:
        with pytest.raises(RuntimeError, match="hidden"):
            solutions.compare_decoding(np.zeros(10))
    finally:
        solutions.hide(False)
    assert solutions.nearest_speakers("slt")[0][0] == "slt"


def test_non_english_target_is_checked_first(tiny, wav_file, monkeypatch):
    from s2st_helpers import models

    monkeypatch.setattr(models, "load_asr", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(ValueError, match="targets are"):
        solutions.speech_to_speech_translation_to(wav_file, target="xx")
    with pytest.raises(ValueError, match="Italian has no voice"):
        solutions.speech_to_speech_translation_to(wav_file, target="ita")


def test_where_things_are(tiny, capsys):
    from huggingface_hub import constants

    from s2st_helpers.exercises import exercises

    answer = solutions.where_things_are()
    assert answer == constants.HF_HUB_CACHE and exercises("00").q2.check(answer)
    assert f"{tiny['asr']}: a local folder" in capsys.readouterr().out


def test_compare_presets(tiny):
    table = solutions.compare_presets({"short": "Good morning.", "long": "Good morning to you all."},
                                      maxlenratio=4.0)
    assert list(table.index) == ["short", "long"]
    out = table.loc["short"]
    assert out["exact s"] > 0 and out["fast s"] > 0 and out["length difference s"] == 0
    assert np.isfinite(out["SNR dB"]) and out["log-spectral distance dB"] > 0
