"""SpeechT5's decoder loop written out, so speech can be played while it is made.

Introduced in ``06_speed``; the plain tier (``generate_speech``) is in
:mod:`s2st_helpers.synthesis`. ``generate_speech`` returns nothing until the whole
sentence is done; this loop takes the same steps in the same order and yields the
waveform block by block (in float32, the same arithmetic; the ``fast`` preset on a
CPU gives it int8 linear layers, :mod:`s2st_helpers.fast.int8`). Three changes from
the loop in transformers, all exact:

* the decoder layers' arithmetic is written out (:class:`SpeechT5DecoderSteps`): the
  library's modules cost more Python per step than the matrix products take. The
  linear layers' kernels are called directly (:class:`StepCalls`), and in int8 a
  layer's query, key and value are one product, bit for bit the three.
* the decoder prenet runs on the newest frame only (upstream reruns it on every
  frame at every step, a cost that grows with the square of the length). Its dropout
  stays on at inference, so the random masks are still drawn at full size: with the
  same seed the output is the same as ``generate_speech``'s.
* the postnet runs on blocks with 10 frames of context either side (5 convolutions
  of width 5), and HiFi-GAN keeps its state between blocks
  (:mod:`s2st_helpers.fast.hifigan_stream`), so each block comes out as it would from the
  whole spectrogram.

The first block is short, so the first audio comes early; later blocks double in
size up to ``MAX_BLOCK``. HiFi-GAN runs on each block in this thread, between decoder
steps. A second thread for it was slower on two cores: once a second thread keeps its
own OpenMP team, libgomp has more threads than cores and stops spin-waiting, so each of
the decoder's small operations waits for its workers to wake (the decoder loop took
twice as long, and stayed so after the vocoder thread went idle).

On a GPU each step is replayed as a CUDA graph (:mod:`s2st_helpers.fast.cuda_graph`),
with the same dropout masks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from .hifigan_stream import StreamingHifiGan
from .int8 import direct
from .kept import kept
from .kept import weights as current_weights

POSTNET_CONTEXT = 10  # frames each side that change a postnet output
VOCODER_LAG = 24  # frames HiFi-GAN needs beyond the last sample it can complete
FIRST_BLOCK_DEFAULT = 16  # frames (~0.26 s of audio) in the first block
FIRST_BLOCK = FIRST_BLOCK_DEFAULT  # 06's exercise changes it
MAX_BLOCK = 64  # frames handed to HiFi-GAN at a time, at most
CUDA_GRAPHS = True  # on a GPU, replay the step as a CUDA graph (cuda_graph.py); off: the eager loop
READ_STOP_EVERY = 8  # on a GPU: steps queued between reads of the stop head (each read waits
# for the GPU to catch up); on a CPU nothing runs ahead, so every step is read


def speech_blocks(model, vocoder, input_ids: torch.Tensor, speaker: torch.Tensor, *,
                  threshold: float = 0.5, minlenratio: float = 0.0, maxlenratio: float = 20.0,
                  first_block: int | None = None, read_stop_every: int | None = None) -> Iterator[torch.Tensor]:
    """Yield waveform blocks (1-D tensors) for one text; joined, they equal
    ``model.generate_speech(input_ids, speaker, ..., vocoder=vocoder)`` for the same seed.

    ``input_ids``: shape (1, tokens). ``speaker``: shape (1, 512). ``vocoder=None``
    yields spectrogram blocks instead. ``read_stop_every``: decoder steps between
    reads of the stop head (default: 1 on a CPU, ``READ_STOP_EVERY`` on a GPU, where
    reading it waits for the queued steps). Steps made past the stop are dropped and
    the random generator is put back as it was after the stop, so the speech and the
    generator's state are the same for any value.
    """
    from .speecht5_script import scripted  # it builds on this module's step

    first_block = FIRST_BLOCK if first_block is None else first_block  # read now: 06's exercise changes it
    config = model.config
    r = config.reduction_factor
    mask = 1 - (input_ids == config.pad_token_id).int()
    encoder = model.speecht5.encoder(input_values=input_ids, attention_mask=mask, return_dict=True)
    memory = encoder.last_hidden_state
    maxlen = int(memory.size(1) * maxlenratio / r)
    minlen = int(memory.size(1) * minlenratio / r)
    speaker = F.normalize(speaker).unsqueeze(1)  # as the prenet does, once
    if bool((mask == 0).any()):
        raise ValueError("speech_blocks takes one unpadded text at a time")
    stops = StopReader(memory.device, threshold, read_stop_every)
    postnet = model.speech_decoder_postnet
    graphed = _graphed(model, memory, maxlen + 1)
    try:  # from here on the graphed step is released however this ends
        steps = graphed or scripted(model, memory, maxlen + 1) or EagerStep(model, memory, maxlen + 1)
        frames: list[torch.Tensor] = []  # (r, n_mels) per step, before the postnet
        voice = StreamingHifiGan(vocoder) if vocoder is not None else None
        done, step, growth = 0, 0, first_block
        block = first_block + (VOCODER_LAG if voice else 0)  # so the first block sounds ~first_block frames
        steps.start(memory, speaker)
        while True:
            step += 1
            frames.append(steps.step(step))
            finished = step >= minlen and step >= maxlen
            if step >= minlen:
                stops.add(step, steps.stop_probability())
            ready = len(frames) * r - POSTNET_CONTEXT  # frames the postnet can finish now
            if finished or ready >= done + block or stops.due():
                stopped = stops.read()
                if stopped is not None:  # at this step or one queued before it
                    del frames[stopped:]
                    finished, ready = True, len(frames) * r - POSTNET_CONTEXT
            if finished or ready >= done + block:
                mel = torch.cat(frames)
                end = len(mel) if finished else ready
                out = _finish(postnet, voice, mel, done, end, finished)
                done, growth = end, min(2 * growth, MAX_BLOCK)
                block = growth
                if out.numel():
                    yield out
            if finished:
                return
    finally:
        if graphed is not None:
            graphed.busy.release()


class StopReader:
    """The stop head's probabilities, read from the device every ``every`` steps in
    one transfer. A GPU keeps running the queued steps meanwhile; reading at every
    step would make it wait for the CPU to launch the next one. The generator's state
    after each unread step is kept, so a stop found late puts it back. (Draws that
    another thread makes from the same generator meanwhile are put back with it: a
    seeded long recording's Whisper draws from a generator of its own.)"""

    def __init__(self, device: torch.device, threshold: float, every: int | None):
        if every is None:
            every = READ_STOP_EVERY if device.type in ("cuda", "mps") else 1
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"read_stop_every must be a whole number of steps, at least 1 (got {every!r})")
        self.device, self.threshold, self.every = device, threshold, every
        self.unread: list[tuple[int, torch.Tensor, torch.Tensor | None]] = []

    def add(self, step: int, probability: torch.Tensor) -> None:
        state = _rng_state(self.device) if self.every > 1 else None  # host-side: no wait for the GPU
        self.unread.append((step, probability, state))

    def due(self) -> bool:
        return len(self.unread) >= self.every

    def read(self) -> int | None:
        """The first unread step whose probability reaches the threshold (the
        generator put back to just after it), or None."""
        if not self.unread:
            return None
        unread, self.unread = self.unread, []
        probabilities = torch.stack([p for _, p, _ in unread]).tolist()  # the one wait
        for (step, _, state), probability in zip(unread, probabilities):
            if probability >= self.threshold:
                if step != unread[-1][0]:
                    _set_rng_state(self.device, state)
                return step
        return None


