"""The Gradio app: served on 127.0.0.1, driven by headless Chromium with a fake
microphone playing a real recording, and by gradio_client."""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

from s2st_helpers import load_audio
from s2st_helpers.demo import build_demo, launch, translate_for_demo, translate_for_demo_stream

OPTIONS = {"maxlenratio": 2.0}


@pytest.fixture(scope="module")
def served(tiny_paths):
    env = {"S2ST_ASR_MODEL": tiny_paths["asr"], "S2ST_TTS_MODEL": tiny_paths["tts"],
           "S2ST_VOCODER": tiny_paths["vocoder"], "S2ST_MT_MODEL": tiny_paths["mt"],
           "S2ST_MMS_MODEL": tiny_paths["mms"], "S2ST_DEVICE": "cpu", "GRADIO_ANALYTICS_ENABLED": "False"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    # random tiny models repeat themselves, which sends the runaway guard into random
    # re-sampling; one temperature keeps answers comparable between requests
    import s2st_helpers.translation as translation

    temperatures, translation.TEMPERATURES = translation.TEMPERATURES, (0.0,)
    from .browser_support import free_port

    demo = launch(build_demo(synthesis_options=OPTIONS, concurrency_limit=2), server_port=free_port(),
                  inline=False, quiet=True)
    yield demo
    demo.close()
    translation.TEMPERATURES = temperatures
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def page(browser, served):
    context = browser.new_context()
    page = context.new_page()
    page.goto(served.local_url)
    page.get_by_role("tab", name="Microphone").wait_for()
    yield page
    context.close()


def output_audio_bytes(page, panel) -> int:
    """Size of the file behind the output player of the visible tab."""
    player = panel.locator("audio").last
    player.wait_for(state="attached", timeout=30_000)
    return page.evaluate("async a => (await (await fetch(a.src)).arrayBuffer()).byteLength",
                         player.element_handle())


def test_binds_localhost_and_uses_gradio6_sources(served):
    assert served.local_url.startswith("http://127.0.0.1:")
    import gradio as gr

    audio_inputs = [b for b in served.blocks.values() if isinstance(b, gr.Audio) and b.sources]
    assert {("microphone",), ("upload",)} <= {tuple(a.sources) for a in audio_inputs}


def test_microphone_tab_in_browser(page):
    panel = page.get_by_role("tabpanel")
    panel.get_by_role("button", name="Record").click()
    page.wait_for_timeout(3000)
    # stopping encodes the recording and uploads it to the server; Submit before the
    # upload has finished would send no audio (a busy machine makes that likely)
    with page.expect_response(lambda r: "/upload" in r.url and r.request.method == "POST", timeout=60_000):
        panel.get_by_role("button", name="Stop").first.click()
    panel.locator("button[aria-label='Play']").first.wait_for(timeout=30_000)
    panel.get_by_role("button", name="Submit").click()
    text = panel.get_by_label("Translated text")
    page.wait_for_function("el => el.value.length > 0", arg=text.element_handle(), timeout=60_000)
    assert "source language" in panel.get_by_label("Details").input_value()
    assert output_audio_bytes(page, panel) > 1000


def test_file_tab_in_browser(page, mic_clip):
    page.get_by_role("tab", name="Audio file").click()
    panel = page.get_by_role("tabpanel")
    panel.locator("input[type=file]").set_input_files(mic_clip)
    panel.get_by_role("button", name="Submit").click()
    text = panel.get_by_label("Translated text")
    page.wait_for_function("el => el.value.length > 0", arg=text.element_handle(), timeout=60_000)
    expected = translate_for_demo(mic_clip, "slt", OPTIONS)[1]
    assert text.input_value() == expected
    assert output_audio_bytes(page, panel) > 1000


def test_file_tab_speaks_french_when_asked(page, mic_clip):
    page.get_by_role("tab", name="Audio file").click()
    panel = page.get_by_role("tabpanel")
    panel.locator("input[type=file]").set_input_files(mic_clip)
    panel.get_by_label("Speak in").click()
    page.get_by_role("option", name="French").click()
    panel.get_by_role("button", name="Submit").click()
    details = panel.get_by_label("Details")
    page.wait_for_function("el => el.value.includes('heard:')", arg=details.element_handle(), timeout=60_000)
    expected = translate_for_demo(mic_clip, "slt", OPTIONS, target="fra")
    assert panel.get_by_label("Translated text").input_value() == expected[1]
    assert "machine translation" in details.input_value()
    assert output_audio_bytes(page, panel) > 1000


def test_target_choice_over_the_api(served, mic_clip):
    from gradio_client import Client, handle_file

    client = Client(served.local_url, verbose=False)
    audio_path, text, details = client.predict(handle_file(mic_clip), "slt", "deu", api_name="/translate_file")
    assert (text, "heard:" in details) == (translate_for_demo(mic_clip, "slt", OPTIONS, target="deu")[1], True)
    assert sf.read(audio_path)[1] == 16000
    with pytest.raises(Exception, match="ita is not in the list of choices"):
        client.predict(handle_file(mic_clip), "slt", "ita", api_name="/translate_file")


def test_corrupt_upload_shows_error_then_next_works(page, tmp_path, mic_clip):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(200))
    page.get_by_role("tab", name="Audio file").click()
    panel = page.get_by_role("tabpanel")
    panel.locator("input[type=file]").set_input_files(str(bad))
    panel.get_by_role("button", name="Submit").click()
    page.get_by_text("Could not read this audio").first.wait_for(timeout=60_000)
    # the worker survived: a good file still goes through
    panel.get_by_role("button", name="Clear").first.click()
    panel.locator("input[type=file]").set_input_files(mic_clip)
    panel.get_by_role("button", name="Submit").click()
    text = panel.get_by_label("Translated text")
    page.wait_for_function("el => el.value.length > 0", arg=text.element_handle(), timeout=60_000)


