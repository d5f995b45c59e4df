import numpy as np
import pytest

from s2st_helpers import load_sample
from s2st_helpers import samples


def test_offline_falls_back_to_bundled_clip(monkeypatch):
    monkeypatch.setattr(samples, "_from_hub", lambda *a: (_ for _ in ()).throw(ConnectionError("offline")))
    monkeypatch.setattr(samples, "hub_offline", lambda: False)  # the test runs set HF_HUB_OFFLINE=1
    with pytest.warns(UserWarning, match="could not be reached .*using a bundled clip"):
        sample = load_sample("it")
    assert sample["sampling_rate"] == 16000 and sample["array"].dtype == np.float32
    assert len(sample["array"]) == pytest.approx(4.75 * 16000, rel=0.01)
    assert sample["text"].startswith("Dal passo") and "Apache-2.0" in sample["source"]


def test_offline_on_purpose_takes_the_bundled_clip_without_trying_the_hub(monkeypatch, recwarn):
    from huggingface_hub import constants

    monkeypatch.setattr(samples, "_from_hub", lambda *a: pytest.fail("tried the hub"))
    monkeypatch.setattr(samples, "_from_cache", lambda *a: None)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # set after huggingface_hub read it, as a notebook may
    assert load_sample("de")["source"].startswith("bundled:") and not recwarn.list
    with pytest.raises(pytest.fail.Exception, match="tried the hub"):
        load_sample("de", offline=False)  # prefetch() asks for the hub itself


def test_every_bundled_language_loads():
    assert samples.bundled_languages() == ["de", "es", "fr", "it", "pt", "ru", "zh"]
    for language in samples.bundled_languages():
        assert load_sample(language, offline=True)["array"].size > 16000


def test_unknown_language_offline():
    with pytest.raises(ValueError, match="no bundled clip"):
        load_sample("xx", offline=True)
    with pytest.raises(ValueError, match="language"):
        load_sample("")


def test_hub_path_reads_undecoded_audio(monkeypatch, wav_file):
    """The hub stream is cast to undecoded bytes and decoded by the package."""
    import datasets

    calls = {}

    class FakeStream:
        def cast_column(self, name, feature):
            calls["cast"] = (name, feature.decode)
            return self

        def __iter__(self):
            yield {"audio": {"bytes": wav_file.read_bytes(), "path": "x.wav"}, "text": "ciao a tutti"}

    monkeypatch.setattr(datasets, "load_dataset",
                        lambda *a, **k: calls.update(args=a, kwargs=k) or FakeStream())
    sample = load_sample("it", offline=False)
    assert calls["args"] == ("qmeeus/voxpopuli", "it") and calls["kwargs"]["streaming"] is True
    assert calls["cast"] == ("audio", False)
    assert sample["text"] == "ciao a tutti" and sample["array"].shape == (32000,)
    with pytest.raises(ValueError, match="fewer than"):
        load_sample("it", index=5, offline=False)


def test_fetched_clip_is_kept_for_offline_use(monkeypatch, wav_file):
    import datasets

    class FakeStream:
        def cast_column(self, name, feature):
            return self

        def __iter__(self):
            yield {"audio": {"bytes": wav_file.read_bytes(), "path": "x.wav"}, "text": "ciao a tutti"}

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: FakeStream())
    monkeypatch.setattr(samples, "hub_offline", lambda: False)  # the test runs set HF_HUB_OFFLINE=1
    first = load_sample("it")
    assert sorted(p.name for p in samples.sample_cache().iterdir()) == ["voxpopuli-it-0.flac",
                                                                          "voxpopuli-it-0.json"]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("the cache was not used"))
    again = load_sample("it")
    assert again["text"] == "ciao a tutti" and again["source"] == first["source"]
    np.testing.assert_allclose(again["array"], first["array"], atol=1 / 32767)
    assert load_sample("it", offline=True)["text"].startswith("Dal passo")  # bundled, as asked
