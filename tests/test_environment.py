"""prefetch() fetches what every notebook needs; check_offline() reports it."""

import os
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


def test_an_unreachable_hub_switches_the_session_offline(monkeypatch):
    """An offline room without HF_HUB_OFFLINE=1 waited minutes on retries; setup() and
    the command lines now ask once and work from the cache."""
    from huggingface_hub import constants

    from s2st_helpers import environment
    from s2st_helpers.samples import hub_offline

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert environment.offline_if_unreachable(lambda: True) is False and not hub_offline()
    assert environment.offline_if_unreachable(lambda: False) is True
    assert hub_offline() and constants.HF_HUB_OFFLINE and os.environ["HF_HUB_OFFLINE"] == "1"
    assert environment.offline_if_unreachable(lambda: pytest.fail("asked again")) is False  # already offline


def test_hub_reachable_asks_the_endpoints_host(monkeypatch):
    import socket

    from huggingface_hub import constants

    from s2st_helpers import environment

    asked = []

    def connect(address, timeout):
        asked.append(address)
        raise OSError("unreachable")

    monkeypatch.setattr(socket, "create_connection", connect)
    monkeypatch.setattr(constants, "ENDPOINT", "https://hub.example.org")
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert environment.hub_reachable() is False and asked == [("hub.example.org", 443)]
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")  # only the proxy could tell
    assert environment.hub_reachable() is True and len(asked) == 1
