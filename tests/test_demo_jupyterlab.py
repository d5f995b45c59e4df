"""The inline recorder in a real JupyterLab 4, in headless Chromium whose fake
microphone plays a real recording: record, stop, and the translation must appear."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from s2st_helpers import load_audio
from s2st_helpers.audio import loudest_frame_dbfs

from .browser_support import free_port

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_demo.ipynb"
TOKEN = "s2st-test-token"


@pytest.fixture(scope="module")
def lab(tiny_paths, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    port = free_port()
    env = {**os.environ, "S2ST_ASR_MODEL": tiny_paths["asr"], "S2ST_TTS_MODEL": tiny_paths["tts"],
           "S2ST_VOCODER": tiny_paths["vocoder"], "S2ST_MMS_MODEL": tiny_paths["mms"],
           "S2ST_MT_MODEL": tiny_paths["mt"], "S2ST_DEVICE": "cpu",
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "JUPYTER_PLATFORM_DIRS": "1"}
    log = open(root / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.disable_check_xsrf=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2) as answer:
                json.load(answer)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + (root / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield url
    os.killpg(server.pid, signal.SIGTERM)  # a first SIGINT would only ask for confirmation
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    log.close()


# every code cell of the open notebook has run, and the kernel is idle
ALL_CELLS_RUN = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = Array.from(panel.content.model.cells);
  return panel.sessionContext.session.kernel.status === "idle"
    && cells.every(cell => cell.type !== "code" || cell.executionCount !== null);
}"""


# count the clicks that reach the Record button, so that a test can tell a click JupyterLab
# swallowed (the windowed notebook re-measures cells and can move the button between the
# press and the release) from a recorder that ignored one
COUNT_CLICKS = """() => {
  window.s2stClicks = 0;
  document.addEventListener("click", event => {
    if (event.target.closest(".s2st-record")) window.s2stClicks += 1;
  }, true);
}"""


def press_record(page, recording: bool) -> None:
    """Click Record (or Stop) until the click arrives, then wait for the recorder to answer."""
    state = "attached" if recording else "detached"
    for _ in range(3):
        before = page.evaluate("() => window.s2stClicks")
        page.locator(".s2st-record").click()
        if page.evaluate("() => window.s2stClicks") > before:
            # "attached", not "visible": JupyterLab's windowed notebook hides cells scrolled out
            # of view, and later output can scroll the recorder away while it records
            page.locator(".s2st-recorder.recording").wait_for(state=state, timeout=30_000)
            return
        print("a click on the recorder's button did not reach it: clicking again")
    pytest.fail("three clicks on the recorder's button never reached it")


def test_record_in_jupyterlab(browser, lab, mic_clip):
    context = browser.new_context()
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        page.goto(f"{lab}/lab/tree/{NOTEBOOK.name}?token={TOKEN}")
        # the status bar reads idle a moment before the kernel exists: wait for the kernel itself
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                               timeout=60_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        record = page.locator(".s2st-record")
        record.wait_for(timeout=120_000)
        # press Record once every cell has run, so that no later output moves the notebook meanwhile
        page.wait_for_function(ALL_CELLS_RUN, timeout=240_000)
        assert record.is_enabled(), page.locator(".s2st-message").inner_text()
        page.evaluate(COUNT_CLICKS)
        press_record(page, recording=True)
        page.wait_for_timeout(4000)
        assert float(page.locator(".s2st-time").text_content().split()[0]) > 2.0  # the timer runs
        press_record(page, recording=False)
        page.locator(".s2st-translated").wait_for(state="attached", timeout=120_000)
        assert page.locator(".s2st-translated").text_content().strip()

        # Python received the clip: its duration, and its level within 3 dB
        seconds = float(page.locator(".s2st-heard .s2st-seconds").text_content())
        level = float(page.locator(".s2st-heard .s2st-level").text_content())
        assert 3.0 < seconds < 8.0
        assert level == pytest.approx(loudest_frame_dbfs(load_audio(mic_clip)), abs=3.0)

        player = page.locator("audio.s2st-player")
        player.wait_for(state="attached", timeout=30_000)
        size = page.evaluate("async a => (await (await fetch(a.src)).arrayBuffer()).byteLength",
                             player.element_handle())
        assert size > 1000
    except Exception:
        page.screenshot(path="/tmp/lab-fail.png", full_page=True)
        print(page.locator(".jp-OutputArea-output").all_inner_texts())
        print("recorder:", page.locator(".s2st-recorder").count(), "views;",
              "clicks on Record:", page.evaluate("() => window.s2stClicks"))
        print("browser console:", *console[-30:], sep="\n")
        raise
    finally:
        context.close()
