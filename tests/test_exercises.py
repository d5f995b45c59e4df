"""Every exercise's check() on a right answer and on wrong ones; hints; solutions
hidden by the switch while checks and hints stay."""

import numpy as np
import pytest

from s2st_helpers import exercises as exercises_module
from s2st_helpers import solutions
from s2st_helpers.exercises import FOX, exercises


@pytest.fixture
def greedy(tiny, monkeypatch):
    """The tiny Whisper repeats itself, which sends the guard into random sampling:
    one temperature makes the checks' own runs repeatable."""
    import s2st_helpers.translation as translation

    monkeypatch.setattr(translation, "TEMPERATURES", (0.0,))
    return tiny


def verdict(exercise, *answer, **context):
    return exercise.check(*answer, **context)


def test_every_notebook_has_its_exercises():
    counts = {nb: len(vars(exercises(nb))) for nb in ("00", "01", "02", "03", "04", "05", "06", "07")}
    assert counts == {"00": 2, "01": 2, "02": 2, "03": 3, "04": 2, "05": 2, "06": 2, "07": 2}
    with pytest.raises(ValueError, match="no exercises for notebook '09'"):
        exercises("09")


def test_unanswered_and_hint(capsys):
    ex = exercises("00")
    assert ex.q1.check(None) is False
    ex.q1.hint()
    out = capsys.readouterr().out
    assert "Not answered yet" in out and "Hint: put 'cpu' in `os.environ` under the name S2ST_DEVICE" in out


def test_a_check_called_without_what_it_needs_says_how_to_call_it(capsys):
    # the notebooks' generic line says ex.q1.check(answer); some checks need more
    with pytest.raises(TypeError, match=r"ex.q1.check\(answer, audio=...\) is how this check is called"):
        exercises("01").q1.check({1: "a", 5: "b"})
    with pytest.raises(TypeError, match=r"ex.q2.check\(answer, table=...\)"):
        exercises("07").q2.check(("b.wav", True))
    with pytest.raises(TypeError, match="It also takes target"):
        exercises("07").q1.check(print, language="fr")
    assert exercises("07").q1.check("my answer") is False  # a function was asked for
    assert "that is not a function (str)" in capsys.readouterr().out


def test_00(monkeypatch, tmp_path, capsys):
    from huggingface_hub import constants

    ex = exercises("00")
    assert verdict(ex.q1, "cpu") and not verdict(ex.q1, "cuda") and not verdict(ex.q1, "no-such-device")
    assert verdict(ex.q2, constants.HF_HUB_CACHE)
    assert not verdict(ex.q2, constants.HF_HOME) and not verdict(ex.q2, tmp_path)
    assert "that is HF_HOME" in capsys.readouterr().out


def test_01(greedy, speech):
    from s2st_helpers import translate

    ex = exercises("01")
    right = {b: translate(speech, sampling_rate=16000, num_beams=b) for b in (1, 5)}
    audio = {"array": speech, "sampling_rate": 16000}
    assert verdict(ex.q1, right, audio=audio)
    assert not verdict(ex.q1, {1: "something else", 5: right[5]}, audio=audio)
    assert not verdict(ex.q1, [right[1], right[5]], audio=audio)

    def mine(audio):
        details = __import__("s2st_helpers").translate_details(audio)
        return translate(audio, task="transcribe", language=details.language), details.text

    def english_twice(audio):
        return translate(audio), translate(audio)

    assert verdict(ex.q2, mine)
    assert not verdict(ex.q2, english_twice) and not verdict(ex.q2, lambda audio: "just text")


def test_checks_of_decoding_are_seeded_where_the_guard_samples(tiny, speech, monkeypatch):
    """The tiny Whisper loops, so the guard falls back to sampling: a right answer
    made with seed=0 must pass every time, in 01 (the texts) and 05 (BLEU)."""
    from s2st_helpers import evaluation
    from s2st_helpers.translation import translate

    audio = {"array": speech, "sampling_rate": 16000}
    unseeded = {translate(audio, num_beams=5) for _ in range(3)}
    assert len(unseeded) > 1  # the fallback samples: without a seed the text changes
    right = {b: translate(audio, num_beams=b, seed=0) for b in (1, 5)}
    assert all(verdict(exercises("01").q1, right, audio=audio) for _ in range(2))

    # a BLEU that moves with any change of text, so that a check translating unseeded fails
    monkeypatch.setattr(evaluation, "bleu", lambda hypotheses, references: float(len("".join(hypotheses))))
    items = evaluation.load_eval_set()[:1]
    scores = {b: evaluation.bleu([translate(i.audio, num_beams=b, seed=0) for i in items], []) for b in (1, 5)}
    assert all(verdict(exercises("05").q1, scores, items=items) for _ in range(2))


