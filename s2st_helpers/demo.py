"""The tutorial's Gradio demo, on the Gradio 6 API.

Introduced in ``04_demo``. Changes from the tutorial, and why:

* ``gr.Audio(source="microphone")`` is now ``gr.Audio(sources=["microphone"])``
  (renamed in Gradio 4; Gradio 6 rejects the old keyword).
* ``demo.launch(debug=True)`` blocks the notebook cell forever; :func:`launch`
  returns at once and the demo keeps running until ``demo.close()``.
* It binds 127.0.0.1 (browsers only give the microphone to localhost or https),
  queues requests with a concurrency limit, caps uploads (100 MB, 10 minutes of
  audio, both stated on the page), shows a progress bar for recordings over 30 s,
  and turns bad input into a message for the user (``gr.Error``) instead of a
  dead worker.
* A target-language choice (``07_three_stage``): English through the tutorial's
  two-stage design, any other target through the three-stage one (Whisper
  transcribes, NLLB-200 translates the text, MMS-TTS speaks).
* ``build_demo(streaming=True)`` plays the translated speech while it is being made
  (``06_speed``): the handler yields blocks into ``gr.Audio(streaming=True)``.
  Gradio needs FFmpeg for that; without it the demo plays each clip whole and
  says so on the page.

From a shell: ``python3 -m s2st_helpers.demo`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import warnings

import soundfile as sf

from .audio import SAMPLING_RATE, load_audio
from .cascade import format_timings, speech_to_speech_translation, speech_to_speech_translation_stream
from .languages import ENGLISH, targets
from .speakers import bundled_speakers, list_speakers

MAX_UPLOAD = "100mb"
MAX_MINUTES = 10  # longer files: the command line, python3 -m s2st_helpers
TITLE = "Speech-to-speech translation"
DESCRIPTION = ("Speak or upload speech in any of ~96 languages; hear it in English (Whisper base translates, "
               "SpeechT5 speaks) or in another language (Whisper transcribes, NLLB-200 translates the text, "
               "MMS-TTS speaks; each model downloads on first use). "
               f"Files up to {MAX_UPLOAD.upper()[:-2]} MB and {MAX_MINUTES} minutes.")
NO_FFMPEG = ("Streaming playback needs FFmpeg, which is not installed here: "
             "the translated speech plays when all of it is made.")


def speaker_choices() -> list[tuple[str, str]]:
    """(label, value) pairs of the bundled voices, the tutorial's first."""
    voices = sorted(bundled_speakers(), key=lambda s: (s != "slt", s))
    described = list_speakers()
    return [(f"{s} - {described[s]}", s) for s in voices]


def target_choices() -> list[tuple[str, str]]:
    """(label, ISO 639-3 code) of the languages the demo can speak, English first."""
    return [(lang.name, lang.iso3) for lang in targets()]


def translate_for_demo(audio, speaker: str | None = None, synthesis_options: dict | None = None,
                       progress=None, target: str = ENGLISH):
    """The event handler: audio file path -> ((rate, int16), translated text, details).
    ``progress`` (a ``gr.Progress``) follows the windows of a recording over 30 s."""
    waveform = _checked_audio(audio)
    try:
        result = speech_to_speech_translation(waveform, sampling_rate=SAMPLING_RATE, speaker=speaker or None,
                                              target=target or ENGLISH, progress=_progress_bar(progress),
                                              **(synthesis_options or {}))
    except (ValueError, TypeError) as err:
        raise _refused(f"Could not translate this audio: {err}") from None
    speech = (result[0], result[1]) if result[1].size else None
    return speech, result.text or NO_SPEECH, _details(result)


def translate_for_demo_stream(audio, speaker: str | None = None, synthesis_options: dict | None = None,
                              progress=None, target: str = ENGLISH):
    """The streaming event handler: yields ((rate, int16 block), translated text, details)
    as the speech is made."""
    waveform = _checked_audio(audio)
    try:
        for block in speech_to_speech_translation_stream(waveform, sampling_rate=SAMPLING_RATE,
                                                         speaker=speaker or None, target=target or ENGLISH,
                                                         progress=_progress_bar(progress),
                                                         **(synthesis_options or {})):
            speech = (block[0], block[1]) if block[1].size else None
            yield speech, block.text or NO_SPEECH, _details(block)
    except (ValueError, TypeError) as err:
        raise _refused(f"Could not translate this audio: {err}") from None


NO_SPEECH = "(no speech heard)"


def _refused(message: str):
    """The message the user sees for bad input; the server's terminal gets one line,
    not Gradio's traceback for each refused upload."""
    import gradio as gr

    print(f"refused a request: {message}", file=sys.stderr, flush=True)
    return gr.Error(message, print_exception=False)


def _checked_audio(audio):
    """The recording as a 16 kHz array, or a message for the user."""
    if audio is None:
        raise _refused("No audio yet: record something or upload a file first.")
    try:
        waveform = load_audio(audio)
    except (ValueError, TypeError) as err:
        raise _refused(f"Could not read this audio: {err}") from None
    minutes = len(waveform) / SAMPLING_RATE / 60
    if minutes > MAX_MINUTES:
        raise _refused(f"This recording is {minutes:.1f} minutes long; the demo takes up to {MAX_MINUTES}. "
                       "Cut it, or translate it with the command line: python3 -m s2st_helpers FILE")
    return waveform


