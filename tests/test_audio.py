import io

import av
import numpy as np
import pytest
import soundfile as sf
import torch

from s2st_helpers.audio import load_audio, to_int16, write_wav


def encode_with_av(tmp_path, speech, fmt, codec, suffix):
    path = tmp_path / f"speech.{suffix}"
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=48000 if codec == "libopus" else 16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(speech[None, :], format="flt", layout="mono")
        frame.sample_rate = 16000
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=stream.rate)
        for f in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_wav_path_str_and_path(wav_file, speech):
    for source in (wav_file, str(wav_file)):
        audio = load_audio(source)
        assert audio.dtype == np.float32 and audio.shape == speech.shape
        assert np.allclose(audio, speech, atol=1e-3)


def test_raw_bytes(wav_file, speech):
    assert np.allclose(load_audio(wav_file.read_bytes()), speech, atol=1e-3)


@pytest.mark.parametrize("fmt,codec,suffix", [("mp3", "libmp3lame", "mp3"), ("webm", "libopus", "webm"),
                                              ("mp4", "aac", "m4a"), ("sf", "OGG", "ogg"), ("sf", "FLAC", "flac")])
def test_compressed_formats(tmp_path, speech, fmt, codec, suffix):
    if fmt == "sf":
        path = tmp_path / f"speech.{suffix}"
        sf.write(path, speech, 16000, format=codec)
    else:
        path = encode_with_av(tmp_path, speech, fmt, codec, suffix)
    audio = load_audio(path)
    # encoders add priming and padding (AAC ~0.11 s); the level must survive
    assert abs(len(audio) - len(speech)) < 0.15 * 16000
    assert np.sqrt(np.mean(audio ** 2)) == pytest.approx(np.sqrt(np.mean(speech ** 2)), rel=0.2)


def test_stereo_44k_ogg_from_shared_audio_shape(tmp_path, speech):
    stereo = np.stack([speech, speech], axis=1)
    stereo44 = np.repeat(stereo, 2, axis=0)  # 32 kHz, any rate works
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo44, 32000)
    audio = load_audio(path)
    assert audio.ndim == 1 and len(audio) == pytest.approx(len(speech), abs=2)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampled_to_16k(rate):
    t = np.arange(rate) / rate
    audio = load_audio(np.sin(2 * np.pi * 440 * t), sampling_rate=rate)
    assert len(audio) == pytest.approx(16000, abs=2)
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)  # 1 s at 16 kHz: 1 Hz per bin


def test_44k_stereo_samples_by_channels():
    stereo = np.zeros((44100, 2), dtype=np.float32)
    stereo[:, 0] = 0.5
    audio = load_audio({"array": stereo, "sampling_rate": 44100})
    assert len(audio) == 16000 and audio[8000] == pytest.approx(0.25, abs=1e-3)


def test_channels_first_tensor():
    tensor = torch.full((2, 16000), 0.5)
    assert load_audio(tensor, sampling_rate=16000).shape == (16000,)


def test_int16_float64_int32_uint8():
    assert load_audio(np.full(1600, 16384, np.int16), sampling_rate=16000)[0] == pytest.approx(0.5)
    assert load_audio(np.full(1600, 2 ** 30, np.int32), sampling_rate=16000)[0] == pytest.approx(0.5)
    assert load_audio(np.full(1600, 0.25, np.float64), sampling_rate=16000).dtype == np.float32
    assert load_audio(np.full(1600, 192, np.uint8), sampling_rate=16000)[0] == pytest.approx(0.5)


def test_gradio_tuple_and_dicts(speech, wav_file):
    int16 = (speech * 32767).astype(np.int16)
    assert np.allclose(load_audio((16000, int16)), speech, atol=1e-3)
    assert np.allclose(load_audio({"raw": speech, "sampling_rate": 16000}), speech)
    assert np.allclose(load_audio({"bytes": wav_file.read_bytes(), "path": None}), speech, atol=1e-3)
    assert np.allclose(load_audio({"bytes": None, "path": str(wav_file)}), speech, atol=1e-3)


