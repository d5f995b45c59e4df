"""Command line: ``python3 -m s2st_helpers input.wav -o output.wav``.

Writes the English speech (or, with ``--target fra``, French speech through the
three-stage design) as a 16 kHz mono 16-bit wav and prints the translation, a line
per segment as it is made. A recording of any length goes through: the wav
is written block by block as the speech is made, so memory holds the recording
itself and little more, and a recording over 30 s shows a progress bar.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import soundfile as sf
from tqdm.auto import tqdm

from . import SpeechOptions, settings
from .audio import SAMPLING_RATE, load_audio
from .cascade import format_timings, speech_to_speech_translation_stream
from .environment import OFFLINE_NOTE, fit_threads, offline_if_unreachable, quiet_logs
from .translation import WINDOW_SECONDS


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (1 is greedy), got {value}")
    return value


def _above_zero(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m s2st_helpers", description=__doc__.splitlines()[0])
    parser.add_argument("input", help="recording in any language (wav, flac, ogg, mp3, webm...)")
    parser.add_argument("-o", "--output", default="translated.wav", help="wav file to write (default: %(default)s)")
    parser.add_argument("--speaker", default=None, help="x-vector: slt, bdl, clb, rms, awb, ksp or an utterance name")
    parser.add_argument("--target", default="eng",
                        help="language to speak: eng (default), or fra, deu, spa... through three stages")
    parser.add_argument("--design", choices=("two-stage", "three-stage"), default=None,
                        help="default: two-stage into English, three-stage into any other target")
    parser.add_argument("--language", default=None, help="the recording's language, if known (Whisper's code: it, "
                        "de...); default: detected")
    parser.add_argument("--beams", type=_at_least_one, default=5, help="Whisper beam size (default: 5; 1 is greedy)")
    parser.add_argument("--maxlenratio", type=_above_zero, default=None, help="SpeechT5 length cap, per input token")
    parser.add_argument("--preset", choices=settings.PRESETS, default=None,
                        help="exact: the plain tier; fast: the speed layer; fastest: fast with Whisper's "
                             "encoder in bfloat16 (default: S2ST_PRESET, else fast)")
    parser.add_argument("--seed", type=int, default=None,
                        help="repeatable output: seeds Whisper's fallback to sampling and SpeechT5's dropout")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    output = Path(args.output)
    if output.suffix.lower() != ".wav":
        parser.error(f"--output must be a .wav file (it is written as WAV), got {args.output}")
    if not output.parent.is_dir():
        parser.error(f"--output: the folder {output.parent} does not exist")
    quiet_logs()
    fit_threads()  # a container's CPU limit, not the machine's cores
    if offline_if_unreachable():
        print(OFFLINE_NOTE, file=sys.stderr)
    try:
        options = SpeechOptions(maxlenratio=args.maxlenratio, preset=args.preset, seed=args.seed)
        waveform = load_audio(args.input)
        seconds = len(waveform) / SAMPLING_RATE
        bar = tqdm(total=round(seconds, 1), unit="s", desc="translated", file=sys.stderr,
                   disable=args.quiet or seconds <= WINDOW_SECONDS, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s "
                   "[{elapsed}<{remaining}{postfix}]")
        blocks = speech_to_speech_translation_stream(
            waveform, sampling_rate=SAMPLING_RATE, speaker=args.speaker, target=args.target, design=args.design,
            options=options,
            generate_kwargs={"num_beams": args.beams, **({"language": args.language} if args.language else {})},
            progress=lambda done, total: bar.update(min(done, bar.total) - bar.n))  # the last window ends past the end
        part = output.with_name(f".{output.name}.part")  # a failed run leaves no half file
        frames, printed, segments, last = 0, "", 0, None
        try:
            with bar, sf.SoundFile(part, "w", samplerate=SAMPLING_RATE, channels=1, subtype="PCM_16",
                                   format="WAV") as out:
                for last in blocks:
                    out.write(last[1])
                    frames += len(last[1])
                    if last.text != printed:  # a new segment is being spoken: show its text
                        tqdm.write(last.text[len(printed):].strip(), file=sys.stdout)
                        printed, segments = last.text, segments + 1
                        bar.set_postfix_str(f"{segments} segments spoken, {frames / SAMPLING_RATE:.0f} s of speech",
                                            refresh=True)
                bar.set_postfix_str(f"{segments} segments spoken, {frames / SAMPLING_RATE:.0f} s of speech")
            part.replace(args.output)
        finally:
            part.unlink(missing_ok=True)
    except (ValueError, TypeError, OSError, sf.LibsndfileError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    heard = f"{frames / SAMPLING_RATE:.2f} s of speech in {args.output}" if last.text else "no speech heard"
    print(f"[{last.language or '?'} -> {args.target}, {heard}; {format_timings(last.timings)}]", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
