"""prefetch() fetches what every notebook needs; check_offline() reports it."""

import huggingface_hub
import pytest

from s2st_helpers import environment


def test_prefetch_fetches_models_voices_xvectors_and_clips(monkeypatch):
    import s2st_helpers.samples as samples
    import s2st_helpers.speakers as speakers

    for var in ("S2ST_ASR_MODEL", "S2ST_TTS_MODEL", "S2ST_VOCODER", "S2ST_MMS_MODEL", "S2ST_MT_MODEL"):
        monkeypatch.delenv(var, raising=False)
    fetched = []

    def snapshot(repo, allow_patterns=(), **kwargs):  # a checkpoint without safetensors: NLLB-200's
        fetched.append(repo if "*.bin" not in allow_patterns else f"{repo} (.bin)")
        return f"/nowhere/{repo}"

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    monkeypatch.setattr(speakers, "xvector_names", lambda: fetched.append("x-vectors"))
    monkeypatch.setattr(samples, "load_sample", lambda lang, offline=None: fetched.append((lang, offline)))
    environment.prefetch(languages=("it", "de"), voices=("fra", "spa"), progress=False)
    models = ["openai/whisper-base", "microsoft/speecht5_tts", "microsoft/speecht5_hifigan",
              "facebook/nllb-200-distilled-600M", "facebook/mms-tts-fra", "facebook/mms-tts-spa"]
    assert fetched == [m for model in models for m in (model, f"{model} (.bin)")] + [
        "x-vectors", ("it", False), ("de", False)]


def test_check_offline_reports_local_cached_and_missing(tiny, capsys, monkeypatch, tmp_path):
    import s2st_helpers.samples as samples

    cached = tmp_path / "cache" / "whisper"
    cached.mkdir(parents=True)
    (cached / "model.safetensors").write_bytes(bytes(2**20))

    def snapshot(repo, local_files_only=False, **kwargs):
        assert local_files_only  # never downloads
        if repo == "facebook/mms-tts-fra":
            return str(cached)
        raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")

    monkeypatch.delenv("S2ST_MMS_MODEL")
    monkeypatch.delenv("S2ST_MT_MODEL")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", snapshot)
    samples._to_cache({"array": __import__("numpy").zeros(1600, "float32"), "sampling_rate": 16000, "text": "",
                       "english": "", "language": "it", "source": "test"}, 0)
    rows = {r["item"]: r for r in environment.check_offline(languages=("it", "de", "xx"), voices=("fra", "spa"))}
    assert rows[f"model {tiny['asr']}"]["status"] == "local folder" and rows[f"model {tiny['asr']}"]["MB"] > 0
    assert rows["model facebook/mms-tts-fra"]["status"] == "cached"
    assert rows["model facebook/mms-tts-fra"]["MB"] == pytest.approx(1.0)
    assert rows["model facebook/mms-tts-spa"]["status"] == "missing"
    assert rows["model facebook/nllb-200-distilled-600M"]["status"] == "missing"
    assert rows["speaker x-vectors (7931)"]["status"].startswith("missing")
    assert rows["sample clip (it)"]["status"] == "cached"
    assert rows["sample clip (de)"]["status"] == "missing: a bundled clip instead"
    assert rows["sample clip (xx)"]["status"] == "missing"
    out = capsys.readouterr().out
    assert "item(s) missing: run prefetch() with internet" in out and "facebook/mms-tts-spa" in out
