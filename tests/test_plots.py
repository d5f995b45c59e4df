import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from s2st_helpers import plots  # noqa: E402
from s2st_helpers.speakers import bundled_speakers, load_speaker  # noqa: E402


def test_log_mel_shape(speech):
    mel = plots.log_mel(speech)
    assert mel.shape[0] == 80 and abs(mel.shape[1] - len(speech) / 256) <= 2 and np.isfinite(mel).all()


def test_figures(speech):
    assert len(plots.waveform_and_spectrogram(speech, "x").axes) == 3
    names = list(bundled_speakers().values())
    fig = plots.speaker_map(names, np.stack([load_speaker(n) for n in names]))
    assert len(fig.axes[0].collections) == 6
    assert plots.latency_chart({"translate": 1.0, "synthesise": 2.0, "total": 3.0}, 4.0).axes


def test_latency_chart_is_a_timeline():
    """Stages run in turn are laid end to end (synthesis starts when translation ends);
    overlapping ones each start at 0, and the title says they overlapped."""
    def bars(timings):
        ax = plots.latency_chart(timings).axes[0]
        return [(round(p.get_x(), 3), round(p.get_width(), 3)) for p in ax.patches], ax.get_title()

    spans, title = bars({"translate": 1.0, "synthesise": 2.0, "first audio": 1.3, "total": 3.0})
    assert spans == [(0.0, 1.0), (1.0, 2.0)] and "overlapped" not in title and "total 3.00 s" in title
    spans, title = bars({"translate": 60.0, "synthesise": 30.0, "first audio": 4.0, "total": 62.0})
    assert spans == [(0.0, 60.0), (0.0, 30.0)] and "overlapped" in title


def test_int16_waveform_is_scaled(speech):
    fig = plots.waveform_and_spectrogram((speech * 32767).astype(np.int16))
    assert np.abs(fig.axes[0].lines[0].get_ydata()).max() <= 1.0
