"""Helpers for the speech-to-speech translation workbook.

Whisper base translates speech in ~96 languages into English text; SpeechT5 and
HiFi-GAN speak it with a speaker x-vector. One module per notebook topic:

* ``environment`` (00_setup): ``setup()``, device and versions report, prefetching
* ``audio``, ``translation``, ``samples`` (01_speech_translation)
* ``speakers``, ``synthesis`` (02_text_to_speech)
* ``cascade`` (03_speech_to_speech)
* ``streaming``, ``hifigan_stream``, ``whisper_greedy``, the ``fast`` preset in ``models`` (06_speed)
"""

from .audio import load_audio, to_int16, write_wav
from .cascade import S2STResult, speech_to_speech_translation, speech_to_speech_translation_stream
from .models import load_asr, load_tts, pick_device
from .samples import load_sample
from .speakers import interpolate, list_speakers, load_speaker
from .synthesis import normalise_numbers, synthesise, synthesise_stream
from .translation import Translation, translate, translate_details

__all__ = [
    "S2STResult", "Translation", "interpolate", "list_speakers", "load_asr", "load_audio",
    "load_sample", "load_speaker", "load_tts", "normalise_numbers", "pick_device",
    "speech_to_speech_translation", "speech_to_speech_translation_stream", "synthesise", "synthesise_stream", "to_int16", "translate",
    "translate_details", "write_wav",
]
__version__ = "0.1.0"
