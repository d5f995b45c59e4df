"""The speed layer: the same models, the same results, less time.

Introduced in ``06_speed``. ``preset="fast"`` (or ``S2ST_PRESET=fast``, the default)
sends :func:`~s2st_helpers.translate` and :func:`~s2st_helpers.synthesise` through
here; ``preset="exact"`` runs the plain tier (:mod:`s2st_helpers.translation`,
:mod:`s2st_helpers.synthesis`), which reads like the notebooks. The tests hold the
two equal: the same text token for token, and speech equal to ``generate_speech``'s
(float32) or at least 25 dB SNR from it (int8, bfloat16 HiFi-GAN). ``preset="fastest"``
adds the one lever that changes the text: Whisper's encoder in bfloat16.

* :mod:`.whisper_steps`: Whisper's encoder once per clip (or per 30 s window of a long
  recording); its beam search (the beams as one batch) and greedy loop written out,
  with the timestamp rules the windows are decoded with.
* :mod:`.speecht5_steps`: SpeechT5's decoder loop written out, yielding audio in blocks.
* :mod:`.speecht5_script`: on a CPU, that loop's int8 step as one TorchScript function,
  the same operations without Python between them.
* :mod:`.whisper_script`: on a CPU, Whisper's beam step as one TorchScript function
  likewise (both compiled through :mod:`.torchscript`).
* :mod:`.half_weights`: on a CPU, Whisper's decoder weights read in float16, where
  they are float16 values (OpenAI's are): the same numbers in half the bytes.
* :mod:`.hifigan_stream`: HiFi-GAN fed block by block, keeping its state, its
  convolutions' weights laid out once for oneDNN.
* :mod:`.int8`: SpeechT5's linear layers in int8 on a CPU, and their kernels called
  directly (a layer's query, key and value as one product).
* :mod:`.bf16`: bfloat16 where the processor computes it natively: HiFi-GAN's
  convolutions, and under ``fastest`` Whisper's encoder.
* :mod:`.kept`: what those keep on a model between calls, left out of its copies.
* :mod:`.cuda_graph`: on a GPU, SpeechT5's step and Whisper's beam step on fixed-shape
  buffers, each recorded once as a CUDA graph and replayed.
"""