def test_dict_is_not_mutated(speech):
    sample = {"array": speech, "sampling_rate": 16000}
    load_audio(sample)
    assert set(sample) == {"array", "sampling_rate"}


def test_audio_decoder_like_datasets_value(speech):
    """datasets >= 4 hands out torchcodec AudioDecoder objects: samples via get_all_samples()."""

    class Samples:
        data = torch.from_numpy(np.stack([speech, speech]))  # (channels, samples)
        sample_rate = 16000

    class AudioDecoder:
        def get_all_samples(self):
            return Samples()

    assert np.allclose(load_audio(AudioDecoder()), speech)


def test_very_short_clip():
    assert load_audio(np.ones(10, np.float32) * 0.1, sampling_rate=16000).shape == (10,)


def test_int16_conversion_clips():
    out = to_int16(np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0], np.float32))
    assert out.dtype == np.int16 and out.tolist() == [-32767, -32767, 0, 16383, 32767, 32767]


def test_write_wav_is_16k_mono_pcm16(tmp_path, speech):
    info = sf.info(write_wav(tmp_path / "out.wav", speech))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")


# ---- bad input: a clear ValueError / TypeError naming the problem

@pytest.mark.parametrize("audio,kwargs,error,message", [
    (np.zeros(0, np.float32), {"sampling_rate": 16000}, ValueError, "empty"),
    (np.array([0.1, np.nan], np.float32), {"sampling_rate": 16000}, ValueError, "NaN"),
    (np.array([0.1, np.inf], np.float32), {"sampling_rate": 16000}, ValueError, "infinite"),
    (np.zeros(100, np.float32), {}, ValueError, "sampling rate"),
    (np.zeros(100, np.float32), {"sampling_rate": 0}, ValueError, "sampling rate"),
    (np.zeros(100, np.float32), {"sampling_rate": -16000}, ValueError, "sampling rate"),
    (np.zeros(100, np.float32), {"sampling_rate": float("nan")}, ValueError, "sampling rate"),
    (np.zeros(100, np.float32), {"sampling_rate": "16000"}, TypeError, "sampling rate"),
    (np.zeros(100, np.float32), {"sampling_rate": 16000.5}, ValueError, "sampling rate"),
    ({"array": np.zeros(100)}, {}, ValueError, "sampling_rate"),
    ({"foo": 1}, {}, ValueError, "array"),
    (np.zeros((2, 3, 100)), {"sampling_rate": 16000}, ValueError, "shape"),
    (np.zeros((100, 100)), {"sampling_rate": 16000}, ValueError, "channel"),
    (np.array(["a", "b"]), {"sampling_rate": 16000}, TypeError, "dtype"),
    (None, {}, TypeError, "None"),
    (12345, {}, TypeError, "unsupported audio type"),
    (b"", {}, ValueError, "empty"),
    ("", {}, ValueError, "empty"),
])
def test_bad_input(audio, kwargs, error, message):
    with pytest.raises(error, match=message):
        load_audio(audio, **kwargs)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_directory(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        load_audio(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_audio(tmp_path / "empty.wav")


def test_corrupt_file(tmp_path, wav_file):
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(wav_file.read_bytes()[:30])  # half a header
    bad = tmp_path / "garbage.mp3"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    for path in (truncated, bad):
        with pytest.raises(ValueError, match="not a readable audio file|no audio"):
            load_audio(path)


def test_non_audio_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is not audio\n" * 50)
    with pytest.raises(ValueError, match="not a readable audio file|no audio"):
        load_audio(text)
    with pytest.raises(ValueError):
        load_audio(io.BytesIO(b"x").getvalue() * 10)


def test_package_data_resource():
    from importlib import resources

    clip = resources.files("s2st_helpers") / "data" / "samples" / "it_001.wav"
    assert len(load_audio(clip)) == pytest.approx(4.75 * 16000, rel=0.01)
