"""Worked solutions to the notebooks' exercises, behind one switch.

Each notebook ends with exercises; each has a solution here, a plain, tested
function. :func:`run` shows a solution's code, then runs it, so the learner reads
how, not only what. A teacher hides them all at once with ``S2ST_HIDE_SOLUTIONS=1``
in the environment (or ``solutions.hide()`` in a first cell): a solution then says
so instead of answering.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import time

import numpy as np

from . import settings

_hidden = False


def hide(hidden: bool = True) -> None:
    global _hidden
    _hidden = hidden


def hidden() -> bool:
    return _hidden or settings.solutions_hidden()


def solution(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if hidden():
            raise RuntimeError(f"The solution {fn.__name__}() is hidden by your teacher: try it yourself first!")
        return fn(*args, **kwargs)
    return wrapper


def run(fn, *args, **kwargs):
    """Show the code of the solution ``fn``, then run it and return its answer (or,
    when solutions are hidden, say so and return None)."""
    if hidden():
        print(f"The solution {fn.__name__}() is hidden by your teacher: try it yourself first!")
        return None
    from IPython.display import Code, display

    display(Code(shown_source(fn), language="python"))
    return fn(*args, **kwargs)


#: the module's own imports, as a learner's cell needs them: (name used, import line)
_IMPORTS = {"np": "import numpy as np", "os": "import os", "time": "import time",
            "settings": "from s2st_helpers import settings"}


def shown_source(fn) -> str:
    """``fn``'s code as a learner can paste it into a cell and run: the package's
    imports written out in full (``from s2st_helpers.cascade import ...``), the
    module-level imports it uses put first, and the ``@solution`` switch left out."""
    source = inspect.getsource(inspect.unwrap(fn))
    code = "\n".join(line for line in source.splitlines() if line.strip() != "@solution")
    code = re.sub(r"^(\s*)from \.(\w*) import",
                  lambda m: f"{m[1]}from s2st_helpers{'.' + m[2] if m[2] else ''} import", code, flags=re.M)
    header = [line for name, line in _IMPORTS.items() if re.search(rf"(?<![\w.]){name}\.", code)]
    return "\n".join(header + [""] * bool(header) + [code]) + "\n"


@solution
def device_with_and_without_override(override: str = "cpu") -> dict:
    """00, exercise 1: the device picked now, and with ``S2ST_DEVICE`` set to
    ``override`` (``pick_device`` takes the variable exactly as it takes an argument)."""
    from .models import pick_device

    now = f"now (S2ST_DEVICE={settings.device() or 'unset'})"
    return {now: str(pick_device()), f"S2ST_DEVICE={override}": str(pick_device(override))}


@solution
def where_things_are() -> str:
    """00, exercise 2: the folder where the hub keeps downloads (the answer), and the
    folder each of the workbook's models has inside it, one per repository."""
    from huggingface_hub import constants

    cache = constants.HF_HUB_CACHE
    for model in (settings.asr_model(), settings.tts_model(), settings.vocoder()):
        if os.path.isdir(model):
            print(f"{model}: a local folder (an S2ST_* setting), not in the cache")
        else:
            folder = os.path.join(cache, "models--" + model.replace("/", "--"))
            print(f"{model}: {folder}" + ("" if os.path.isdir(folder) else " (not downloaded yet)"))
    return cache


@solution
def compare_decoding(audio, beams=(1, 5), seed: int = 0, **kwargs) -> list[dict]:
    """01, exercise 1: greedy vs beam search, text and time side by side (seeded, as
    the check is: the loop guard's fallback samples). Each is run once before it is
    timed, so that neither pays for the other's first call."""
    from .translation import translate

    rows = []
    for num_beams in beams:
        translate(audio, num_beams=num_beams, seed=seed, **kwargs)  # warm-up
        start = time.perf_counter()
        text = translate(audio, num_beams=num_beams, seed=seed, **kwargs)
        rows.append({"num_beams": num_beams, "text": text, "seconds": time.perf_counter() - start})
    return rows


@solution
def transcribe_and_translate(audio) -> dict:
    """01, exercise 2: what was said (source language) next to its English translation."""
    from .translation import translate, translate_details

    english = translate_details(audio)
    said = translate(audio, task="transcribe", language=english.language) if english.text else ""
    return {"language": english.language, "transcript": said, "translation": english.text}


@solution
def nearest_speakers(vector, k: int = 3) -> list[tuple[str, float]]:
    """02, exercise: which bundled voices is this x-vector closest to (cosine similarity)?"""
    from .speakers import bundled_speakers, load_speaker

    v = load_speaker(vector)
    scores = []
    for short in bundled_speakers():
        other = load_speaker(short)
        scores.append((short, float(v @ other / (np.linalg.norm(v) * np.linalg.norm(other)))))
    return sorted(scores, key=lambda s: -s[1])[:k]


