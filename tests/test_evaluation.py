import numpy as np
import pytest

from s2st_helpers import evaluation, solutions


def test_bundled_eval_set_has_references():
    items = evaluation.load_eval_set()
    assert len(items) == 7 and all(i.english for i in items)
    assert len(evaluation.load_eval_set(with_references=False)) == 8


def test_eval_set_from_directory(tmp_path, wav_file):
    (tmp_path / "a.wav").write_bytes(wav_file.read_bytes())
    (tmp_path / "manifest.tsv").write_text("file\tlanguage\ttranscript\tenglish\na.wav\tit\tciao\thello\n")
    [item] = evaluation.load_eval_set(tmp_path)
    assert item.english == "hello" and item.audio == tmp_path / "a.wav"
    with pytest.raises(ValueError, match="manifest"):
        evaluation.load_eval_set(tmp_path / "nowhere")


def test_bleu_and_chrf_known_values():
    assert evaluation.bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(100)
    assert evaluation.bleu(["completely different words here"], ["the cat sat on the mat"]) < 10
    assert 0 < evaluation.chrf(["the cat sat on a mat"], ["the cat sat on the mat"]) < 100


def test_run_scores_and_table(tiny):
    items = evaluation.load_eval_set()[:2]
    runs = evaluation.run_cascade(items, progress=False, maxlenratio=1.0)
    assert [r.item for r in runs] == items and all(r.rtf > 0 for r in runs)
    result = evaluation.scores(runs)
    assert result["clips"] == 2 and 0 <= result["BLEU"] <= 100 and 0 <= result["chrF"] <= 100
    table = evaluation.latency_table(runs)
    assert list(table.index) == ["de_001.wav", "fr_001.wav", "mean"] and "RTF" in table
    assert table.loc["mean", "language"] == "" and not table.isna().any().any()


def test_scores_need_references():
    item = evaluation.Item("x.wav", "it", "", "")
    with pytest.raises(ValueError, match="reference"):
        evaluation.scores([evaluation.Run(item, "a", "b", 1.0, {"total": 1.0})])


def test_bleu_by_decoding(tiny):
    out = solutions.bleu_by_decoding(evaluation.load_eval_set()[:1], beams=(1, 2))
    assert set(out) == {1, 2} and all(0 <= v["BLEU"] <= 100 for v in out.values())


def test_snr_and_log_spectral_distance():
    from s2st_helpers.evaluation import log_spectral_distance, snr_db

    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000)
    assert snr_db(x, x) == float("inf") and log_spectral_distance(x, x) == pytest.approx(0, abs=1e-9)
    noisy = x + 0.01 * rng.standard_normal(16000)
    assert snr_db(noisy, x) == pytest.approx(40, abs=0.5)
    assert 0 < log_spectral_distance(noisy, x) < log_spectral_distance(x + 0.1 * rng.standard_normal(16000), x)
    with pytest.raises(ValueError, match="lengths"):
        snr_db(x[:10], x)