def _rng_state(device: torch.device) -> torch.Tensor:
    """The state of the generator the dropout masks on ``device`` are drawn from."""
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    return torch.mps.get_rng_state() if device.type == "mps" else torch.get_rng_state()


def _set_rng_state(device: torch.device, state: torch.Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    elif device.type == "mps":
        torch.mps.set_rng_state(state)
    else:
        torch.set_rng_state(state)


def _graphed(model, memory: torch.Tensor, capacity: int):
    """The CUDA-graph step (:mod:`s2st_helpers.fast.cuda_graph`) where it applies:
    on a GPU, unless ``CUDA_GRAPHS`` is off, the step is free and the sentence fits."""
    if not CUDA_GRAPHS or memory.device.type != "cuda":
        return None
    from .cuda_graph import graphed_step

    return graphed_step(model, memory, capacity)


class EagerStep:
    """One decoder step as the plain loop makes it: the prenet on the newest frame,
    then :class:`SpeechT5DecoderSteps`. Same interface as
    :class:`s2st_helpers.fast.cuda_graph.StaticSpeechT5Step`."""

    def __init__(self, model, memory: torch.Tensor, capacity: int):
        self.calls = step_calls(model)
        self.prenet = model.speecht5.decoder.prenet
        self.decoder = SpeechT5DecoderSteps(self.calls, memory, capacity)
        self.r, self.n_mels = model.config.reduction_factor, model.config.num_mel_bins

    def start(self, memory: torch.Tensor, speaker: torch.Tensor) -> None:
        self.speaker = speaker
        self.last = memory.new_zeros(1, 1, self.n_mels)  # upstream starts from an all-zero frame

    def step(self, step: int) -> torch.Tensor:
        """The spectrum (r, n_mels) of decoder step ``step`` (1-based)."""
        hidden = _prenet_last(self.calls, self.prenet, self.last, step, self.speaker)
        spectrum, self.stop = self.calls.spectrum_and_stop(self.decoder(hidden).view(1, -1))
        spectrum = spectrum.view(self.r, self.n_mels)
        self.last = spectrum[-1].view(1, 1, self.n_mels)
        return spectrum

    def stop_probability(self) -> torch.Tensor:
        return torch.sigmoid(self.stop).sum()


def _finish(postnet, voice, mel: torch.Tensor, start: int, end: int, final: bool) -> torch.Tensor:
    """Postnet frames [start, end) of ``mel`` (computed on a window wide enough to
    match the whole-spectrogram result), then the samples HiFi-GAN can now complete."""
    lo, hi = max(0, start - POSTNET_CONTEXT), min(len(mel), end + POSTNET_CONTEXT)
    refined = postnet.postnet(mel[None, lo:hi])[0, start - lo:end - lo]
    return refined if voice is None else voice(refined, final)


class SpeechT5DecoderSteps:
    """SpeechT5's decoder layers, one frame at a time, with the arithmetic of
    ``SpeechT5DecoderLayer`` written out. Going through the library's modules costs
    ~7 ms of Python per step on a laptop, more than the matrix products themselves;
    here the keys and values also go into buffers made once instead of growing by
    concatenation, and the layers are called through :class:`StepCalls`."""

    def __init__(self, calls: "StepCalls", memory: torch.Tensor, capacity: int):
        self.layers = calls.layers
        heads, head_dim = self.layers[0].num_heads, self.layers[0].head_dim
        shape = (len(self.layers), heads, capacity, head_dim)
        self.keys, self.values = memory.new_empty(shape), memory.new_empty(shape)
        self.cross = [[split_heads(layer, x) for x in layer.cross_key_value(memory)] for layer in self.layers]
        self.length = 0

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            hidden = decoder_layer(layer, hidden, self, i, *self.cross[i])
        self.length += 1
        return hidden

    def put(self, i: int, key: torch.Tensor, value: torch.Tensor):
        """Store layer ``i``'s key and value (heads, 1, head_dim) for this frame; the
        keys and values to attend over."""
        n = self.length
        self.keys[i, :, n:n + 1], self.values[i, :, n:n + 1] = key, value
        return self.keys[i, :, :n + 1], self.values[i, :, :n + 1]


class LayerCalls:
    """One decoder layer's operations, the linear layers through
    :func:`s2st_helpers.fast.int8.direct` (the query, key and value as one product in
    int8)."""

    def __init__(self, layer):
        attn, cross, ff = layer.self_attn, layer.encoder_attn, layer.feed_forward
        self.num_heads, self.head_dim, self.scaling = attn.num_heads, attn.head_dim, attn.scaling
        self.qkv, self.out = direct(attn.q_proj, attn.k_proj, attn.v_proj), direct(attn.out_proj)
        self.cross_query, self.cross_out = direct(cross.q_proj), direct(cross.out_proj)
        self.cross_key_value = direct(cross.k_proj, cross.v_proj)
        self.norms = [_norm(n) for n in (layer.self_attn_layer_norm, layer.encoder_attn_layer_norm,
                                         layer.final_layer_norm)]
        self.up, self.down = direct(ff.intermediate_dense), direct(ff.output_dense)
        self.act = getattr(ff.intermediate_act_fn, "act", ff.intermediate_act_fn)  # GELUActivation's function


class StepCalls:
    """A SpeechT5 model's decoder step as direct calls, made once per model and its
    weights (:func:`step_calls`)."""

    def __init__(self, model, int8_weights=()):
        self.int8_weights = list(int8_weights)  # held, so the ids in step_calls' key stay theirs
        prenet, postnet = model.speecht5.decoder.prenet, model.speech_decoder_postnet
        self.layers = [LayerCalls(layer) for layer in model.speecht5.decoder.wrapped_decoder.layers]
        self.prenet = [direct(layer) for layer in prenet.layers]
        self.prenet_final, self.speaker = direct(prenet.final_layer), direct(prenet.speaker_embeds_layer)
        self.spectrum_and_stop = direct(postnet.feat_out, postnet.prob_out)


def step_calls(model) -> StepCalls:
    """The model's :class:`StepCalls`, made again when its layers or weights change
    (int8 layers have no parameters: their packed weights, which ``load_state_dict``
    replaces, are followed by identity)."""
    int8 = [m._packed_params._packed_params for m in model.modules()
            if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    key = (tuple(id(m) for m in model.modules()), current_weights(model), tuple(id(w) for w in int8))
    return kept(model, "step_calls", key, lambda: StepCalls(model, int8))


def _norm(norm: torch.nn.LayerNorm):
    return functools.partial(F.layer_norm, normalized_shape=norm.normalized_shape, weight=norm.weight,
                             bias=norm.bias, eps=norm.eps)


def split_heads(layer, x: torch.Tensor) -> torch.Tensor:
    """(1, T, H*D) -> (H, T, D), for ``layer``'s heads (anything with ``num_heads``
    and ``head_dim``)."""
    return x.view(-1, layer.num_heads, layer.head_dim).transpose(0, 1)


def decoder_layer(layer: LayerCalls, hidden: torch.Tensor, cache, i: int, cross_keys, cross_values,
                  self_bias=None, cross_bias=None) -> torch.Tensor:
    """``SpeechT5DecoderLayer`` on one frame. ``cache.put(i, key, value)`` stores the
    frame's key and value and returns the keys and values to attend over. The biases
    (added before the softmax) mask cache slots not in use; the eager loop slices its
    caches instead and passes none."""
    query, key, value = layer.qkv(hidden)
    keys, values = cache.put(i, split_heads(layer, key), split_heads(layer, value))
    hidden = layer.norms[0](hidden + _attend(layer, layer.out, query, keys, values, self_bias))
    out = _attend(layer, layer.cross_out, layer.cross_query(hidden), cross_keys, cross_values, cross_bias)
    hidden = layer.norms[1](hidden + out)
    return layer.norms[2](hidden + layer.down(layer.act(layer.up(hidden))))


def _attend(layer: LayerCalls, out_proj, query: torch.Tensor, keys, values, bias=None) -> torch.Tensor:
    heads = split_heads(layer, query * layer.scaling)
    scores = torch.bmm(heads, keys.transpose(1, 2))
    weights = (scores if bias is None else scores + bias).softmax(dim=-1)
    return out_proj(torch.bmm(weights, values).transpose(0, 1).reshape(query.shape))


def _prenet_last(calls: StepCalls, prenet, last: torch.Tensor, step: int, speaker: torch.Tensor) -> torch.Tensor:
    """The decoder prenet's output for the newest frame only. Upstream draws each
    dropout mask for all ``step`` frames and uses the last row; drawing the same
    shape keeps the random stream, and so the output, the same."""
    return prenet_frame(calls, prenet, last, prenet_keeps(prenet, step, last),
                        prenet.encode_positions.pe[:, step - 1:step], speaker)


def prenet_keeps(prenet, step: int, like: torch.Tensor) -> list[torch.Tensor]:
    """The prenet's dropout masks for step ``step``, one per layer (:func:`dropout_keep`)."""
    p = prenet.config.speech_decoder_prenet_dropout
    return [dropout_keep(step, layer.out_features, p, like) for layer in prenet.layers]


def prenet_frame(calls: StepCalls, prenet, last: torch.Tensor, keeps, position: torch.Tensor,
                 speaker: torch.Tensor) -> torch.Tensor:
    """The decoder prenet on one frame: ``keeps``, each layer's dropout mask (see
    :func:`dropout_keep`); ``position``, the frame's row of the positional encoding;
    ``speaker``, the normalised x-vector (1, 1, 512)."""
    p = prenet.config.speech_decoder_prenet_dropout
    hidden = last
    for layer, keep in zip(calls.prenet, keeps):
        hidden = torch.where(keep, F.relu(layer(hidden)), 0) * 1 / (1 - p)
    hidden = calls.prenet_final(hidden)
    positions = prenet.encode_positions
    hidden = positions.dropout(hidden + positions.alpha * position)
    return F.relu(calls.speaker(torch.cat([hidden, speaker], dim=-1)))


def dropout_keep(step: int, width: int, p: float, like: torch.Tensor) -> torch.Tensor:
    """Which of ``width`` units the prenet's dropout (probability ``p``) keeps for the
    newest of ``step`` frames: the last row of the mask upstream draws for all of them
    (bool, shape (width,), on ``like``'s device)."""
    if draws_uniform(like.device):
        return torch.rand(step, width, dtype=torch.float64)[-1] < p
    return torch.bernoulli(like.new_empty(step, width), p=p)[-1] == 1


def draws_uniform(device: torch.device) -> bool:
    """Whether :func:`dropout_keep` draws as ``rand < p`` on ``device`` (a CPU where
    that is ``bernoulli_``'s own draw), rather than with ``bernoulli``."""
    return device.type == "cpu" and _bernoulli_is_uniform()


@functools.cache
def _bernoulli_is_uniform() -> bool:
    """Whether this CPU's ``bernoulli_(p)`` is ``rand(dtype=float64) < p``: the same
    draws and the same generator state after, three times faster. It is where
    PyTorch's portable kernel runs; on Intel CPUs PyTorch takes MKL's generator
    instead, which this probe tells apart. The generator is left as it was."""
    state = torch.get_rng_state()
    try:
        drawn = torch.empty(40, 256).bernoulli_(0.5)
        after = torch.get_rng_state()
        torch.set_rng_state(state)
        same = torch.equal(drawn == 1, torch.rand(40, 256, dtype=torch.float64) < 0.5)
        return same and torch.equal(after, torch.get_rng_state())
    finally:
        torch.set_rng_state(state)