@solution
def length_by_stop_settings(text: str = "The quick brown fox jumps over the lazy dog.", speaker=None,
                            thresholds=(0.3, 0.5, 0.9), maxlenratios=(2.0, 4.0, 10.0)) -> list[dict]:
    """02, exercise 2: how the stop probability and the length cap change the length.
    A lower threshold stops sooner; a smaller ``maxlenratio`` cuts speech off (with a
    voice that never stops, it alone sets the length)."""
    from .synthesis import synthesise

    rows = []
    for threshold in thresholds:
        for maxlenratio in maxlenratios:
            speech = synthesise(text, speaker, threshold=threshold, maxlenratio=maxlenratio, seed=0)
            rows.append({"threshold": threshold, "maxlenratio": maxlenratio, "seconds": len(speech) / 16000})
    return rows


@solution
def cascade_grid(languages=("it", "fr", "de"), speakers=("slt", "bdl"), **options) -> list[dict]:
    """03, exercise 1: the cascade in several languages and voices."""
    from .cascade import speech_to_speech_translation
    from .samples import load_sample

    rows = []
    for language in languages:
        sample = load_sample(language)
        for speaker in speakers:
            result = speech_to_speech_translation(sample, speaker=speaker, **options)
            rows.append({"language": language, "speaker": speaker, "english": result.text,
                         "speech s": len(result[1]) / 16000, "total s": result.timings["total"]})
    return rows


@solution
def stage_times(audio, beams=(1, 5), **options) -> dict:
    """03, exercise 2: seconds per stage, greedy vs beam search (after a warm-up call,
    so loading the models is not counted)."""
    from .cascade import speech_to_speech_translation

    speech_to_speech_translation(audio, **options)  # warm-up: loads the models
    out = {}
    for num_beams in beams:
        result = speech_to_speech_translation(audio, generate_kwargs={"num_beams": num_beams}, **options)
        out[num_beams] = {k: round(v, 2) for k, v in result.timings.items()}
    return out


@solution
def round_trip_all(language_codes=None, **options) -> list[dict]:
    """03, exercise 3: the round trip on every bundled clip, worst first.

    A high error rate means Whisper could not hear back what SpeechT5 was asked to
    say: a translation full of names or foreign words SpeechT5 cannot pronounce (its
    voice reads English letters), a garbled translation, or speech cut short.
    """
    from .evaluation import round_trip
    from .samples import bundled_languages, bundled_sample

    rows = []
    for language in language_codes or bundled_languages():
        trip = round_trip(bundled_sample(language), **options)
        rows.append({"language": language, **trip})
    return sorted(rows, key=lambda r: -r["wer"])


@solution
def demo_with_length_slider():
    """04, exercise 1: the tutorial's file tab with a slider for SpeechT5's length cap.

    At 2 the speech stops mid-sentence: two frames per letter is too short to say it.
    At 20 the real SpeechT5 sounds as it does at 10, because it stops by itself long
    before either cap; only a voice that never stops would run twice as long.
    """
    import gradio as gr

    from .cascade import speech_to_speech_translation

    def translate_with_cap(audio, maxlenratio):
        if audio is None:
            raise gr.Error("Upload a recording first.")
        return speech_to_speech_translation(audio, maxlenratio=maxlenratio)

    return gr.Interface(fn=translate_with_cap,
                        inputs=[gr.Audio(sources=["upload"], type="filepath"),
                                gr.Slider(1.0, 20.0, value=10.0, step=0.5, label="maxlenratio")],
                        outputs=gr.Audio(label="Generated Speech", type="numpy"))


@solution
def speech_to_speech_translation_to(audio, target: str = "fra"):
    """04, the course's hands-on: speech in, speech out in ``target`` (not English).

    Whisper only translates into English, so the text goes through a second
    translation: Whisper transcribes, NLLB-200 translates the transcript into the
    target, and MMS-TTS (``facebook/mms-tts-<target>``, a ``VitsModel``) speaks it:
    the three-stage design that ``07_three_stage`` measures. Each model downloads
    once, with internet.
    """
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, VitsModel

    from .audio import SAMPLING_RATE, to_int16
    from .cascade import S2STResult
    from .languages import language, target as speakable
    from .translation import translate_details

    to = speakable(target)
    heard = translate_details(audio, task="transcribe")  # in the language spoken
    source = language(heard.language)
    if not heard.text:
        return S2STResult(SAMPLING_RATE, np.zeros(0, np.int16), "", heard.language, {})

    tokenizer = AutoTokenizer.from_pretrained(settings.mt_model(), src_lang=source.flores)
    model = AutoModelForSeq2SeqLM.from_pretrained(settings.mt_model())
    inputs = tokenizer(heard.text, return_tensors="pt")
    with torch.inference_mode():
        ids = model.generate(**inputs, forced_bos_token_id=tokenizer.convert_tokens_to_ids(to.flores),
                             max_length=2 * inputs["input_ids"].shape[1] + 16)
    text = tokenizer.decode(ids[0, 2:], skip_special_tokens=True)

    voice_tokenizer = AutoTokenizer.from_pretrained(settings.mms_model(to.iso3))
    voice = VitsModel.from_pretrained(settings.mms_model(to.iso3))
    with torch.inference_mode():
        speech = voice(**voice_tokenizer(text, return_tensors="pt")).waveform[0].numpy()
    if voice.config.sampling_rate != SAMPLING_RATE:
        import soxr

        speech = soxr.resample(speech, voice.config.sampling_rate, SAMPLING_RATE)
    return S2STResult(SAMPLING_RATE, to_int16(speech), text, heard.language, {}, heard.text)


