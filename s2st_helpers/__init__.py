"""Helpers for the speech-to-speech translation workbook.

Whisper base translates speech in ~96 languages into English text; SpeechT5 and
HiFi-GAN speak it with a speaker x-vector. One module per notebook topic:

* ``environment``, ``settings``, ``models`` (00_setup): ``setup()``, every ``S2ST_*``
  variable, which models on which device
* ``audio``, ``translation``, ``samples`` (01_speech_translation)
* ``speakers``, ``synthesis`` (02_text_to_speech)
* ``cascade`` (03_speech_to_speech)
* ``demo``, ``recorder`` (04_demo)
* ``evaluation`` (05_evaluation)
* ``fast`` (06_speed): the speed layer that ``preset="fast"`` selects (and
  ``preset="fastest"``, which adds the one lever that changes the text)
* ``languages``, ``three_stage`` (07_three_stage): ASR + MT + TTS, and speech in
  other languages than English

Two tiers: the modules above are the plain tier and read like the notebooks
(``preset="exact"`` runs only them); ``fast`` is the speed layer beside it, tested
equal to it.
"""

from .audio import load_audio, to_int16, write_wav
from .cascade import S2STResult, speech_to_speech_translation, speech_to_speech_translation_stream
from .models import load_asr, load_tts, pick_device
from .samples import load_sample
from .speakers import interpolate, list_speakers, load_speaker
from .synthesis import SpeechOptions, normalise_numbers, synthesise, synthesise_stream
from .translation import Translation, translate, translate_details

__all__ = [
    "S2STResult", "SpeechOptions", "Translation", "interpolate", "list_speakers", "load_asr", "load_audio",
    "load_sample", "load_speaker", "load_tts", "normalise_numbers", "pick_device",
    "speech_to_speech_translation", "speech_to_speech_translation_stream", "synthesise", "synthesise_stream", "to_int16", "translate",
    "translate_details", "write_wav",
]
__version__ = "0.1.0"
