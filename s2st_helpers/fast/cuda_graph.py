"""The decoder steps of SpeechT5 and of Whisper's beam search on buffers of fixed
shape, replayed as CUDA graphs.

Introduced in ``06_speed``. On a GPU one decoder step is ~150-200 small kernels, and
launching them from Python takes longer than running them: the loops are bound by
launches, not arithmetic. A CUDA graph records a step's kernels once and replays them
with one launch. A graph replays fixed shapes at fixed addresses, so here:

* the self-attention cache holds every position the model allows, and the positions
  not made yet are masked (they add exactly zero to the softmax);
* the encoder's keys and values sit in fixed buffers (SpeechT5's as long as the
  longest text, masked past the text);
* the step number lives in a tensor on the GPU, and the step advances it itself;
* Whisper's beams are reordered inside the graph, from a tensor of parents.

SpeechT5's prenet dropout masks are drawn outside the graph, at the same size and from
the same generator as :func:`s2st_helpers.fast.speecht5_steps.speech_blocks` draws them,
so a seed gives the same masks as ``generate_speech``. They are drawn into fixed
buffers that the graph reads at the step's row, and each step's spectrum and stop
probability stay in buffers of their own: a step costs the CPU three launches. Each
graph is recorded on first use, once per model (and number of beams), and again if the
model's weights move (``model.half()``, say).
On a CPU the same steps run eagerly: the tests check them there against the loops
they replace.
"""

from __future__ import annotations

import threading
import warnings

import torch

from .speecht5_steps import decoder_layer, draws_uniform, dropout_keep, prenet_frame, split_heads, step_calls
from .kept import Kept
from .kept import weights as current_weights
from .whisper_steps import _linear

_graphs_lock = threading.Lock()
_record_lock = threading.Lock()  # one recording at a time in the process
_FAILED = "recording failed"