def test_02(tiny, capsys):
    from s2st_helpers.speakers import interpolate, load_speaker
    from s2st_helpers.synthesis import synthesise

    ex = exercises("02")
    halfway = interpolate("clb", "ksp", 0.5)
    nearest = [n for n, _ in solutions.nearest_speakers.__wrapped__(halfway, k=6) if n not in ("clb", "ksp")]
    assert verdict(ex.q1, halfway, closest=nearest)
    assert verdict(ex.q1, (load_speaker("clb") + load_speaker("ksp")) / 2, closest=nearest[:1])  # norm noted
    assert "scales it back" in capsys.readouterr().out
    assert not verdict(ex.q1, halfway)  # the vector alone is half the answer
    assert "the vector is right" in capsys.readouterr().out
    assert not verdict(ex.q1, load_speaker("clb"), closest=nearest)
    assert not verdict(ex.q1, halfway, closest=[nearest[-1]])
    assert not verdict(ex.q1, halfway, closest=[nearest[1], nearest[0]])  # the nearest first
    assert not verdict(ex.q1, halfway, closest=[])
    assert not verdict(ex.q1, np.zeros(3))

    lengths = {r: len(synthesise(FOX, maxlenratio=r, seed=0)) / 16000 for r in (1.0, 2.0)}
    assert verdict(ex.q2, lengths)
    assert not verdict(ex.q2, {1.0: lengths[1.0] * 2, 2.0: lengths[2.0]}) and not verdict(ex.q2, {1.0: 1.0})


def test_03(tiny, capsys):
    ex = exercises("03")
    grid = {(lang, spk): f"text in {lang}" for lang in ("it", "fr", "de") for spk in ("slt", "bdl")}
    assert verdict(ex.q1, grid)
    assert not verdict(ex.q1, {**grid, ("it", "bdl"): "another text"})
    assert not verdict(ex.q1, {("it", "slt"): "a"})
    assert "the voice changed the English text" in capsys.readouterr().out

    timings = {"translate": 0.4, "synthesise": 1.2, "first audio": 0.6, "total": 1.6}
    assert verdict(ex.q2, timings, "synthesise") and not verdict(ex.q2, timings, "translate")
    assert not verdict(ex.q2, {"total": 1.0}, "translate")

    from s2st_helpers.samples import bundled_languages

    wers = {lang: i / 10 for i, lang in enumerate(bundled_languages())}
    worst = max(wers, key=wers.get)
    assert verdict(ex.q3, wers, worst) and not verdict(ex.q3, wers, "it" if worst != "it" else "de")
    assert not verdict(ex.q3, {"it": 0.5}, "it")


def test_04(greedy, monkeypatch):
    import gradio as gr

    ex = exercises("04")
    assert verdict(ex.q1, solutions.demo_with_length_slider.__wrapped__())
    no_slider = gr.Interface(fn=lambda a: a, inputs=gr.Audio(sources=["upload"]), outputs=gr.Audio())
    short_slider = gr.Interface(fn=lambda a, r: a, inputs=[gr.Audio(sources=["upload"]), gr.Slider(1, 10)],
                                outputs=gr.Audio())
    assert not verdict(ex.q1, no_slider) and not verdict(ex.q1, short_slider) and not verdict(ex.q1, "app")

    # the hands-on: Whisper must hear the target language in the output. The tiny
    # Whisper hears noise, so its language identification is steered here.
    from s2st_helpers import three_stage

    heard = {"language": "fr"}
    monkeypatch.setattr(three_stage, "detect_language", lambda audio, **kw: (heard["language"], 0.9))
    speaks = lambda audio: (16000, (np.sin(np.arange(16000) / 5) * 8000).astype(np.int16))  # noqa: E731
    assert verdict(ex.q2, speaks)
    heard["language"] = "en"
    assert not verdict(ex.q2, speaks)
    assert not verdict(ex.q2, lambda audio: (16000, np.zeros(0, np.int16)))
    assert not verdict(ex.q2, lambda audio: "bonjour")
    assert not verdict(ex.q2, speaks, target="xxx")
    assert not verdict(ex.q2, speaks, target="ita")  # no Italian voice


@pytest.fixture
def heard_as(monkeypatch):
    """Steer what the tiny Whisper reports hearing: (language of the first step, its transcript)."""
    import s2st_helpers.translation as translation
    from s2st_helpers import three_stage

    heard = {"language": "it", "text": None}
    real = translation.translate_details

    def details(audio, **kwargs):
        result = real(audio, **kwargs)
        result.language = heard["language"]
        return result

    monkeypatch.setattr(translation, "translate_details", details)
    monkeypatch.setattr(three_stage, "detect_language", lambda audio, **kw: (heard["language"], 0.9))
    monkeypatch.setattr(translation, "translate", lambda audio, **kw: heard["text"] or real(audio, **kw).text)
    return heard


def test_04_solution_translates_for_real(greedy, heard_as):
    """The worked solution runs the three stages (tiny models): its text is the text model's
    translation of Whisper's Italian transcript, spoken by the MMS voice."""
    from s2st_helpers import load_sample
    from s2st_helpers.three_stage import translate_text

    result = solutions.speech_to_speech_translation_to.__wrapped__(load_sample("it", offline=True), "fra")
    assert result[0] == 16000 and result[1].dtype == np.int16 and result[1].size
    assert result.text == translate_text(result.transcript, "it", "fra")