def _speech_file(speech) -> str | None:
    """The speech as a WAV file of its own in Gradio's cache folder.

    Gradio names the file of a (rate, array) answer after its content and writes it
    again for every answer. Two listeners who get the same speech (a class trying the
    same clip) share one file, and the second write can empty it while the first is
    still downloading it. A file of its own per answer is served as it is."""
    if speech is None:
        return None
    from gradio.utils import get_upload_folder

    rate, samples = speech
    os.makedirs(get_upload_folder(), exist_ok=True)
    folder = tempfile.mkdtemp(dir=get_upload_folder())
    path = os.path.join(folder, "translated_speech.wav")
    sf.write(path, samples, rate, subtype="PCM_16")
    return path


def _progress_bar(progress):
    """A gr.Progress as the cascade's progress(seconds_done, seconds_total) callback."""
    if progress is None:
        return None
    return lambda done, total: progress((done, total), desc="Translating", unit="s of audio")


def _details(result) -> str:
    details = f"source language: {result.language or 'none detected'} | {format_timings(result.timings)}"
    if result.transcript:  # the three-stage design: what Whisper heard, before the text was translated
        details += f" | heard: {result.transcript}"
    return details if result.text else "No speech heard. | " + details


def build_demo(*, synthesis_options: dict | None = None, concurrency_limit: int = 1,
               queue_size: int = 64, streaming: bool = False):
    """Microphone and Audio-file tabs, a voice and a target language to choose, the
    translated text and speech. ``streaming=True`` starts playing the speech before
    all of it is made."""
    import gradio as gr

    description = DESCRIPTION
    if streaming and shutil.which("ffmpeg") is None:  # Gradio's own test for streaming output
        warnings.warn(NO_FFMPEG, stacklevel=2)
        streaming, description = False, f"{DESCRIPTION}\n\n**{NO_FFMPEG}**"

    if streaming:
        def handler(audio, speaker, target=ENGLISH, progress=gr.Progress()):
            yield from translate_for_demo_stream(audio, speaker, synthesis_options, progress, target)
    else:
        def handler(audio, speaker, target=ENGLISH, progress=gr.Progress()):
            speech, text, details = translate_for_demo(audio, speaker, synthesis_options, progress, target)
            return _speech_file(speech), text, details

    choices, languages = speaker_choices(), target_choices()

    def interface(source: str, api_name: str):
        return gr.Interface(
            fn=handler,
            inputs=[gr.Audio(sources=[source], type="filepath", label="Speech in any language"),
                    gr.Dropdown(choices=choices, value=choices[0][1], label="English voice"),
                    gr.Dropdown(choices=languages, value=ENGLISH, label="Speak in")],
            outputs=[gr.Audio(label="Translated speech", type="numpy", streaming=streaming, autoplay=streaming),
                     gr.Textbox(label="Translated text"), gr.Textbox(label="Details")],
            api_name=api_name, flagging_mode="never", concurrency_limit=concurrency_limit,
            description=description)

    # built outside any Blocks context: inside one, each Interface would render twice
    demo = gr.TabbedInterface([interface("microphone", "translate_microphone"),
                               interface("upload", "translate_file")],
                              ["Microphone", "Audio file"], title=TITLE)
    demo.queue(max_size=queue_size, default_concurrency_limit=concurrency_limit)
    return demo


def launch(demo=None, *, server_name: str = "127.0.0.1", server_port: int | None = None,
           share: bool | None = None, max_file_size: str = MAX_UPLOAD, **kwargs):
    """Start the demo without blocking (in a notebook it shows inline); returns it.

    Stop it with ``demo.close()``. Colab shares a public link by default; elsewhere
    pass ``share=True`` for one (it needs internet).
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    demo = demo or build_demo()
    demo.launch(server_name=server_name, server_port=server_port, share=share, max_file_size=max_file_size,
                prevent_thread_lock=True, **kwargs)
    return demo


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python3 -m s2st_helpers.demo", description=DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also make a public gradio.live link")
    parser.add_argument("--concurrency", type=int, default=1, help="requests worked on at once")
    parser.add_argument("--maxlenratio", type=float, default=None, help="SpeechT5 length cap")
    parser.add_argument("--stream", action="store_true", help="play the speech while it is being made")
    args = parser.parse_args(argv)
    from .environment import OFFLINE_NOTE, fit_threads, offline_if_unreachable, quiet_logs

    quiet_logs()
    fit_threads()  # a container's CPU limit, not the machine's cores
    if offline_if_unreachable():
        print(OFFLINE_NOTE, flush=True)
    options = {} if args.maxlenratio is None else {"maxlenratio": args.maxlenratio}
    demo = launch(build_demo(synthesis_options=options, concurrency_limit=args.concurrency, streaming=args.stream),
                  server_name=args.host, server_port=args.port, share=args.share, inline=False)
    print(f"Serving on {demo.local_url} - Ctrl+C to stop", flush=True)
    try:
        demo.block_thread()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