def test_twenty_concurrent_clients(served, tmp_path, mic_clip):
    from gradio_client import Client, handle_file

    # four different inputs, five requests each: every answer must be its own input's
    clips = []
    base = load_audio(mic_clip)
    for i, seconds in enumerate((1.0, 2.0, 3.0, 4.5)):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, base[: int(seconds * 16000)], 16000, subtype="PCM_16")
        clips.append(str(path))
    expected = {}
    for c in clips:
        (_, speech), text, _ = translate_for_demo(c, "slt", OPTIONS)
        expected[c] = (text, len(speech))
    client = Client(served.local_url, verbose=False)
    jobs = [clips[i % 4] for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda c: client.predict(handle_file(c), "slt", api_name="/translate_file"), jobs))
    for clip, (audio_path, text, details) in zip(jobs, answers):
        assert (text, "source language") == (expected[clip][0], details[:15])
        data, rate = sf.read(audio_path)
        # the tiny TTS never stops early, so its length is a function of the text alone
        assert rate == 16000 and len(data) == expected[clip][1] > 0


def test_each_answer_is_a_file_of_its_own(served, mic_clip):
    # Gradio writes a (rate, array) answer to a file named by its content, again for each
    # answer: a second listener of the same speech could empty the first one's download
    handler = next(f.fn for f in served.fns.values() if f.api_name == "translate_file")
    first, second = (handler(mic_clip, "slt")[0] for _ in range(2))
    assert first != second
    (_, speech), _, _ = translate_for_demo(mic_clip, "slt", OPTIONS)
    for path in (first, second):
        data, rate = sf.read(path, dtype="int16")
        assert rate == 16000 and np.array_equal(data, speech)


def test_api_error_is_a_message_not_a_crash(served, tmp_path, mic_clip):
    from gradio_client import Client, handle_file

    bad = tmp_path / "noise.mp3"
    bad.write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    client = Client(served.local_url, verbose=False)
    with pytest.raises(Exception, match="Could not read this audio"):
        client.predict(handle_file(str(bad)), "slt", api_name="/translate_file")
    assert client.predict(handle_file(mic_clip), "bdl", api_name="/translate_file")[1]


def test_stream_handler_yields_the_same_speech(tiny, mic_clip):
    options = {**OPTIONS, "maxlenratio": 6.0, "seed": 2, "generate_kwargs": {"temperature": 0.0}}
    blocks = list(translate_for_demo_stream(mic_clip, "slt", options))
    (rate, speech), text, details = translate_for_demo(mic_clip, "slt", options)
    assert len(blocks) >= 2 and all(b[1] == text for b in blocks) and "first audio" in blocks[0][2]
    assert np.array_equal(np.concatenate([b[0][1] for b in blocks]), speech)


def test_streaming_app_sends_blocks(served, mic_clip):
    """``build_demo(streaming=True)``: Gradio encodes the blocks into a live HLS
    stream; the client sees one update per block."""
    from gradio_client import Client, handle_file

    from .browser_support import free_port, system_program

    system_program("ffmpeg")  # Gradio encodes the stream with it
    demo = launch(build_demo(synthesis_options={"maxlenratio": 6.0}, streaming=True), server_port=free_port(),
                  inline=False, quiet=True)
    try:
        job = Client(demo.local_url, verbose=False).submit(handle_file(mic_clip), "slt", api_name="/translate_file")
        updates = list(job)
        assert len(updates) >= 2 and all(u[1] for u in updates)
        assert updates[-1][0].endswith(".m3u8") and os.path.getsize(updates[-1][0]) > 0
    finally:
        demo.close()