class StaticSpeechT5Step:
    """One SpeechT5 decoder step (prenet, decoder layers, spectrum and stop
    probability) whose inputs and outputs are tensors of fixed shape: ``start`` loads
    a sentence, ``step`` makes the next ``reduction_factor`` frames."""

    @torch.inference_mode()
    def __init__(self, model):
        config = model.config
        decoder = model.speecht5.decoder
        self.prenet, self.calls = decoder.prenet, step_calls(model)
        self.postnet = model.speech_decoder_postnet
        attn = decoder.wrapped_decoder.layers[0].self_attn
        self.heads, self.head_dim = attn.num_heads, attn.head_dim
        self.r, self.n_mels, self.p = config.reduction_factor, config.num_mel_bins, config.speech_decoder_prenet_dropout
        self.capacity, self.text_capacity = config.max_speech_positions, config.max_text_positions
        weight = self.postnet.feat_out.weight
        zeros = dict(device=weight.device, dtype=weight.dtype)
        n = len(self.calls.layers)
        self.keys = torch.zeros(n, self.heads, self.capacity, self.head_dim, **zeros)
        self.values = torch.zeros_like(self.keys)
        self.cross_keys = torch.zeros(n, self.heads, self.text_capacity, self.head_dim, **zeros)
        self.cross_values = torch.zeros_like(self.cross_keys)
        self.cross_bias = torch.zeros(self.text_capacity, **zeros)
        self.slots = torch.arange(self.capacity, device=weight.device)
        self.position = torch.zeros(1, dtype=torch.long, device=weight.device)  # frames made so far
        self.last = torch.zeros(1, 1, self.n_mels, **zeros)
        self.speaker = torch.zeros(1, 1, config.speaker_embedding_dim, **zeros)
        # row k: the dropout draws of step k + 1 (1: keep), per prenet layer
        self.draws = [torch.zeros(self.capacity, layer.out_features, **zeros) for layer in self.prenet.layers]
        self.spectra = torch.zeros(self.capacity, self.r, self.n_mels, **zeros)  # row k: step k + 1's
        self.stops = torch.zeros(self.capacity, **zeros)
        self.made = 0  # steps made in this sentence
        self.graph = None
        self.busy = threading.Lock()

    def fits(self, memory: torch.Tensor, steps: int) -> bool:
        return memory.size(1) <= self.text_capacity and steps <= self.capacity

    @torch.inference_mode()
    def start(self, memory: torch.Tensor, speaker: torch.Tensor) -> None:
        """Begin a sentence: ``memory`` is the encoder's output (1, T, dim), ``speaker``
        the normalised x-vector (1, 1, 512)."""
        length = memory.size(1)
        for i, layer in enumerate(self.calls.layers):
            keys, values = layer.cross_key_value(memory)
            self.cross_keys[i, :, :length] = split_heads(layer, keys)
            self.cross_values[i, :, :length] = split_heads(layer, values)
        self.cross_bias.fill_(-float("inf"))
        self.cross_bias[:length] = 0
        self.speaker.copy_(speaker)
        self.last.zero_()  # upstream starts from an all-zero frame
        self.position.zero_()
        self.made = 0

    @torch.inference_mode()
    def step(self, step: int) -> torch.Tensor:
        """The spectrum (r, n_mels) of decoder step ``step`` (1-based), a view that
        stays valid until the next ``start``."""
        self.made = step
        for draws, layer in zip(self.draws, self.prenet.layers):
            if draws_uniform(draws.device):  # a CPU's shortcut (the tests run this step eagerly there)
                draws[step - 1].copy_(dropout_keep(step, layer.out_features, self.p, self.last))
            else:  # the loop's bernoulli, in place: the same size, so the same draws
                draws[:step].bernoulli_(self.p)
        _run(self)
        return self.spectra[step - 1]

    def stop_probability(self) -> torch.Tensor:
        """The stop probability of the last step, summed over its frames (0-d, a view)."""
        return self.stops[self.made - 1]

    @torch.inference_mode()
    def record(self) -> None:
        _record(self)

    def _compute(self) -> None:
        """The step itself, in the eager loop's arithmetic (the same functions), with
        only fixed-shape operations on this object's buffers."""
        position = self.prenet.encode_positions.pe[0].index_select(0, self.position)
        keeps = [draws.index_select(0, self.position) == 1 for draws in self.draws]
        hidden = prenet_frame(self.calls, self.prenet, self.last, keeps, position, self.speaker)
        self_bias = torch.where(self.slots <= self.position, 0.0, -float("inf")).to(hidden.dtype)
        for i, layer in enumerate(self.calls.layers):
            hidden = decoder_layer(layer, hidden, self, i, self.cross_keys[i], self.cross_values[i],
                                   self_bias, self.cross_bias)
        spectrum, stop = self.calls.spectrum_and_stop(hidden.view(1, -1))
        spectrum = spectrum.view(self.r, self.n_mels)
        self.spectra.index_copy_(0, self.position, spectrum[None])
        self.stops.index_copy_(0, self.position, torch.sigmoid(stop).sum().view(1))
        self.last.copy_(spectrum[-1].view(1, 1, self.n_mels))
        self.position.add_(1)

    def put(self, i: int, key: torch.Tensor, value: torch.Tensor):
        """Store layer ``i``'s key and value at the current position; the whole
        buffers, to attend over with the mask."""
        self.keys[i].index_copy_(1, self.position, key)
        self.values[i].index_copy_(1, self.position, value)
        return self.keys[i], self.values[i]


