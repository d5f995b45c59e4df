"""Self-checking exercises: ``check()``, ``hint()`` and ``solution()`` for each one.

Every notebook ends with exercises, in the spirit of Kaggle's learntools::

    from s2st_helpers.exercises import exercises
    ex = exercises("01")
    ex.q1.hint()            # a nudge
    ex.q1.check(answer)     # right, or why not
    ex.q1.solution(sample)  # the worked solution's code, then its answer

A check works out the right answer itself, with the same models, and compares:
it never holds a stored answer, so it is right on a GPU, offline, and with other
checkpoints. ``S2ST_HIDE_SOLUTIONS=1`` hides the solutions, never the checks or
hints. Each exercise's ``task`` says what to answer with.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from . import solutions

#: the texts some exercises ask about (named in their tasks)
FOX = "The quick brown fox jumps over the lazy dog."
SHORT = "Good morning."
LONG = "The train to the mountains leaves at nine, and the walk to the summit takes three hours."
SENTENCES = {"short": SHORT, "long": LONG}  # 06's exercise 1


class Wrong(Exception):
    """Raised by a checker: the message says what is wrong."""


@dataclass
class Exercise:
    notebook: str
    number: int
    task: str
    hint_text: str
    checker: Callable[..., str]  # returns what is right about the answer, or raises Wrong
    solution_fn: Callable
    solution_defaults: dict = field(default_factory=dict)

    def check(self, *answer, **context) -> bool:
        """Say whether the answer is right and, if not, why; returns True when right."""
        if not answer or answer[0] is None:
            print(f"Not answered yet. {self.notebook}, exercise {self.number}: {self.task}")
            return False
        signature = inspect.signature(self.checker)
        self._needs(signature, answer, context)
        if "fn" in signature.parameters and not callable(answer[0]):
            print(f"Not yet: that is not a function ({type(answer[0]).__name__}). {self.task}")
            return False
        try:
            praise = self.checker(*answer, **context)
        except Wrong as why:
            print(f"Not yet: {why}")
            return False
        print(f"Correct: {praise}")
        return True

    def _needs(self, signature: inspect.Signature, answer: tuple, context: dict) -> None:
        """Raise a TypeError that says how to call ``check`` where the checker cannot
        take these arguments (its own error would name a private function)."""
        try:
            signature.bind(*answer, **context)
        except TypeError as why:
            others = list(signature.parameters.values())[1:]
            wanted = ", ".join(f"{p.name}=..." for p in others if p.default is p.empty)
            call = f"ex.q{self.number}.check(answer{', ' + wanted if wanted else ''})"
            optional = [p.name for p in others if p.default is not p.empty]
            raise TypeError(f"{call} is how this check is called ({why}). "
                            + (f"It also takes {', '.join(optional)}. " if optional else "")
                            + "The cell below the exercise passes what it needs.") from None

    def hint(self) -> None:
        print(f"Hint: {self.hint_text}")

    def solution(self, *args, **kwargs):
        """The worked solution: its code, then its answer (unless solutions are hidden)."""
        return solutions.run(self.solution_fn, *args, **{**self.solution_defaults, **kwargs})

    def __repr__(self) -> str:
        return f"{self.notebook}, exercise {self.number}: {self.task}"


def exercises(notebook: str) -> SimpleNamespace:
    """The exercises of one notebook ("00" to "07") as ``q1``, ``q2``, ..."""
    key = str(notebook)[:2]
    if key not in _BY_NOTEBOOK:
        raise ValueError(f"no exercises for notebook {notebook!r}; there are: {sorted(_BY_NOTEBOOK)}")
    return SimpleNamespace(**{f"q{e.number}": e for e in _BY_NOTEBOOK[key]})


# ---- 00 ----------------------------------------------------------------------------

def _check_device(device) -> str:
    import torch

    try:
        device = torch.device(device)
    except (TypeError, RuntimeError) as err:
        raise Wrong(f"{device!r} is not a device ({err})") from None
    if device.type != "cpu":
        raise Wrong(f"you got {device}: with S2ST_DEVICE=cpu the workbook must use the CPU. Set "
                    "S2ST_DEVICE to 'cpu' in os.environ before calling pick_device().")
    return "with S2ST_DEVICE=cpu every model runs on the CPU, GPU or not (deleting S2ST_DEVICE from os.environ undoes it)."


def _check_cache(path) -> str:
    from huggingface_hub import constants

    given, cache = Path(path).expanduser().resolve(), Path(constants.HF_HUB_CACHE).resolve()
    if given == cache:
        return f"the models are under {cache}, one folder per repository (models--openai--whisper-base, ...)."
    if given == Path(constants.HF_HOME).resolve():
        raise Wrong("that is HF_HOME, the cache's home: the models are in a folder inside it.")
    raise Wrong(f"{given} is not where the Hugging Face hub keeps its downloads.")


# ---- 01 ----------------------------------------------------------------------------

def _check_decoding(results, audio) -> str:
    from .translation import translate

    if not isinstance(results, dict) or not {1, 5} <= set(results):
        raise Wrong("answer with a dict {1: greedy text, 5: beam-5 text}, e.g. "
                    "{b: s2st.translate(sample, num_beams=b, seed=0) for b in (1, 5)}.")
    for beams in (1, 5):
        # seeded: where the loop guard falls back to sampling, the same seed draws the same text
        expected = translate(audio, num_beams=beams, seed=0)
        if str(results[beams]).strip() != expected:
            raise Wrong(f"with num_beams={beams} and seed=0 translate gives {expected!r}, not "
                        f"{results[beams]!r}. Same clip, and seed=0?")
    same = "the same text" if results[1] == results[5] else "different texts"
    return (f"greedy and beam 5 give {same} here. Time each: what does beam 5 cost, and which is "
            "closer to the reference?")


def _check_transcribe(fn) -> str:
    from .samples import bundled_sample
    from .translation import translate, translate_details

    clip = bundled_sample("fr")
    got = fn(clip)
    if isinstance(got, dict):
        transcript, english = got.get("transcript"), got.get("translation", got.get("english"))
    elif isinstance(got, (tuple, list)) and len(got) == 2:
        transcript, english = got
    else:
        raise Wrong("your function should return (transcript, translation) or a dict with those keys.")
    heard = translate_details(clip)  # the clip is French; Whisper's guess is what the transcript uses
    want_english = heard.text
    want_transcript = translate(clip, task="transcribe", language=heard.language)
    if english != want_english:
        raise Wrong(f"the translation should be translate(audio): {want_english!r}, not {english!r}.")
    if transcript != want_transcript:
        if transcript == want_english:
            raise Wrong("your transcript is the English translation: ask for task='transcribe'.")
        raise Wrong(f"the transcript should be {want_transcript!r}: task='transcribe' in the clip's "
                    f"own language (language={heard.language!r}; translate_details tells you the language).")
    return "same model, two tasks: the transcript in French, the translation in English."


# ---- 02 ----------------------------------------------------------------------------

def _check_halfway(halfway, closest=None) -> str:
    from .speakers import interpolate, load_speaker

    try:
        vector = load_speaker(np.asarray(halfway, dtype=np.float32))
    except (TypeError, ValueError) as err:
        raise Wrong(f"halfway should be a 512-number x-vector: {err}") from None
    want = interpolate("clb", "ksp", 0.5)
    cosine = float(vector @ want / (np.linalg.norm(vector) * np.linalg.norm(want)))
    if cosine < 0.999:
        raise Wrong(f"that vector is not halfway between clb and ksp (cosine similarity {cosine:.3f} with "
                    "interpolate('clb', 'ksp', 0.5)).")
    note = "" if abs(np.linalg.norm(vector) - np.linalg.norm(want)) < 1e-3 else (
        " (a plain average is a little shorter than the originals; interpolate() scales it back)")
    if closest is None:
        raise Wrong(f"the vector is right: halfway between clb and ksp{note}. Now answer with its closest "
                    "voices too: closest=[the nearest bundled voice after clb and ksp, then the next, ...].")
    ranked = [name for name, _ in solutions.nearest_speakers.__wrapped__(want, k=6) if name not in ("clb", "ksp")]
    given = [closest] if isinstance(closest, str) else list(closest)
    if not given:
        raise Wrong("closest is empty: name one voice or more, the nearest first.")
    for place, (name, right) in enumerate(zip(given, ranked), start=1):
        if name != right:
            raise Wrong(f"after its parents, voice number {place} by closeness is not {name!r}: rank the "
                        "other bundled voices by cosine similarity, the nearest first.")
    return f"halfway{note}; after clb and ksp it is closest to {', then '.join(ranked[:len(given)])}."


def _check_lengths(seconds) -> str:
    from .synthesis import synthesise

    if not isinstance(seconds, dict) or len(seconds) < 2:
        raise Wrong("answer with a dict {maxlenratio: seconds of speech} for at least two maxlenratio values, "
                    "speaking FOX with seed=0.")
    for ratio, value in seconds.items():
        expected = len(synthesise(FOX, maxlenratio=ratio, seed=0)) / 16000
        if not math.isclose(float(value), expected, rel_tol=0.02, abs_tol=0.02):
            raise Wrong(f"at maxlenratio={ratio} FOX lasts {expected:.2f} s (seed=0), not {value}.")
    ratios = sorted(seconds)
    capped = seconds[ratios[0]] < seconds[ratios[-1]] - 0.05
    return ("a smaller maxlenratio cut the speech short: it is a cap." if capped else
            "the length did not change: the voice stopped by itself before either cap.")


# ---- 03 ----------------------------------------------------------------------------

def _check_grid(texts) -> str:
    if not isinstance(texts, dict) or not all(isinstance(k, tuple) and len(k) == 2 for k in texts):
        raise Wrong("answer with a dict {(language, speaker): result.text}.")
    languages = {lang for lang, _ in texts}
    speakers = {spk for _, spk in texts}
    if len(languages) < 3 or len(speakers) < 2:
        raise Wrong(f"try three languages and two voices: you have {len(languages)} and {len(speakers)}.")
    for language in languages:
        said = {texts[(language, s)] for s in speakers if (language, s) in texts}
        if len(said) > 1:
            raise Wrong(f"{language}: the voice changed the English text ({said}). The voice is chosen after "
                        "the translation: did Whisper's fallback sample? Try generate_kwargs={'temperature': 0.0}.")
    return "the voice changes how the English sounds, never what it says: translation comes first."


def _check_stages(timings, slower) -> str:
    if not isinstance(timings, dict) or not {"translate", "synthesise"} <= set(timings):
        raise Wrong("answer with result.timings (a dict with 'translate' and 'synthesise') and the slower stage.")
    want = max(("translate", "synthesise"), key=lambda k: timings[k])
    if slower != want:
        raise Wrong(f"in your own timings {want} took longer ({timings[want]:.2f} s against "
                    f"{min(timings['translate'], timings['synthesise']):.2f} s).")
    return f"{want} is the slower stage on this machine. Was the call after a warm-up?"


def _check_round_trip(wers, worst) -> str:
    from .samples import bundled_languages

    if not isinstance(wers, dict) or not wers:
        raise Wrong("answer with a dict {language: round-trip WER} over the bundled clips, and the worst one.")
    missing = set(bundled_languages()) - set(wers)
    if missing:
        raise Wrong(f"some bundled clips are missing: {sorted(missing)}.")
    want = max(wers, key=wers.get)
    if worst != want:
        raise Wrong(f"by your own numbers the worst is {want!r} (WER {wers[want]:.2f}).")
    return (f"{want} is worst. Look at its English: names and foreign words SpeechT5 spells out, or a "
            "garbled translation, do not survive the trip.")


# ---- 04 ----------------------------------------------------------------------------

def _check_slider_app(app) -> str:
    import gradio as gr

    if not isinstance(app, gr.Blocks):
        raise Wrong("answer with the Gradio app (a gr.Interface or gr.Blocks), before or after launch().")
    sliders = [b for b in app.blocks.values() if isinstance(b, gr.Slider)]
    audio_in = [b for b in app.blocks.values() if isinstance(b, gr.Audio) and b.sources]
    if not audio_in:
        raise Wrong("the app needs its audio input (gr.Audio with sources=[...]).")
    if not sliders:
        raise Wrong("no gr.Slider in the app: add one to the inputs.")
    if not any(s.minimum <= 2 and s.maximum >= 20 for s in sliders):
        raise Wrong("let the slider reach from 2 (or less) to 20 (or more), to try both.")
    return "a slider from 2 to 20. At 2 the speech is cut off; at 20 the real SpeechT5 stops by itself anyway."


def _check_other_language(fn, target: str = "fra") -> str:
    from .languages import target as speakable
    from .samples import bundled_sample
    from .three_stage import detect_language

    try:
        want = speakable(target)
    except ValueError as why:
        raise Wrong(str(why)) from None
    rate, speech = _speech_of(fn(bundled_sample("it")))
    heard, _ = detect_language({"array": speech, "sampling_rate": rate})
    if heard != want.whisper:
        raise Wrong(f"Whisper hears {heard!r} in your output, not {want.whisper!r}: did the text reach "
                    f"the voice in {want.name}?")
    return f"Whisper hears {want.name} in the speech your demo made."


def _speech_of(result) -> tuple[int, np.ndarray]:
    try:
        rate, speech = int(result[0]), np.asarray(result[1])
    except (TypeError, IndexError, KeyError, ValueError):
        raise Wrong("your function should return (sampling_rate, audio), like the tutorial's.") from None
    if speech.size == 0:
        raise Wrong("your function returned no speech.")
    return rate, speech


# ---- 05 ----------------------------------------------------------------------------

def _check_bleu(scores, items) -> str:
    from .evaluation import bleu
    from .translation import translate

    if not isinstance(scores, dict) or not {1, 5} <= set(scores):
        raise Wrong("answer with a dict {1: greedy BLEU, 5: beam-5 BLEU} on the same items.")
    for beams in (1, 5):
        want = bleu([translate(i.audio, num_beams=beams, seed=0) for i in items], [i.english for i in items])
        if not math.isclose(float(scores[beams]), want, abs_tol=0.1):
            raise Wrong(f"with num_beams={beams} and seed=0 BLEU on these {len(items)} clips is {want:.1f}, "
                        f"not {scores[beams]}.")
    return (f"on {len(items)} clips the difference is {scores[5] - scores[1]:+.1f} BLEU: with this few, "
            "say whether it could be noise.")


def _check_folder(directory) -> str:
    from .audio import load_audio
    from .samples import read_manifest

    folder = Path(directory)
    try:
        rows = read_manifest(folder)
    except ValueError as err:
        raise Wrong(str(err)) from None
    if not rows:
        raise Wrong("manifest.tsv has a header but no rows.")
    need = {"file", "language", "english"}
    if not need <= set(rows[0]):
        raise Wrong(f"manifest.tsv needs the columns {sorted(need)} (tab-separated); it has {sorted(rows[0])}.")
    for row in rows:
        try:
            seconds = len(load_audio(folder / row["file"])) / 16000
        except ValueError as err:
            raise Wrong(f"{row['file']}: {err}") from None
        if seconds > 30:
            raise Wrong(f"{row['file']} is {seconds:.0f} s long: keep evaluation clips to a sentence or two.")
        if not (row.get("english") or "").strip():
            raise Wrong(f"{row['file']} has no English reference: BLEU needs one.")
    return (f"{len(rows)} clips with references, ready: evaluation.load_eval_set(folder) reads them, "
            "or set S2ST_EVAL_DIR to the folder and run 05 again.")


# ---- 06 ----------------------------------------------------------------------------

def _check_snr(snr) -> str:
    if not isinstance(snr, dict) or not {"short", "long"} <= set(snr):
        raise Wrong("answer with a dict {'short': SNR dB, 'long': SNR dB} of the fast preset against exact.")
    wants = solutions.compare_presets.__wrapped__(SENTENCES)["SNR dB"]
    for name, want in wants.items():
        if not math.isclose(float(snr[name]), want, abs_tol=0.5):
            raise Wrong(f"for the {name} sentence the SNR is {want:.1f} dB (seed 0), not {snr[name]}.")
    return "int8 costs some fidelity; the SNR says how much, for each length."


def _check_first_block(first_audio) -> str:
    from .fast import speecht5_steps

    if not isinstance(first_audio, dict) or not {4, 64} <= set(first_audio):
        raise Wrong("answer with a dict {FIRST_BLOCK: seconds to first audio} for at least 4 and 64.")
    if speecht5_steps.FIRST_BLOCK != speecht5_steps.FIRST_BLOCK_DEFAULT:
        raise Wrong(f"FIRST_BLOCK is still {speecht5_steps.FIRST_BLOCK}: set it back to "
                    f"{speecht5_steps.FIRST_BLOCK_DEFAULT}.")
    if not first_audio[4] < first_audio[64]:
        raise Wrong("with a 4-frame first block the first audio should come sooner than with 64: did each "
                    "run come after a warm-up?")
    return "a small first block plays sooner; the total barely changes."


# ---- 07 ----------------------------------------------------------------------------

CHRF_PASS = 25.0  # chrF of what Whisper hears against the reference; unrelated text scores under 15


def _check_hands_on(fn, target: str = "fra") -> str:
    from .languages import target as speakable
    from .three_stage import reference_translations, speaks_target

    try:
        want = speakable(target)
    except ValueError as why:
        raise Wrong(str(why)) from None
    reference = reference_translations().get(("it_001.wav", want.iso3))
    if reference is None:
        targets = sorted(t for f, t in reference_translations() if f == "it_001.wav")
        raise Wrong(f"there is no reference for the Italian clip in {want.name}: pick one of {targets}.")
    from .samples import bundled_sample

    rate, speech = _speech_of(fn(bundled_sample("it")))
    got = speaks_target(speech, want.iso3, reference, sampling_rate=rate)
    if not got["in target"]:
        raise Wrong(f"Whisper hears {got['heard language']!r} in your output, not {want.whisper!r}.")
    if got["chrF"] < CHRF_PASS:
        raise Wrong(f"it is {want.name}, but Whisper hears {got['heard']!r}: chrF {got['chrF']:.0f} against "
                    f"{reference!r} (pass: {CHRF_PASS:.0f}). Which stage lost the meaning?")
    return f"Whisper hears {want.name}: {got['heard']!r}, chrF {got['chrF']:.0f} against the reference."


def _check_worst(answer, table) -> str:
    try:
        clip, lower = answer
    except (TypeError, ValueError):
        raise Wrong("answer with (clip name, True or False).") from None
    if "transcript CER" not in getattr(table, "columns", ()):
        raise Wrong("pass the propagation table (table=propagation), the one with a 'transcript CER' column.")
    worst = table["transcript CER"].idxmax()
    if clip != worst:
        raise Wrong(f"by the table, the worst transcript is {worst!r} "
                    f"(CER {table.loc[worst, 'transcript CER']:.2f}).")
    row = table.loc[worst]
    want = bool(row["chrF three-stage"] < row["chrF two-stage"])
    if bool(lower) != want:
        raise Wrong(f"on {worst} the three-stage chrF is {row['chrF three-stage']:.0f} and the two-stage "
                    f"{row['chrF two-stage']:.0f}.")
    return ("the error propagated: the text model translated what Whisper misheard." if want else
            "here the two-stage English was no better: Whisper's own translation misheard the same words.")


_ALL = [
    Exercise("00", 1, "set S2ST_DEVICE=cpu and answer with the device pick_device() returns",
             "put 'cpu' in `os.environ` under the name S2ST_DEVICE, then call `models.pick_device()`: it reads "
             "the variable each time.",
             _check_device, solutions.device_with_and_without_override),
    Exercise("00", 2, "answer with the folder where the Hugging Face hub keeps downloaded models",
             "`from huggingface_hub import constants` holds it, as `constants.HF_HUB_CACHE`.",
             _check_cache, solutions.where_things_are),
    Exercise("01", 1, "answer with {1: greedy text, 5: beam-5 text} for the sample, with seed=0 "
             "(check(answer, audio=sample))",
             "`s2st.translate(sample, num_beams=5, seed=0)` (the helper: the tutorial's `translate` takes only "
             "the audio); time each with `time.perf_counter()`.",
             _check_decoding, solutions.compare_decoding),
    Exercise("01", 2, "write a function audio -> (transcript, translation) and pass it to check()",
             "`s2st.translate_details(audio).language` gives the language; "
             "`s2st.translate(audio, task='transcribe', language=...)` the transcript.",
             _check_transcribe, solutions.transcribe_and_translate),
    Exercise("02", 1, "answer with the voice halfway between clb and ksp, and closest=[its nearest other voices]",
             "`speakers.interpolate(a, b, weight)`; rank the bundled voices by cosine similarity "
             "(`a @ b / (np.linalg.norm(a) * np.linalg.norm(b))`).",
             _check_halfway, solutions.nearest_speakers),
    Exercise("02", 2, "answer with {maxlenratio: seconds} for FOX, seed=0, at two or more maxlenratio values",
             "`{r: len(s2st.synthesise(FOX, maxlenratio=r, seed=0)) / 16000 for r in (2, 10)}`.",
             _check_lengths, solutions.length_by_stop_settings),
    Exercise("03", 1, "answer with {(language, speaker): English text} for three languages and two voices",
             "loop over `load_sample(lang)` and `s2st.speech_to_speech_translation(audio, speaker=...)`; "
             "`result.text` is the English.",
             _check_grid, solutions.cascade_grid),
    Exercise("03", 2, "answer with result.timings of a warmed-up call and the slower stage's name",
             "call the cascade once to warm up, then again; compare `result.timings['translate']` and "
             "`result.timings['synthesise']`.",
             _check_stages, solutions.stage_times),
    Exercise("03", 3, "answer with {language: round-trip WER} for the bundled clips and the worst language",
             "`from s2st_helpers import samples`, then `round_trip(samples.bundled_sample(lang))['wer']` for each "
             "`lang` in `samples.bundled_languages()`.",
             _check_round_trip, solutions.round_trip_all),
    Exercise("04", 1, "answer with your Gradio app: the file tab plus a gr.Slider for maxlenratio (2 to 20)",
             "`gr.Interface(fn, inputs=[gr.Audio(sources=['upload'], type='filepath'), "
             "gr.Slider(2, 20, value=10)], outputs=gr.Audio(type='numpy'))`; the function gets the slider's value "
             "as its second argument.",
             _check_slider_app, solutions.demo_with_length_slider),
    Exercise("04", 2, "the hands-on: write a function audio -> (16000, int16) that speaks French (target='fra')",
             "`from s2st_helpers import translate`, then `translate(audio, task='transcribe')` gives the Italian; "
             "a text model (NLLB-200: `AutoTokenizer` with `src_lang='ita_Latn'`, `generate` with "
             "`forced_bos_token_id` of `'fra_Latn'`) translates it; MMS-TTS (`VitsModel`, "
             "`facebook/mms-tts-fra`) speaks it.",
             _check_other_language, solutions.speech_to_speech_translation_to),
    Exercise("05", 1, "answer with {1: BLEU, 5: BLEU} on the same items, translated with seed=0 "
             "(check(answer, items=items))",
             "`evaluation.bleu(hypotheses, references)` with `s2st.translate(item.audio, num_beams=b, seed=0)` "
             "for each `item` in `items`.",
             _check_bleu, solutions.bleu_by_decoding),
    Exercise("05", 2, "answer with the folder of your recordings (a manifest.tsv and the audio files)",
             "columns file, language, transcript, english, separated by tabs; one clip a row.",
             _check_folder, solutions.evaluate_folder),
    Exercise("06", 1, "answer with {'short': SNR dB, 'long': SNR dB} of the fast preset against exact (SHORT, LONG)",
             "`synthesise(SHORT, preset='fast', seed=0)` and the same with `preset='exact'`, then "
             "`snr_db(fast[:n], exact[:n])` over their common length `n`.",
             _check_snr, solutions.compare_presets, {"texts": SENTENCES}),
    Exercise("06", 2, "answer with {FIRST_BLOCK: first audio s} for 4, 16 and 64, and set it back to 16",
             "`speecht5_steps.FIRST_BLOCK = 4`; `result.timings['first audio']` of a "
             "`speech_to_speech_translation(sample)` after a warm-up.",
             _check_first_block, solutions.first_audio_by_block),
    Exercise("07", 1, "the hands-on: a function audio -> (16000, int16) speaking French; checked on the Italian clip",
             "`speech_to_speech_translation(audio, target='fra')` does all three stages; or write them out "
             "(`from s2st_helpers import three_stage`): `three_stage.transcribe`, `translate_text`, "
             "then `three_stage.speak`.", _check_hands_on, solutions.hands_on_three_stage),
    Exercise("07", 2, "answer with (clip, lower) from the propagation table: the worst transcript, and whether "
             "its three-stage chrF is lower than its two-stage chrF (check(answer, table=propagation))",
             "`table['transcript CER'].idxmax()`, then compare the two chrF columns on that row.",
             _check_worst, solutions.worst_transcript),
]
_BY_NOTEBOOK: dict[str, list[Exercise]] = {}
for _e in _ALL:
    _BY_NOTEBOOK.setdefault(_e.notebook, []).append(_e)