@solution
def bleu_by_decoding(items, beams=(1, 5), seed: int = 0) -> dict:
    """05, exercise: does beam search buy translation quality? BLEU and time per setting
    (seeded, as the check is: the loop guard's fallback samples)."""
    from .evaluation import bleu
    from .translation import translate

    out = {}
    for num_beams in beams:
        start = time.perf_counter()
        hypotheses = [translate(item.audio, num_beams=num_beams, seed=seed) for item in items]
        out[num_beams] = {"BLEU": bleu(hypotheses, [i.english for i in items]),
                          "seconds": time.perf_counter() - start}
    return out


@solution
def evaluate_folder(directory, **options) -> dict:
    """05, exercise 2: your own recordings, in a folder with a ``manifest.tsv``
    (columns ``file``, ``language``, ``transcript``, ``english``)."""
    from .evaluation import latency_table, load_eval_set, run_cascade, scores

    runs = run_cascade(load_eval_set(directory), **options)
    return {"scores": scores(runs), "latency": latency_table(runs)}


@solution
def compare_presets(texts: dict, speaker=None, seed: int = 0, **options):
    """06, exercise 1: for each sentence (``texts``: {name: sentence}), seconds per
    preset and how far the fast preset's speech is from the exact one (same seed;
    compared over their common length). The answer is the "SNR dB" column."""
    import pandas as pd

    from .evaluation import log_spectral_distance, snr_db
    from .synthesis import synthesise

    rows = {}
    for name, text in texts.items():
        row, speech = {}, {}
        for preset in ("exact", "fast"):
            synthesise(text, speaker, preset=preset, seed=seed, **options)  # load before timing
            start = time.perf_counter()
            speech[preset] = synthesise(text, speaker, preset=preset, seed=seed, **options)
            row[f"{preset} s"] = time.perf_counter() - start
        n = min(len(speech["exact"]), len(speech["fast"]))
        row["speedup"] = row["exact s"] / row["fast s"]
        row["SNR dB"] = snr_db(speech["fast"][:n], speech["exact"][:n])
        row["log-spectral distance dB"] = log_spectral_distance(speech["fast"][:n], speech["exact"][:n])
        row["length difference s"] = (len(speech["fast"]) - len(speech["exact"])) / 16000
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").round(2)


@solution
def first_audio_by_block(audio, first_blocks=(4, 16, 64), reps: int = 3, **options) -> list[dict]:
    """06, exercise 2: the first block's size against the time to first audio and the
    total. One warm-up call first; then each size ``reps`` times, the sizes in turn,
    and the medians: a few frames make less difference than one run's noise."""
    from .cascade import speech_to_speech_translation
    from .fast import speecht5_steps

    speech_to_speech_translation(audio, preset="fast", **options)  # warm-up
    times, default = {frames: [] for frames in first_blocks}, speecht5_steps.FIRST_BLOCK
    try:
        for _ in range(reps):
            for frames in first_blocks:
                speecht5_steps.FIRST_BLOCK = frames
                times[frames].append(speech_to_speech_translation(audio, preset="fast", **options).timings)
    finally:
        speecht5_steps.FIRST_BLOCK = default
    return [{"first block (frames)": frames,
             "first audio s": round(float(np.median([t["first audio"] for t in runs])), 2),
             "total s": round(float(np.median([t["total"] for t in runs])), 2)} for frames, runs in times.items()]


@solution
def hands_on_three_stage(audio, target: str = "fra", reference: str | None = None) -> dict:
    """07, the course's hands-on: speech in, ``target`` speech out, checked by ear
    (Whisper's language identification) and against a reference translation."""
    from .cascade import speech_to_speech_translation
    from .three_stage import speaks_target

    result = speech_to_speech_translation(audio, target=target, seed=0)
    print("heard:", result.transcript)
    print("spoken:", result.text)
    return speaks_target(result[1], target, reference or result.text)


@solution
def worst_transcript(table) -> tuple[str, bool]:
    """07, exercise: the clip Whisper transcribed worst, and whether the three-stage
    English scored lower there than the two-stage English."""
    worst = table["transcript CER"].idxmax()
    row = table.loc[worst]
    return worst, bool(row["chrF three-stage"] < row["chrF two-stage"])
