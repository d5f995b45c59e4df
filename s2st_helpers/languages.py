"""One table of language codes for the three-stage cascade (ASR + MT + TTS).

Introduced in ``07_three_stage``. Three models name languages three ways: Whisper by
ISO 639-1 ("fr"), NLLB-200 by FLORES-200 ("fra_Latn"), MMS-TTS by ISO 639-3 ("fra").
M2M100 uses Whisper's codes. This table is the one place they meet; the tests check
each column against the libraries' own lists and every row both ways.

A *source* is any row (Whisper hears it, the MT model reads it): 96 of Whisper's 99
languages; NLLB-200 has no Latin, Breton or Hawaiian. A *target* is a
language the workbook can speak: English with SpeechT5, or a row with an MMS-TTS
voice. Only Latin-script voices are listed: MMS voices for other scripts
(``mms-tts-rus``, ``mms-tts-kor``...) read romanised text, and romanising with
uroman is not part of the workbook. MMS-TTS has no Italian, Chinese or Japanese voice.
"""

from __future__ import annotations

from dataclasses import dataclass

ENGLISH = "eng"


@dataclass(frozen=True)
class Language:
    name: str
    whisper: str  # ISO 639-1, as Whisper (and M2M100) names it
    flores: str  # FLORES-200, as NLLB-200 names it
    iso3: str  # ISO 639-3, as MMS-TTS names it
    voice: bool  # can the workbook speak it (SpeechT5 for English, MMS-TTS for the rest)

    @property
    def m2m100(self) -> str | None:
        """M2M100's code (Whisper's), or None for the 30 or so languages it lacks."""
        from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

        return self.whisper if self.whisper in FAIRSEQ_LANGUAGE_CODES["m2m100"] else None

    def __str__(self) -> str:
        return f"{self.name} ({self.iso3})"


