import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from s2st_helpers import S2STResult, SpeechOptions, Translation, speech_to_speech_translation


def test_tutorial_contract(tiny, wav_file):
    result = speech_to_speech_translation(wav_file, maxlenratio=2.0)
    rate, audio = result
    assert isinstance(result, tuple) and len(result) == 2
    assert rate == 16000 and audio.dtype == np.int16 and audio.ndim == 1 and audio.size > 0
    assert isinstance(result.text, str) and result.text
    assert set(result.timings) == {"translate", "synthesise", "first audio", "total"}
    assert result.timings["total"] >= result.timings["translate"] + result.timings["synthesise"] - 1e-6
    assert result.timings["translate"] < result.timings["first audio"] <= result.timings["total"]


def test_accepts_gradio_numpy_input(tiny, speech):
    gradio_value = (16000, (speech * 32767).astype(np.int16))
    rate, audio = speech_to_speech_translation(gradio_value, maxlenratio=1.0)
    assert rate == 16000 and audio.size > 0


def test_silence_gives_empty_speech(tiny):
    result = speech_to_speech_translation(np.zeros(16000, np.float32), sampling_rate=16000)
    assert result.text == "" and result[1].shape == (0,) and result[1].dtype == np.int16


def test_options_pass_through(tiny, wav_file, monkeypatch):
    import s2st_helpers.cascade as cascade

    seen = {}
    monkeypatch.setattr(cascade, "synthesise_stream", lambda text, voice, options: seen.update(
        options=options, voice=voice) or iter([np.zeros(10, np.float32)]))
    monkeypatch.setattr(cascade, "translate_details", lambda audio, **k: seen.update(translate=k)
                        or Translation("hi", "it", 0.9, 0.0, 2.0))
    speech_to_speech_translation(wav_file, speaker="bdl", threshold=0.4, minlenratio=0.1, maxlenratio=3.0,
                                 seed=1, preset="exact", generate_kwargs={"num_beams": 2})
    assert seen["options"] == SpeechOptions(threshold=0.4, minlenratio=0.1, maxlenratio=3.0, seed=1, preset="exact")
    assert seen["voice"].shape == (512,)
    assert seen["translate"]["preset"] == "exact" and seen["translate"]["num_beams"] == 2


def test_bad_speaker_fails_before_translation(monkeypatch, wav_file):
    import s2st_helpers.cascade as cascade

    monkeypatch.setattr(cascade, "translate_details", lambda *a, **k: pytest.fail("translated anyway"))
    with pytest.raises(ValueError, match="x-vector"):
        speech_to_speech_translation(wav_file, speaker=np.zeros(3))


def test_result_pickles_as_tuple():
    result = S2STResult(16000, np.zeros(3, np.int16), "hi", "it", {"total": 1.0})
    rate, audio = result
    assert rate == 16000 and result.text == "hi"


def run_cli(args, tiny_paths):
    env = {**os.environ, "S2ST_ASR_MODEL": tiny_paths["asr"], "S2ST_TTS_MODEL": tiny_paths["tts"],
           "S2ST_VOCODER": tiny_paths["vocoder"], "S2ST_MT_MODEL": tiny_paths["mt"],
           "S2ST_MMS_MODEL": tiny_paths["mms"], "S2ST_DEVICE": "cpu"}
    return subprocess.run([sys.executable, "-m", "s2st_helpers", *args], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("preset", [[], ["--preset", "exact"]])
def test_command_line_writes_wav(tiny_paths, wav_file, tmp_path, preset):
    out = tmp_path / "english.wav"
    done = run_cli([str(wav_file), "-o", str(out), "--maxlenratio", "2", "--speaker", "bdl", *preset], tiny_paths)
    assert done.returncode == 0, done.stderr
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16") and info.frames > 0
    assert done.stdout.strip()  # the translation
    assert "translate" in done.stderr and "Traceback" not in done.stderr


def test_command_line_seed_reaches_whisper(tiny_paths, wav_file, tmp_path):
    """The tiny Whisper loops, so its fallback samples: another seed, another text."""
    texts = []
    for seed in ("0", "1"):
        done = run_cli([str(wav_file), "-o", str(tmp_path / f"{seed}.wav"), "--maxlenratio", "2", "--seed", seed],
                       tiny_paths)
        assert done.returncode == 0, done.stderr
        texts.append(done.stdout.strip())
    assert texts[0] and texts[0] != texts[1]
    assert run_cli([str(wav_file), "--seed", "x"], tiny_paths).returncode != 0


def test_command_line_speaks_another_language(tiny_paths, wav_file, tmp_path):
    out = tmp_path / "french.wav"
    done = run_cli([str(wav_file), "-o", str(out), "--target", "fra", "--language", "it"], tiny_paths)
    assert done.returncode == 0, done.stderr
    assert sf.info(out).frames > 0 and "[it -> fra" in done.stderr and "machine translation" in done.stderr
    refused = run_cli([str(wav_file), "-o", str(out), "--target", "ita"], tiny_paths)
    assert refused.returncode == 2 and "Italian has no voice" in refused.stderr and "Traceback" not in refused.stderr


def test_command_line_long_recording(tiny_paths, speech, tmp_path):
    """Over 30 s: a progress bar, the text of each segment as it comes, one wav."""
    recording = tmp_path / "lecture.wav"
    window = np.concatenate([np.tile(speech, 14), np.zeros(2 * 16000, np.float32)])  # 30 s
    sf.write(recording, np.tile(window, 2)[:50 * 16000], 16000, subtype="PCM_16")
    out = tmp_path / "english.wav"
    done = run_cli([str(recording), "-o", str(out), "--maxlenratio", "1"], tiny_paths)
    assert done.returncode == 0, done.stderr
    assert "translated" in done.stderr and "50/50 s" in done.stderr  # tqdm's bar, to the end
    assert "TqdmWarning" not in done.stderr  # the last window's end is past the end: not counted beyond it
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) >= 2  # a line per segment
    info = sf.info(out)
    assert info.samplerate == 16000 and info.frames > 0 and not list(tmp_path.glob(".*.part"))