def test_07(greedy, heard_as):
    import pandas as pd

    from s2st_helpers.three_stage import reference_translations

    ex = exercises("07")
    speaks = lambda audio: (16000, (np.sin(np.arange(16000) / 5) * 8000).astype(np.int16))  # noqa: E731
    heard_as.update(language="fr", text=reference_translations()[("it_001.wav", "fra")])
    assert verdict(ex.q1, speaks)
    heard_as["text"] = "Il fait beau aujourd'hui, allons à la plage."  # French, but not the clip's meaning
    assert not verdict(ex.q1, speaks)
    heard_as.update(language="es", text=reference_translations()[("it_001.wav", "spa")])
    assert not verdict(ex.q1, speaks) and verdict(ex.q1, speaks, target="spa")
    assert not verdict(ex.q1, speaks, target="nld")  # no reference in Dutch
    assert not verdict(ex.q1, lambda audio: (16000, np.zeros(0, np.int16)))

    table = pd.DataFrame({"transcript CER": [0.1, 0.6], "chrF two-stage": [50.0, 40.0],
                          "chrF three-stage": [55.0, 20.0]}, index=["a.wav", "b.wav"])
    assert verdict(ex.q2, ("b.wav", True), table=table)
    assert not verdict(ex.q2, ("a.wav", True), table=table) and not verdict(ex.q2, ("b.wav", False), table=table)
    assert not verdict(ex.q2, "b.wav", table=table)
    assert not verdict(ex.q2, ("b.wav", True), table=pd.DataFrame({"chrF": [1.0]}))  # 07's other table
    assert solutions.worst_transcript.__wrapped__(table) == ("b.wav", True)


def test_05(greedy, tmp_path):
    import shutil
    from importlib import resources

    from s2st_helpers.evaluation import bleu, load_eval_set
    from s2st_helpers.samples import read_manifest
    from s2st_helpers.translation import translate

    ex = exercises("05")
    items = load_eval_set()[:2]
    scores = {b: bleu([translate(i.audio, num_beams=b) for i in items], [i.english for i in items]) for b in (1, 5)}
    assert verdict(ex.q1, scores, items=items)
    assert not verdict(ex.q1, {1: scores[1] + 10, 5: scores[5]}, items=items)

    bundled = resources.files("s2st_helpers") / "data" / "samples"
    rows = [r for r in read_manifest(bundled) if r["file"] in ("de_001.wav", "fr_001.wav")]
    lines = ["file\tlanguage\ttranscript\tenglish"] + [
        f"{r['file']}\t{r['language']}\t{r['transcript']}\t{r['english']}" for r in rows]
    (tmp_path / "manifest.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for r in rows:
        shutil.copy(bundled / r["file"], tmp_path / r["file"])
    assert verdict(ex.q2, tmp_path)
    (tmp_path / "fr_001.wav").write_bytes(b"not audio")
    assert not verdict(ex.q2, tmp_path)
    (tmp_path / "manifest.tsv").write_text("file,language\nde_001.wav,de\n")
    assert not verdict(ex.q2, tmp_path)
    assert not verdict(ex.q2, tmp_path / "nowhere")


def test_06(tiny, monkeypatch):
    from s2st_helpers.fast import speecht5_steps

    ex = exercises("06")
    monkeypatch.setattr(exercises_module.solutions.compare_presets, "__wrapped__",
                        lambda texts: {"SNR dB": {"short": 30.0, "long": 25.0}})
    assert verdict(ex.q1, {"short": 30.2, "long": 25.1})
    assert not verdict(ex.q1, {"short": 12.0, "long": 25.0}) and not verdict(ex.q1, {"short": 30.0})

    assert verdict(ex.q2, {4: 0.2, 16: 0.3, 64: 0.6})
    assert not verdict(ex.q2, {4: 0.7, 16: 0.3, 64: 0.6})
    monkeypatch.setattr(speecht5_steps, "FIRST_BLOCK", 64)
    assert not verdict(ex.q2, {4: 0.2, 16: 0.3, 64: 0.6})


def test_snr_check_computes_its_own_answer(tiny):
    """Unpatched: the check runs compare_presets itself, on the tiny SpeechT5."""
    want = solutions.compare_presets.__wrapped__(exercises_module.SENTENCES)["SNR dB"].to_dict()
    assert set(want) == {"short", "long"} and verdict(exercises("06").q1, want)


def test_hidden_solutions_keep_checks_and_hints(monkeypatch, capsys):
    monkeypatch.setenv("S2ST_HIDE_SOLUTIONS", "1")
    ex = exercises("00")
    assert ex.q1.solution() is None
    ex.q1.hint()
    assert ex.q1.check("cpu")
    out = capsys.readouterr().out
    assert "hidden by your teacher" in out and "Hint:" in out and "Correct:" in out
