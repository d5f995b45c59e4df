"""Command line: ``python -m s2st_helpers input.wav -o output.wav``.

Writes the English speech as a 16 kHz mono 16-bit wav and prints the translation.
"""

from __future__ import annotations

import argparse
import sys

from . import SpeechOptions, settings, speech_to_speech_translation, write_wav
from .cascade import format_timings
from .environment import quiet_logs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2st_helpers", description=__doc__.splitlines()[0])
    parser.add_argument("input", help="recording in any language (wav, flac, ogg, mp3, webm...)")
    parser.add_argument("-o", "--output", default="translated.wav", help="wav file to write (default: %(default)s)")
    parser.add_argument("--speaker", default=None, help="x-vector: slt, bdl, clb, rms, awb, ksp or an utterance name")
    parser.add_argument("--beams", type=int, default=1, help="Whisper beam size (default: greedy)")
    parser.add_argument("--maxlenratio", type=float, default=None, help="SpeechT5 length cap, per input token")
    parser.add_argument("--preset", choices=settings.PRESETS, default=None,
                        help="exact: the plain tier; fast: the speed layer (default: S2ST_PRESET, else fast)")
    args = parser.parse_args(argv)
    quiet_logs()
    try:
        options = SpeechOptions(maxlenratio=args.maxlenratio, preset=args.preset)
        result = speech_to_speech_translation(args.input, speaker=args.speaker, options=options,
                                              generate_kwargs={"num_beams": args.beams})
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rate, audio = result
    write_wav(args.output, audio, rate)
    print(result.text)
    print(f"[{result.language or '?'} -> en, {len(audio) / rate:.2f} s of speech in {args.output}; "
          + format_timings(result.timings) + "]", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
