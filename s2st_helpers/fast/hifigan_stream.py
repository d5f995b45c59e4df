"""HiFi-GAN fed a block of spectrogram at a time, keeping its state in between.

Introduced in ``06_speed``. Every convolution in HiFi-GAN is "same"-padded, so output
sample t depends on inputs t-p .. t+p only. Here each layer keeps the inputs it will
still need, computes just the outputs whose inputs have all arrived (or, once the
input has ended, that fall in the zero padding), and passes them on. Nothing is
computed twice, and the joined outputs equal ``vocoder(whole spectrogram)`` within
float32's rounding (in bfloat16, within its rounding). On a CPU the stream's
convolutions go through oneDNN with their weights laid out once (:func:`conv1d`).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .kept import kept


POST_SLOPE = 0.01  # upstream's leaky ReLU before conv_post takes the default slope


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _join(kept: torch.Tensor | None, x: torch.Tensor, slope: float | None) -> torch.Tensor:
    """``kept`` followed by ``x``, or by leaky ReLU(``x``) with ``slope``: the ReLU
    writes its output right after the kept rows, so the block is not copied again to
    join it on (joining by ``torch.cat`` took ~0.06 s of 300 frames' 0.7 s)."""
    if slope is None:
        return x if kept is None else torch.cat([kept, x])
    if kept is None or not len(kept):
        return F.leaky_relu(x, slope)
    joined = x.new_empty(len(kept) + len(x), x.shape[1])
    joined[:len(kept)] = kept
    torch._C._nn.leaky_relu(x, slope, out=joined[len(kept):])
    return joined


class _Conv:
    """A stride-1, same-padded ``nn.Conv1d`` over a stream. Signals here are
    (time, channels): a block is joined on, and cut from, whole rows, and a oneDNN
    convolution (:func:`conv1d`) reads and writes this layout
    without copies."""

    def __init__(self, conv: torch.nn.Conv1d):
        self.conv, self.pad, self.dilation = conv, conv.padding[0], conv.dilation[0]
        if conv.stride[0] != 1 or 2 * self.pad != self.dilation * (conv.kernel_size[0] - 1):
            raise ValueError("only stride-1, same-padded convolutions stream here")
        self.run = conv1d(conv)  # the convolution without padding, (time, channels) in and out
        self.buffer, self.start, self.done = None, 0, 0  # inputs kept from index start; outputs made

    def __call__(self, x: torch.Tensor, final: bool, slope: float | None = None) -> torch.Tensor:
        """The outputs now complete, for input ``x`` (through a leaky ReLU first, if
        ``slope`` is given)."""
        buffer = _join(self.buffer, x, slope)
        available = self.start + len(buffer)
        end = available if final else available - self.pad
        if end <= self.done:
            self.buffer = buffer
            return buffer.new_zeros(0, self.conv.out_channels)
        lo, hi = self.done - self.pad, end + self.pad
        piece = buffer[max(lo, self.start) - self.start:min(hi, available) - self.start]
        before, after = max(0, self.start - lo), max(0, hi - available)
        if before or after:  # the signal's own zeros, at its ends (F.pad copies even when it adds none)
            piece = F.pad(piece, (0, 0, before, after))
        out = self.run(piece)
        keep = max(self.start, end - self.pad)
        self.buffer, self.start, self.done = buffer[keep - self.start:], keep, end
        return out


class _ConvTranspose:
    """An upsampling ``nn.ConvTranspose1d`` (kernel - stride = 2 * padding) over a stream."""

    def __init__(self, conv: torch.nn.ConvTranspose1d):
        self.conv = conv
        self.k, self.s, self.p = conv.kernel_size[0], conv.stride[0], conv.padding[0]
        if self.k - self.s != 2 * self.p or conv.output_padding[0] or conv.dilation[0] != 1:
            raise ValueError("only kernel - stride = 2 * padding upsamplers stream here")
        self.buffer, self.start, self.done = None, 0, 0

    def __call__(self, x: torch.Tensor, final: bool, slope: float | None = None) -> torch.Tensor:
        buffer = _join(self.buffer, x, slope)
        available = self.start + len(buffer)
        # output t uses inputs ceil((t+p-k+1)/s) .. floor((t+p)/s)
        end = self.s * available if final else self.s * available - self.p
        if end <= self.done:
            self.buffer = buffer
            return buffer.new_zeros(0, self.conv.out_channels)
        first = max(0, _ceil_div(self.done + self.p - self.k + 1, self.s))
        last = min(available - 1, (end - 1 + self.p) // self.s)
        raw = F.conv_transpose1d(buffer[first - self.start:last + 1 - self.start].T[None], self.conv.weight,
                                 self.conv.bias, stride=self.s)[0].T
        offset = self.done - first * self.s + self.p
        out = raw[offset:offset + end - self.done].contiguous()
        keep = max(self.start, _ceil_div(end + self.p - self.k + 1, self.s))
        self.buffer, self.start, self.done = buffer[keep - self.start:], keep, end
        return out


class _ResBlock:
    """``HifiGanResidualBlock``: (leaky ReLU, dilated conv, leaky ReLU, conv) + input,
    three times; each input waits in ``pending`` until its branch's output arrives."""

    def __init__(self, block):
        self.slope = block.leaky_relu_slope
        self.units = [(_Conv(c1), _Conv(c2)) for c1, c2 in zip(block.convs1, block.convs2)]
        self.pending = [None] * len(self.units)

    def __call__(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        for i, (conv1, conv2) in enumerate(self.units):
            pending = x if self.pending[i] is None else torch.cat([self.pending[i], x])
            out = conv2(conv1(x, final, self.slope), final, self.slope)
            n = len(out)
            x, self.pending[i] = out + pending[:n], pending[n:]
        return x


class StreamingHifiGan:
    """Call with consecutive spectrogram blocks, shape (frames, mel bins), and
    ``final=True`` with the last one (it may be empty); each call returns the waveform
    samples that are now complete, as a 1-D tensor."""

    def __init__(self, vocoder):
        self.vocoder = vocoder
        self.pre, self.post = _Conv(vocoder.conv_pre), _Conv(vocoder.conv_post)
        self.upsamplers = [_ConvTranspose(u) for u in vocoder.upsampler]
        k = vocoder.num_kernels
        self.stages = [[_ResBlock(vocoder.resblocks[i * k + j]) for j in range(k)]
                       for i in range(vocoder.num_upsamples)]
        self.pending = [[None] * k for _ in self.stages]
        self.finished = False

    def __call__(self, spectrogram: torch.Tensor, final: bool = False) -> torch.Tensor:
        if self.finished:
            raise RuntimeError("this stream has ended: make a new StreamingHifiGan")
        self.finished = final
        v = self.vocoder
        if v.config.normalize_before:
            spectrogram = (spectrogram - v.mean) / v.scale
        dtype = v.conv_pre.weight.dtype  # bfloat16 where fast.bf16 stored it so
        hidden = self.pre(spectrogram.to(dtype), final)  # (time, channels) throughout
        for upsample, blocks, pending in zip(self.upsamplers, self.stages, self.pending):
            hidden = upsample(hidden, final, v.config.leaky_relu_slope)
            branches = []
            for j, block in enumerate(blocks):
                out = block(hidden, final)
                branches.append(out if pending[j] is None else torch.cat([pending[j], out]))
            n = min(len(b) for b in branches)
            total = branches[0][:n]
            for b in branches[1:]:  # summed in upstream's order, then divided
                total = total + b[:n]
            for j, b in enumerate(branches):
                pending[j] = b[n:]
            hidden = total / len(blocks)
        hidden = torch.tanh(self.post(hidden, final, POST_SLOPE).float())
        return hidden.reshape(-1)


def conv1d(conv: torch.nn.Conv1d):
    """``conv`` (stride 1, no padding of its own) as a function of a (time, channels)
    input, returning (time, channels). On a CPU, in float32 or bfloat16, the weight is
    laid out once in oneDNN's blocked order and the input is read as channels-last,
    without a copy. ``F.conv1d`` lays the weight out again at every call (~0.1 ms for
    256 channels whatever the input's length, most of a small block's cost), and
    copies a (time, channels) input to (channels, time) and back: in float32 on two
    AVX2 cores that made the stream 1.25-1.45 s for 300 frames, against 0.86-0.88 s
    here (``benchmarks/README.md``). The results differ from ``F.conv1d``'s by
    rounding only. Elsewhere, or where PyTorch lacks the oneDNN operators, it is
    ``F.conv1d``. Made once per convolution and weight (kept on the module): a weight
    replaced is seen, a weight overwritten in place is not (its laid-out copy stays as
    it was)."""
    key = (conv.weight.data_ptr(), conv.weight.dtype, conv.weight.device)
    return kept(conv, "conv1d", key, lambda: _conv1d(conv))


def _conv1d(conv: torch.nn.Conv1d):
    dilation, weight, bias = conv.dilation[0], conv.weight, conv.bias

    def plain(x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x.T[None], weight, bias, dilation=dilation, groups=conv.groups)[0].T

    if (weight.dtype not in (torch.float32, torch.bfloat16) or weight.device.type != "cpu" or conv.groups != 1
            or not _onednn(weight.dtype)):
        return plain
    try:
        packed = torch._C._nn.mkldnn_reorder_conv2d_weight(weight.detach().unsqueeze(2).to_mkldnn(), [0, 0],
                                                           [1, 1], [1, dilation], 1, [])
    except RuntimeError:
        return plain
    dilations = [1, dilation]

    def call(x: torch.Tensor) -> torch.Tensor:
        # (time, channels) is oneDNN's channels-last: in and out without a copy
        out = torch.ops.mkldnn._convolution_pointwise(x.T[None, :, None], packed, bias, [0, 0], [1, 1],
                                                      dilations, 1, "none", [], "")
        return out[0, :, 0].T
    return call


@functools.cache
def _onednn(dtype: torch.dtype) -> bool:
    """Whether this PyTorch has the oneDNN operators :func:`conv1d` uses, and they
    give F.conv1d's result on a small case in ``dtype``."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:  # its own generator: the global one draws the speech's dropout masks
        draw = torch.Generator().manual_seed(0)
        weight, bias, x = (torch.randn(*shape, generator=draw).to(dtype) for shape in ((4, 4, 3), (4,), (1, 4, 16)))
        packed = torch._C._nn.mkldnn_reorder_conv2d_weight(weight.unsqueeze(2).to_mkldnn(), [0, 0], [1, 1],
                                                           [1, 2], 1, [])
        out = torch.ops.mkldnn._convolution_pointwise(x.unsqueeze(2), packed, bias, [0, 0], [1, 1], [1, 2], 1,
                                                      "none", [], "").squeeze(2)
        want = F.conv1d(x, weight, bias, dilation=2)
        tolerance = 0.05 if dtype == torch.bfloat16 else 1e-5
        return out.shape == want.shape and bool(torch.allclose(out.float(), want.float(), rtol=tolerance,
                                                               atol=tolerance))
    except (AttributeError, RuntimeError):
        return False