class StaticWhisperBeams:
    """Whisper's decoder for ``num_beams`` beams, one step at a time, on fixed
    buffers: the interface of :class:`s2st_helpers.fast.whisper_steps.WhisperBeamSteps`
    (``reorder``, then ``step``), with ``start`` loading a window's state."""

    @torch.inference_mode()
    def __init__(self, model, num_beams: int):
        decoder = model.model.decoder
        self.model, self.decoder, self.layers = model, decoder, list(decoder.layers)
        attn = self.layers[0].self_attn
        self.heads, self.head_dim, self.beams = attn.num_heads, attn.head_dim, num_beams
        config = model.config
        weight = decoder.embed_tokens.weight
        zeros = dict(device=weight.device, dtype=weight.dtype)
        n = len(self.layers)
        self.keys = torch.zeros(n, num_beams, self.heads, config.max_target_positions, self.head_dim, **zeros)
        self.values = torch.zeros_like(self.keys)
        self.cross_keys = torch.zeros(n, 1, self.heads, config.max_source_positions, self.head_dim, **zeros)
        self.cross_values = torch.zeros_like(self.cross_keys)
        self.slots = torch.arange(config.max_target_positions, device=weight.device)
        self.position = torch.zeros(1, dtype=torch.long, device=weight.device)
        self.tokens = torch.zeros(num_beams, dtype=torch.long, device=weight.device)
        self.parents = torch.arange(num_beams, device=weight.device)
        self.logits = torch.zeros(num_beams, config.vocab_size, device=weight.device)
        self.graph = None
        self.busy = threading.Lock()

    def fits(self, steps, max_new_tokens: int) -> bool:
        """Whether this window's encoder output and the search's length fit the buffers
        (past them the eager step raises where a graph would write out of bounds)."""
        return (steps.cross[0][0].shape == self.cross_keys[0].shape
                and len(steps.tokens) + max_new_tokens <= self.keys.shape[3])

    @torch.inference_mode()
    def start(self, steps) -> None:
        """Continue from ``steps`` (a WhisperDecoderSteps after the prompt): every beam
        holds the prompt's cache."""
        n = len(steps.tokens)
        for i, (keys, values) in enumerate(steps.cross):
            self.cross_keys[i].copy_(keys)
            self.cross_values[i].copy_(values)
        self.keys[:, :, :, :n] = steps.keys[:, :, :, :n]
        self.values[:, :, :, :n] = steps.values[:, :, :, :n]
        self.position.fill_(n)
        self.parents.copy_(self.slots[:self.beams])

    @torch.inference_mode()
    def reorder(self, parents: torch.Tensor) -> None:
        """Beam b continues beam ``parents[b]`` (applied at the next step)."""
        self.parents.copy_(parents)

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per beam; returns the next-token logits (B, vocab), a copy."""
        self.tokens.copy_(tokens)
        _run(self)
        return self.logits.clone()

    @torch.inference_mode()
    def record(self) -> None:
        _record(self)

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, H*D) -> (B, H, T, D)
        return x.view(x.shape[0], -1, self.heads, self.head_dim).transpose(1, 2)

    def _attend(self, attn, hidden, keys, values, bias=None) -> torch.Tensor:
        # products and softmax, not SDPA: with a mask over 448 positions SDPA's kernel made
        # the step take 1.49 ms of an H200 against 1.33 ms, for the same logits
        query = self._split(_linear(attn.q_proj, hidden) * attn.scaling)
        scores = torch.matmul(query, keys.transpose(-1, -2))
        weights = (scores if bias is None else scores + bias).softmax(dim=-1)
        return _linear(attn.out_proj, torch.matmul(weights, values).transpose(1, 2).reshape(hidden.shape))

    def _compute(self) -> None:
        """The step: reorder the caches, then the decoder's arithmetic as
        WhisperBeamSteps.step does it, over the masked full-length cache."""
        self.keys.copy_(self.keys.index_select(1, self.parents))
        self.values.copy_(self.values.index_select(1, self.parents))
        self.parents.copy_(self.slots[:self.beams])  # done: a step without a reorder keeps the beams
        decoder, beams = self.decoder, self.beams
        hidden = decoder.embed_tokens(self.tokens[:, None]) + decoder.embed_positions.weight.index_select(
            0, self.position)
        bias = torch.where(self.slots <= self.position, 0.0, -float("inf")).to(hidden.dtype).view(1, -1)
        for i, layer in enumerate(self.layers):
            attn, normed = layer.self_attn, layer.self_attn_layer_norm(hidden)
            self.keys[i].index_copy_(2, self.position, _linear(attn.k_proj, normed).view(beams, self.heads, 1, -1))
            self.values[i].index_copy_(2, self.position, _linear(attn.v_proj, normed).view(beams, self.heads, 1, -1))
            hidden = hidden + self._attend(attn, normed, self.keys[i], self.values[i], bias)
            normed = layer.encoder_attn_layer_norm(hidden).transpose(0, 1)  # the beams: one sequence of queries
            hidden = hidden + self._attend(layer.encoder_attn, normed, self.cross_keys[i],
                                           self.cross_values[i]).transpose(0, 1)
            ff = _linear(layer.fc1, layer.final_layer_norm(hidden))
            hidden = hidden + layer.fc2(layer.activation_fn(ff))
        self.logits.copy_(_linear(self.model.proj_out, decoder.layer_norm(hidden)[:, -1]))
        self.position.add_(1)


def _record(static) -> None:
    """Record ``static._compute`` as a CUDA graph on the buffers' device, after a
    warm-up on a side stream (as PyTorch's documentation asks); the next ``start``
    resets what the warm-up changed. Other threads may use the GPU meanwhile (the
    long-recording translator, the demo's workers): only this thread's calls must be
    safe to record."""
    device = static.keys.device
    with _record_lock, torch.cuda.device(device):
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(2):
                static._compute()
        torch.cuda.current_stream(device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            static._compute()
    static.graph = graph


def _run(static) -> None:
    """One step: the recorded graph where there is one, else the same code eagerly."""
    if static.graph is None:
        static._compute()
        return
    with torch.cuda.device(static.keys.device):
        static.graph.replay()


def recorded(model) -> list[str]:
    """The steps recorded as CUDA graphs for ``model`` so far (06 prints them)."""
    graphs = model.__dict__.get("_s2st_cuda_graphs", {})
    return sorted(f"{name}" + (f" ({key} beams)" if key else "") for (name, key), static in graphs.items()
                  if static is not _FAILED and static.graph is not None)


def graphed_step(model, memory: torch.Tensor, steps: int) -> StaticSpeechT5Step | None:
    """SpeechT5's recorded step for this model, for a sentence with encoder output
    ``memory`` and at most ``steps`` decoder steps (see :func:`_graphed`)."""
    return _graphed(model, StaticSpeechT5Step, (model,), fits=lambda static: static.fits(memory, steps))


def graphed_beams(steps, num_beams: int, max_new_tokens: int) -> StaticWhisperBeams | None:
    """Whisper's recorded beam step for ``steps``' model and this number of beams,
    for a search of at most ``max_new_tokens`` from ``steps`` (a WhisperDecoderSteps)."""
    return _graphed(steps.model, StaticWhisperBeams, (steps.model, num_beams), key=num_beams,
                    fits=lambda static: static.fits(steps, max_new_tokens))


def _graphed(model, make, args: tuple, fits, key=None):
    """The recorded step of this kind for ``model``, made on first use; None where the
    work does not ``fits`` its buffers, while another thread is using it, or where
    recording failed (the caller then runs the eager loop; a failure is reported
    once). Release it with ``.busy.release()``."""
    key = (make.__name__, key)
    with _graphs_lock:
        # kept on the model itself, so they go when it goes (a cycle the collector frees);
        # a copy or a pickle of the model starts without them (they hold the original's buffers)
        mine = model.__dict__.setdefault("_s2st_cuda_graphs", Kept())
        static = mine.get(key)
        if static is _FAILED:
            return None
        weights = current_weights(model)
        if static is None or (static.weights != weights and not static.busy.locked()):
            # a graph reads the weights where they were when it was recorded: after
            # model.half() or a reload into new tensors, record again
            static = mine[key] = make(*args)
            static.weights = weights
    if not static.busy.acquire(blocking=False):
        return None
    if not fits(static):  # checked before recording: nothing is recorded that would not be used
        static.busy.release()
        return None
    if static.graph is None:
        try:
            static.record()
        except RuntimeError as err:  # a GPU or driver that cannot capture: the eager loop still runs
            warnings.warn(f"{make.__name__}'s CUDA graph could not be recorded ({err}); running the eager loop")
            mine[key] = _FAILED
            static.busy.release()
            return None
        except BaseException:  # interrupted: free it, and record on the next call
            static.busy.release()
            raise
    return static