def test_limits_are_stated_and_kept(tiny, capsys):
    import gradio as gr

    from s2st_helpers import demo

    assert f"{demo.MAX_MINUTES} minutes" in demo.DESCRIPTION and "100 MB" in demo.DESCRIPTION
    eleven_minutes = (16000, np.zeros(11 * 60 * 16000, np.int16))
    with pytest.raises(gr.Error, match="11.0 minutes long; the demo takes up to 10") as refused:
        translate_for_demo(eleven_minutes, "slt", OPTIONS)
    # bad input is the user's message; the server's terminal gets a line, not a traceback
    assert not refused.value.print_exception
    assert capsys.readouterr().err.startswith("refused a request: This recording is 11.0 minutes long")
    with pytest.raises(gr.Error, match="11.0 minutes"):
        next(translate_for_demo_stream(eleven_minutes, "slt", OPTIONS))


def test_silence_says_no_speech_heard(tiny):
    speech, text, details = translate_for_demo((16000, np.zeros(16000, np.int16)), "slt", OPTIONS)
    assert speech is None and text == "(no speech heard)" and details.startswith("No speech heard.")


def test_long_upload_reports_progress(tiny, speech):
    calls = []

    class Progress:  # what gr.Progress is called with
        def __call__(self, value, desc=None, unit=None):
            calls.append((value, desc, unit))

    clip = np.concatenate([np.tile(speech, 15), np.zeros(16000, np.float32)])  # 31 s
    (rate, english), text, details = translate_for_demo((16000, (np.tile(clip, 2) * 32767).astype(np.int16)),
                                                         "slt", OPTIONS, Progress())
    assert text and english.size and len(calls) >= 2 and calls[-1] == ((62.0, 62.0), "Translating", "s of audio")
    seen = len(calls)
    short = translate_for_demo((16000, (speech * 32767).astype(np.int16)), "slt", OPTIONS, Progress())
    assert short[1] and len(calls) == seen  # one window: no bar


def test_handlers_take_gradio_progress(served):
    import inspect

    import gradio as gr

    handlers = {fn.api_name: fn.fn for fn in served.fns.values()}
    for name in ("translate_microphone", "translate_file"):
        assert isinstance(inspect.signature(handlers[name]).parameters["progress"].default, gr.Progress)


def test_streaming_without_ffmpeg_falls_back_with_a_note(tiny, monkeypatch):
    import gradio as gr

    from s2st_helpers import demo

    monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match="FFmpeg"):
        app = build_demo(synthesis_options=OPTIONS, streaming=True)
    players = [b for b in app.blocks.values() if isinstance(b, gr.Audio) and b.label == "Translated speech"]
    assert players and not any(p.streaming for p in players)
    notes = [b.value for b in app.blocks.values() if isinstance(b, gr.Markdown)]
    assert any(demo.NO_FFMPEG in str(n) for n in notes)


def test_command_line_fits_threads_and_passes_its_options(monkeypatch, capsys):
    """``python3 -m s2st_helpers.demo``: a container's CPU limit is applied before any
    model runs (as ``setup()`` and the translation command line do), and the options
    reach the app and the server."""
    from s2st_helpers import demo, environment

    calls = []

    class Served:
        local_url = "http://127.0.0.1:7999/"

        def block_thread(self):
            calls.append("served")

        def close(self):
            calls.append("closed")

    monkeypatch.setattr(environment, "fit_threads", lambda: calls.append("fit threads"))
    monkeypatch.setattr(environment, "offline_if_unreachable", lambda: False)
    monkeypatch.setattr(demo, "build_demo", lambda **kw: calls.append(("app", kw)) or "app")
    monkeypatch.setattr(demo, "launch", lambda app, **kw: calls.append(("launch", app, kw)) or Served())
    demo.main(["--port", "7999", "--concurrency", "3", "--maxlenratio", "4", "--stream"])
    assert calls[0] == "fit threads"
    assert calls[1] == ("app", {"synthesis_options": {"maxlenratio": 4.0}, "concurrency_limit": 3, "streaming": True})
    assert calls[2][:2] == ("launch", "app")
    assert {k: calls[2][2][k] for k in ("server_name", "server_port", "share")} == {
        "server_name": "127.0.0.1", "server_port": 7999, "share": False}
    assert calls[3:] == ["served", "closed"] and "Serving on http://127.0.0.1:7999/" in capsys.readouterr().out
