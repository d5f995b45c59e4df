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


def cgroups(tmp_path, v2: str | None = None, v1: tuple[str, str] | None = None, own: str = "/"):
    root, proc = tmp_path / "cgroup", tmp_path / "proc-cgroup"
    tmp_path.mkdir(parents=True, exist_ok=True)
    proc.write_text(f"0::{own}\n")
    if v2 is not None:
        folder = root / own.lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cpu.max").write_text(v2 + "\n")
    if v1 is not None:
        (root / "cpu").mkdir(parents=True, exist_ok=True)
        (root / "cpu" / "cpu.cfs_quota_us").write_text(v1[0] + "\n")
        (root / "cpu" / "cpu.cfs_period_us").write_text(v1[1] + "\n")
    return {"root": root, "proc": proc}


def test_cpu_quota_reads_cgroup_v2_and_v1(tmp_path):
    assert environment.cpu_quota(**cgroups(tmp_path / "a", v2="150000 100000")) == 1.5
    assert environment.cpu_quota(**cgroups(tmp_path / "b", v2="max 100000")) is None  # no limit
    # a JupyterHub user's own group, below the root
    assert environment.cpu_quota(**cgroups(tmp_path / "c", v2="200000 100000", own="/user.slice/u1")) == 2.0
    # a limit on the group above binds too: the least of them
    above = cgroups(tmp_path / "g", v2="300000 100000", own="/kubepods/pod1")
    (above["root"] / "kubepods").joinpath("cpu.max").write_text("100000 100000\n")
    assert environment.cpu_quota(**above) == 1.0
    assert environment.cpu_quota(**cgroups(tmp_path / "d", v1=("400000", "100000"))) == 4.0
    assert environment.cpu_quota(**cgroups(tmp_path / "e", v1=("-1", "100000"))) is None
    assert environment.cpu_quota(**cgroups(tmp_path / "f", v2="garbled")) is None
    assert environment.cpu_quota(tmp_path / "nothing", tmp_path / "nothing") is None


@pytest.fixture
def threads():
    import torch

    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


@pytest.mark.parametrize("quota, want", [(1.5, 1), (0.5, 1), (None, None), (64.0, None)])
def test_fit_threads_keeps_pytorch_within_the_quota(threads, monkeypatch, quota, want):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    threads.set_num_threads(2)
    monkeypatch.setattr(environment, "cpu_quota", lambda: quota)
    assert environment.fit_threads() == want
    assert threads.get_num_threads() == (want or 2)


def test_fit_threads_leaves_a_users_thread_count_alone(threads, monkeypatch):
    threads.set_num_threads(2)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(environment, "cpu_quota", lambda: 1.0)
    assert environment.fit_threads() is None and threads.get_num_threads() == 2


def test_setup_says_when_it_fits_the_threads(threads, monkeypatch, capsys):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    threads.set_num_threads(2)
    monkeypatch.setattr(environment, "cpu_quota", lambda: 1.0)
    report = environment.setup()
    assert report["cpu threads"] == 1
    assert "CPU threads: 1, as this container's CPU limit allows (PyTorch had started 2" in capsys.readouterr().out
