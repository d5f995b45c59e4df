"""HiFi-GAN fed a block of spectrogram at a time, keeping its state in between.

Introduced in ``06_speed``. Every convolution in HiFi-GAN is "same"-padded, so output
sample t depends on inputs t-p .. t+p only. Here each layer keeps the inputs it will
still need, computes just the outputs whose inputs have all arrived (or, once the
input has ended, that fall in the zero padding), and passes them on. Nothing is
computed twice, and the joined outputs equal ``vocoder(whole spectrogram)`` in float32
(in bfloat16, within its rounding: the stream's convolutions go through oneDNN with
their weights laid out once, :func:`s2st_helpers.fast.bf16.conv1d`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .bf16 import conv1d


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class _Conv:
    """A stride-1, same-padded ``nn.Conv1d`` over a stream. Signals here are
    (time, channels): a block is joined on, and cut from, whole rows, and a oneDNN
    convolution (:func:`s2st_helpers.fast.bf16.conv1d`) reads and writes this layout
    without copies."""

    def __init__(self, conv: torch.nn.Conv1d):
        self.conv, self.pad, self.dilation = conv, conv.padding[0], conv.dilation[0]
        if conv.stride[0] != 1 or 2 * self.pad != self.dilation * (conv.kernel_size[0] - 1):
            raise ValueError("only stride-1, same-padded convolutions stream here")
        self.run = conv1d(conv)  # the convolution without padding, (time, channels) in and out
        self.buffer, self.start, self.done = None, 0, 0  # inputs kept from index start; outputs made

    def __call__(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        buffer = x if self.buffer is None else torch.cat([self.buffer, x])
        available = self.start + len(buffer)
        end = available if final else available - self.pad
        if end <= self.done:
            self.buffer = buffer
            return buffer.new_zeros(0, self.conv.out_channels)
        lo, hi = self.done - self.pad, end + self.pad
        piece = buffer[max(lo, self.start) - self.start:min(hi, available) - self.start]
        piece = F.pad(piece, (0, 0, max(0, self.start - lo), max(0, hi - available)))  # the signal's own zeros
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

    def __call__(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        buffer = x if self.buffer is None else torch.cat([self.buffer, x])
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
            out = conv2(F.leaky_relu(conv1(F.leaky_relu(x, self.slope), final), self.slope), final)
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
            hidden = upsample(F.leaky_relu(hidden, v.config.leaky_relu_slope), final)
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
        hidden = torch.tanh(self.post(F.leaky_relu(hidden), final).float())
        return hidden.reshape(-1)
