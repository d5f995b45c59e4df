import io
import zipfile

import numpy as np
import pytest
import torch

from s2st_helpers import interpolate, list_speakers, load_speaker
from s2st_helpers import speakers as sp


def test_default_is_the_tutorials_voice():
    default = load_speaker()
    assert default.shape == (512,) and default.dtype == np.float32
    assert np.array_equal(default, load_speaker("slt"))
    assert np.array_equal(default, load_speaker("cmu_us_slt_arctic-wav-arctic_a0508"))
    assert np.linalg.norm(default) == pytest.approx(1.0, abs=1e-4)


def test_seven_speakers_six_bundled():
    assert sorted(list_speakers(usable_only=False)) == ["awb", "bdl", "clb", "jmk", "ksp", "rms", "slt"]
    assert sorted(sp.bundled_speakers()) == ["awb", "bdl", "clb", "ksp", "rms", "slt"]


def test_arrays_and_tensors():
    v = np.random.default_rng(0).normal(size=512)
    assert load_speaker(v).dtype == np.float32
    assert load_speaker(torch.ones(1, 512)).shape == (512,)


@pytest.mark.parametrize("bad,error", [(np.zeros(511), ValueError), (np.full(512, np.nan), ValueError),
                                       (np.zeros((2, 512)), ValueError), (3.5, TypeError),
                                       (np.array(["x"] * 512), TypeError)])
def test_bad_vectors(bad, error):
    with pytest.raises(error, match="speaker|x-vector"):
        load_speaker(bad)


def test_interpolate():
    mid = interpolate("slt", "bdl", 0.5)
    assert np.linalg.norm(mid) == pytest.approx(1.0, abs=1e-3)
    assert np.allclose(interpolate("slt", "bdl", 0.0), load_speaker("slt"), atol=1e-6)
    with pytest.raises(ValueError):
        interpolate("slt", "bdl", 1.5)


@pytest.fixture
def hub_zip(tmp_path, monkeypatch):
    """A stand-in for the hub's spkrec-xvect.zip, laid out the same way."""
    rng = np.random.default_rng(0)
    names = [f"cmu_us_{s}_arctic-wav-arctic_a{i:04d}" for s in ("awb", "jmk", "slt") for i in range(1, 4)]
    path = tmp_path / "spkrec-xvect.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name in names:
            buf = io.BytesIO()
            np.save(buf, rng.normal(size=512).astype(np.float32))
            z.writestr(f"spkrec-xvect/{name}.npy", buf.getvalue())
        buf = io.BytesIO()
        np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
        z.writestr("spkrec-xvect/cmu_us_zzz_arctic-wav-arctic_a0001.npy", buf.getvalue())
    monkeypatch.setattr(sp, "_zip_path", lambda: str(path))
    sp._hub_zip.cache_clear()
    yield names
    sp._hub_zip.cache_clear()


def test_hub_zip_by_name_index_and_short_name(hub_zip):
    names = sp.xvector_names()
    assert names[:len(hub_zip)] == sorted(hub_zip)
    jmk = load_speaker("jmk")  # not bundled: first jmk utterance in the zip
    assert np.array_equal(jmk, load_speaker("cmu_us_jmk_arctic-wav-arctic_a0001"))
    assert np.array_equal(load_speaker(3), jmk)  # rows are the sorted names
    with pytest.raises(ValueError, match="outside"):
        load_speaker(len(names))
    with pytest.raises(ValueError, match="unknown speaker"):
        load_speaker("nobody")


def test_pickled_npy_is_refused(hub_zip):
    with pytest.raises(ValueError, match="pickle"):
        load_speaker("cmu_us_zzz_arctic-wav-arctic_a0001")


def test_offline_hub_gives_clear_error(monkeypatch):
    import huggingface_hub

    def offline(*a, **k):
        raise huggingface_hub.errors.LocalEntryNotFoundError("offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    sp._zip_path.cache_clear()
    sp._hub_zip.cache_clear()
    with pytest.raises(ValueError, match="bundled speaker"):
        load_speaker("jmk")
    with pytest.raises(ValueError, match="unknown speaker 'nobody'"):  # a typo is named, offline or not
        load_speaker("nobody")
    sp._zip_path.cache_clear()


def test_offline_lists_only_voices_that_load(monkeypatch):
    """Without the hub's zip on disk, jmk (not bundled) is not offered; every voice
    listed then loads with no network."""
    from s2st_helpers import speakers

    monkeypatch.setattr(speakers, "cached_zip", lambda: None)
    offered = list_speakers()
    assert "jmk" not in offered and sorted(offered) == sorted(speakers.bundled_speakers())
    for voice in offered:
        assert load_speaker(voice).shape == (512,)
    monkeypatch.setattr(speakers, "cached_zip", lambda: "/cache/spkrec-xvect.zip")
    assert "jmk" in list_speakers()