_ROWS = [
    ("English", "en", "eng_Latn", "eng", True),
    ("French", "fr", "fra_Latn", "fra", True),
    ("German", "de", "deu_Latn", "deu", True),
    ("Spanish", "es", "spa_Latn", "spa", True),
    ("Portuguese", "pt", "por_Latn", "por", True),
    ("Dutch", "nl", "nld_Latn", "nld", True),
    ("Polish", "pl", "pol_Latn", "pol", True),
    ("Turkish", "tr", "tur_Latn", "tur", True),
    ("Swedish", "sv", "swe_Latn", "swe", True),
    ("Finnish", "fi", "fin_Latn", "fin", True),
    ("Hungarian", "hu", "hun_Latn", "hun", True),
    ("Romanian", "ro", "ron_Latn", "ron", True),
    ("Vietnamese", "vi", "vie_Latn", "vie", True),
    ("Italian", "it", "ita_Latn", "ita", False),
    ("Russian", "ru", "rus_Cyrl", "rus", False),
    ("Ukrainian", "uk", "ukr_Cyrl", "ukr", False),
    ("Chinese", "zh", "zho_Hans", "zho", False),
    ("Japanese", "ja", "jpn_Jpan", "jpn", False),
    ("Korean", "ko", "kor_Hang", "kor", False),
    ("Arabic", "ar", "arb_Arab", "ara", False),
    ("Hindi", "hi", "hin_Deva", "hin", False),
    ("Czech", "cs", "ces_Latn", "ces", False),
    ("Greek", "el", "ell_Grek", "ell", False),
    ("Catalan", "ca", "cat_Latn", "cat", False),
    ("Danish", "da", "dan_Latn", "dan", False),
    ("Norwegian", "no", "nob_Latn", "nob", False),
    ("Indonesian", "id", "ind_Latn", "ind", False),
    ("Hebrew", "he", "heb_Hebr", "heb", False),
    ("Persian", "fa", "pes_Arab", "fas", False),
    ("Swahili", "sw", "swh_Latn", "swa", False),
    ("Malay", "ms", "zsm_Latn", "msa", False),
    ("Tamil", "ta", "tam_Taml", "tam", False),
    ("Thai", "th", "tha_Thai", "tha", False),
    ("Urdu", "ur", "urd_Arab", "urd", False),
    ("Croatian", "hr", "hrv_Latn", "hrv", False),
    ("Bulgarian", "bg", "bul_Cyrl", "bul", False),
    ("Lithuanian", "lt", "lit_Latn", "lit", False),
    ("Maori", "mi", "mri_Latn", "mri", False),
    ("Malayalam", "ml", "mal_Mlym", "mal", False),
    ("Welsh", "cy", "cym_Latn", "cym", False),
    ("Slovak", "sk", "slk_Latn", "slk", False),
    ("Telugu", "te", "tel_Telu", "tel", False),
    ("Latvian", "lv", "lvs_Latn", "lav", False),
    ("Bengali", "bn", "ben_Beng", "ben", False),
    ("Serbian", "sr", "srp_Cyrl", "srp", False),
    ("Azerbaijani", "az", "azj_Latn", "aze", False),
    ("Slovenian", "sl", "slv_Latn", "slv", False),
    ("Kannada", "kn", "kan_Knda", "kan", False),
    ("Estonian", "et", "est_Latn", "est", False),
    ("Macedonian", "mk", "mkd_Cyrl", "mkd", False),
    ("Basque", "eu", "eus_Latn", "eus", False),
    ("Icelandic", "is", "isl_Latn", "isl", False),
    ("Armenian", "hy", "hye_Armn", "hye", False),
    ("Nepali", "ne", "npi_Deva", "nep", False),
    ("Mongolian", "mn", "khk_Cyrl", "mon", False),
    ("Bosnian", "bs", "bos_Latn", "bos", False),
    ("Kazakh", "kk", "kaz_Cyrl", "kaz", False),
    ("Albanian", "sq", "als_Latn", "sqi", False),
    ("Galician", "gl", "glg_Latn", "glg", False),
    ("Marathi", "mr", "mar_Deva", "mar", False),
    ("Punjabi", "pa", "pan_Guru", "pan", False),
    ("Sinhala", "si", "sin_Sinh", "sin", False),
    ("Khmer", "km", "khm_Khmr", "khm", False),
    ("Shona", "sn", "sna_Latn", "sna", False),
    ("Yoruba", "yo", "yor_Latn", "yor", False),
    ("Somali", "so", "som_Latn", "som", False),
    ("Afrikaans", "af", "afr_Latn", "afr", False),
    ("Occitan", "oc", "oci_Latn", "oci", False),
    ("Georgian", "ka", "kat_Geor", "kat", False),
    ("Belarusian", "be", "bel_Cyrl", "bel", False),
    ("Tajik", "tg", "tgk_Cyrl", "tgk", False),
    ("Sindhi", "sd", "snd_Arab", "snd", False),
    ("Gujarati", "gu", "guj_Gujr", "guj", False),
    ("Amharic", "am", "amh_Ethi", "amh", False),
    ("Yiddish", "yi", "ydd_Hebr", "yid", False),
    ("Lao", "lo", "lao_Laoo", "lao", False),
    ("Uzbek", "uz", "uzn_Latn", "uzb", False),
    ("Faroese", "fo", "fao_Latn", "fao", False),
    ("Haitian Creole", "ht", "hat_Latn", "hat", False),
    ("Pashto", "ps", "pbt_Arab", "pus", False),
    ("Turkmen", "tk", "tuk_Latn", "tuk", False),
    ("Nynorsk", "nn", "nno_Latn", "nno", False),
    ("Maltese", "mt", "mlt_Latn", "mlt", False),
    ("Sanskrit", "sa", "san_Deva", "san", False),
    ("Luxembourgish", "lb", "ltz_Latn", "ltz", False),
    ("Myanmar", "my", "mya_Mymr", "mya", False),
    ("Tibetan", "bo", "bod_Tibt", "bod", False),
    ("Tagalog", "tl", "tgl_Latn", "tgl", False),
    ("Malagasy", "mg", "plt_Latn", "mlg", False),
    ("Assamese", "as", "asm_Beng", "asm", False),
    ("Tatar", "tt", "tat_Cyrl", "tat", False),
    ("Lingala", "ln", "lin_Latn", "lin", False),
    ("Hausa", "ha", "hau_Latn", "hau", False),
    ("Bashkir", "ba", "bak_Cyrl", "bak", False),
    ("Javanese", "jw", "jav_Latn", "jav", False),
    ("Sundanese", "su", "sun_Latn", "sun", False),
    ("Cantonese", "yue", "yue_Hant", "yue", False),
]
LANGUAGES = [Language(*row) for row in _ROWS]
_BY_CODE = {key: lang for lang in LANGUAGES
            for key in (lang.whisper, lang.flores, lang.iso3, lang.name.lower())}


def language(code: str) -> Language:
    """The row for a Whisper, FLORES-200 or ISO 639-3 code, or an English name
    ("fr", "fra_Latn", "fra", "French")."""
    if not isinstance(code, str):
        raise TypeError(f"a language code must be a string, got {type(code).__name__}")
    found = _BY_CODE.get(code.strip()) or _BY_CODE.get(code.strip().lower())
    if found is None:
        raise ValueError(f"unknown language {code!r}: name one of the {len(LANGUAGES)} languages in "
                         "s2st_helpers.languages.LANGUAGES by its Whisper code ('fr'), FLORES-200 code "
                         "('fra_Latn'), ISO 639-3 code ('fra') or English name ('French')")
    return found


def target(code: str) -> Language:
    """The row for a language the workbook can speak, or a ValueError that lists them."""
    try:
        lang = language(code)
    except ValueError:
        lang = None
    if lang is None or not lang.voice:
        what = f"{lang.name} has no voice here" if lang else f"unknown target {code!r}"
        raise ValueError(f"{what}: targets are " + ", ".join(str(t) for t in targets()))
    return lang


def source(whisper_code: str | None) -> Language:
    """The row for the language Whisper heard, or a ValueError naming it."""
    if whisper_code is None:
        raise ValueError("no source language: Whisper heard no speech")
    try:
        return language(whisper_code)
    except ValueError:
        raise ValueError(f"Whisper heard {whisper_code!r}, which the machine-translation table does not cover; "
                         "sources are " + ", ".join(lang.whisper for lang in LANGUAGES)) from None


def targets() -> list[Language]:
    """The languages the workbook can speak, English first."""
    return [lang for lang in LANGUAGES if lang.voice]