def test_command_line_keeps_the_old_file_on_error(tiny_paths, wav_file, tmp_path):
    out = tmp_path / "english.wav"
    out.write_bytes(b"keep me")
    done = run_cli([str(wav_file), "-o", str(out), "--speaker", "nobody"], tiny_paths)
    assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr
    assert out.read_bytes() == b"keep me" and not list(tmp_path.glob(".*.part"))


def test_command_line_silence(tiny_paths, tmp_path):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(16000, np.float32), 16000)
    out = tmp_path / "english.wav"
    done = run_cli([str(quiet), "-o", str(out)], tiny_paths)
    assert done.returncode == 0 and "no speech heard" in done.stderr and not done.stdout.strip()
    assert sf.info(out).frames == 0


def test_command_line_bad_input(tiny_paths, tmp_path):
    done = run_cli([str(tmp_path / "missing.wav"), "-o", str(tmp_path / "x.wav")], tiny_paths)
    assert done.returncode == 2 and "not found" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("args, said", [
    (["--beams", "0"], "--beams: must be at least 1"),
    (["--maxlenratio", "0"], "--maxlenratio: must be above 0"),
    (["-o", "english.mp3"], "--output must be a .wav file"),
    (["-o", "no/such/folder/english.wav"], "the folder no/such/folder does not exist"),
])
def test_command_line_refuses_bad_options_before_loading_anything(args, said, wav_file, capsys, monkeypatch):
    from s2st_helpers import __main__ as cli

    monkeypatch.setattr(cli, "load_audio", lambda *a: pytest.fail("got past the options"))
    with pytest.raises(SystemExit) as exit:
        cli.main([str(wav_file), *args])
    assert exit.value.code == 2 and said in capsys.readouterr().err


def test_beams_below_one_are_refused(tiny, wav_file):
    from s2st_helpers import translate

    with pytest.raises(ValueError, match="num_beams must be at least 1"):
        translate(wav_file, num_beams=0)
    with pytest.raises(TypeError, match="num_beams must be a whole number"):
        translate(wav_file, num_beams=2.5)


def test_format_timings():
    from s2st_helpers.cascade import format_timings

    assert format_timings({"translate": 0.514, "total": 1.0}) == "translate 0.51 s, total 1.00 s"


def test_stream_joins_to_the_whole(tiny, wav_file):
    from s2st_helpers import speech_to_speech_translation_stream

    greedy = {"temperature": 0.0}  # the tiny Whisper repeats itself: no random fallback
    blocks = list(speech_to_speech_translation_stream(wav_file, maxlenratio=4.0, seed=5, generate_kwargs=greedy))
    whole = speech_to_speech_translation(wav_file, maxlenratio=4.0, seed=5, generate_kwargs=greedy)
    assert blocks and all(b[0] == 16000 and b[1].dtype == np.int16 for b in blocks)
    assert np.array_equal(np.concatenate([b[1] for b in blocks]), whole[1])
    assert blocks[0].text == whole.text and blocks[0].timings["first audio"] <= blocks[-1].timings["total"]
