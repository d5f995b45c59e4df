"""A microphone recorder widget and the inline S2ST app built on it.

Introduced in ``04_demo``. The tutorial's era used ipywebrtc, unmaintained since 2021
and broken on JupyterLab 4; this recorder is a small anywidget (JupyterLab 4,
Notebook 7, Colab). The browser records at 16 kHz mono (it resamples the
microphone itself) and hands Python float32 samples; where the microphone cannot be
used (VS Code, plain http on another host) it says so and offers a file upload.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets
from ipywidgets.widgets.trait_types import bytes_serialization  # memoryview from the browser -> bytes

from .audio import SAMPLING_RATE, load_audio, write_wav

STATIC = Path(__file__).parent / "static"


class Recorder(anywidget.AnyWidget):
    """Record from the browser's microphone, or upload a file.

    ``recorder.value`` is the latest recording or upload as 16 kHz mono float32
    (None before the first). ``recorder.on_audio(fn)`` calls ``fn(array)`` on each.
    """

    _esm = STATIC / "recorder.js"
    _css = STATIC / "recorder.css"
    audio = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)  # float32 little-endian PCM
    sample_rate = traitlets.Int(SAMPLING_RATE).tag(sync=True)
    target_rate = traitlets.Int(SAMPLING_RATE).tag(sync=True)
    upload = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    upload_name = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("idle").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    max_seconds = traitlets.Float(120.0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._value = None
        self._callbacks = []
        self.observe(self._recorded, names="audio")
        self.observe(self._uploaded, names="upload")

    @property
    def value(self) -> np.ndarray | None:
        return self._value

    def on_audio(self, callback) -> None:
        self._callbacks.append(callback)

    def _recorded(self, change) -> None:
        if change["new"]:
            pcm = np.frombuffer(bytes(change["new"]), dtype="<f4")
            self._deliver(lambda: load_audio(pcm.copy(), self.sample_rate))

    def _uploaded(self, change) -> None:
        if change["new"]:
            self._deliver(lambda: load_audio(bytes(change["new"])))

    def _deliver(self, decode) -> None:
        try:
            self._value = decode()
        except (ValueError, TypeError) as err:
            self.error = str(err)
            self._value = None
            for callback in self._callbacks:
                callback(err)
            return
        for callback in self._callbacks:
            callback(self._value)


class S2STApp(widgets.VBox):
    """Record or upload; get the translated text, source language, speech and timings.
    English by default; the "Speak in" choice takes any target of ``07_three_stage``."""

    def __init__(self, synthesis_options: dict | None = None, **kwargs):
        from .demo import speaker_choices, target_choices

        self.recorder = Recorder()
        self.speaker = widgets.Dropdown(options=speaker_choices(), description="Voice:")
        self.target = widgets.Dropdown(options=target_choices(), value="eng", description="Speak in:")
        self.heard = widgets.HTML(value="<i>Record or upload some speech.</i>")
        self.text = widgets.HTML(value="")
        self.player = widgets.Audio(format="wav", autoplay=False, loop=False, layout={"display": "none"})
        self.synthesis_options = synthesis_options or {}
        self.result = None
        for w, name in ((self.heard, "s2st-heard"), (self.text, "s2st-text"), (self.player, "s2st-player")):
            w.add_class(name)
        super().__init__([self.recorder, self.speaker, self.target, self.heard, self.text, self.player], **kwargs)
        self.recorder.on_audio(self.run)

    def run(self, audio) -> None:
        from .cascade import format_timings, speech_to_speech_translation
        from .audio import loudest_frame_dbfs

        if isinstance(audio, Exception):
            self.heard.value = f"<b>Could not read that audio:</b> {audio}"
            return
        self.heard.value = (f"Heard <span class='s2st-seconds'>{len(audio) / SAMPLING_RATE:.2f}</span> s, "
                            f"loudest <span class='s2st-level'>{loudest_frame_dbfs(audio):.1f}</span> dBFS. "
                            "Translating…")
        try:
            self.result = speech_to_speech_translation({"array": audio, "sampling_rate": SAMPLING_RATE},
                                                       speaker=self.speaker.value, target=self.target.value,
                                                       **self.synthesis_options)
        except (ValueError, TypeError) as err:
            self.text.value = f"<b>Error:</b> {err}"
            return
        rate, speech = self.result
        self.heard.value = self.heard.value.replace("Translating…", f"Source language: {self.result.language}.")
        self.text.value = (f"<p class='s2st-translated'>{html.escape(self.result.text) or '<i>(no speech heard)</i>'}</p>"
                           f"<small>{format_timings(self.result.timings)}</small>")
        if speech.size:
            buffer = io.BytesIO()
            write_wav(buffer, speech, rate)
            self.player.value = buffer.getvalue()
            self.player.layout.display = None

