"""The keyword model's MFCC features in plain numpy: the one definition of the front end's
parameters, and the reference the compiled pipeline is checked against.

MLPerf Tiny KWS style (its `get_dataset.py` with a 40 ms window): 1 s of 16 kHz audio, 49
frames of 640 samples every 320, a periodic Hann window, a 1024-point FFT of each frame
(zero-padded, as `tf.signal.stft` pads to the next power of two), 40 mel filters from 20 Hz
to 4 kHz, log(mel + 1e-6), and the first 10 coefficients of a DCT-II scaled by sqrt(2 / 40)
(`tf.signal.mfccs_from_log_mel_spectrograms`). One change: the filters weigh the power
spectrum |X|^2 (mel energies, librosa's default) where MLPerf takes the magnitude |X|, which
saves a square root per bin. The filter bank is ONNX's MelWeightMatrix (HTK mel scale,
triangles on whole FFT bins), written here from its definition so that the reference does
not borrow tinyc's code.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
AUDIO_SAMPLES = 16000  # one second
FRAME_LENGTH = 640  # 40 ms
FRAME_STEP = 320  # 20 ms
FFT_LENGTH = 1024  # the next power of two, as MLPerf; 640 (no padding) is the other choice
MEL_BINS = 40
MEL_LOW_HZ = 20.0
MEL_HIGH_HZ = 4000.0
LOG_OFFSET = 1e-6
MFCC_COUNT = 10
FRAMES = 1 + (AUDIO_SAMPLES - FRAME_LENGTH) // FRAME_STEP  # 49


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window (ONNX HannWindow's default, tf.signal.hann_window's too)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def spectrum_bins(fft_length: int = FFT_LENGTH) -> int:
    """Bins of a one-sided spectrum: 513 for 1024 points."""
    return fft_length // 2 + 1


def mel_filterbank(fft_length: int = FFT_LENGTH) -> np.ndarray:
    """[spectrum_bins, MEL_BINS] triangles of peak 1 (ONNX MelWeightMatrix's definition:
    MEL_BINS + 2 corners evenly spaced in mel by (mel(high) - mel(low)) / (MEL_BINS + 2),
    each floored to the FFT bin floor((fft_length + 1) f / SAMPLE_RATE))."""
    mel_low = 2595.0 * np.log10(1.0 + MEL_LOW_HZ / 700.0)
    mel_high = 2595.0 * np.log10(1.0 + MEL_HIGH_HZ / 700.0)
    bank = np.zeros((spectrum_bins(fft_length), MEL_BINS))
    corners = []
    for i in range(MEL_BINS + 2):
        hz = 700.0 * (10.0 ** ((mel_low + i * (mel_high - mel_low) / (MEL_BINS + 2)) / 2595.0)
                      - 1.0)
        corners.append(int(np.floor((fft_length + 1) * hz / SAMPLE_RATE)))
    for m in range(MEL_BINS):
        left, center, right = corners[m : m + 3]
        for b in range(left, center):
            bank[b, m] = (b - left) / (center - left)
        for b in range(center, right):
            bank[b, m] = (right - b) / (right - center)
        bank[center, m] = 1.0
    return bank


def dct_matrix() -> np.ndarray:
    """[MEL_BINS, MFCC_COUNT]: DCT-II times sqrt(2 / MEL_BINS), the first MFCC_COUNT
    coefficients, as the right operand of a MatMul."""
    n = np.arange(MEL_BINS)[:, None]
    k = np.arange(MFCC_COUNT)[None, :]
    return np.sqrt(2.0 / MEL_BINS) * np.cos(np.pi * k * (2 * n + 1) / (2 * MEL_BINS))


def mfcc(audio: np.ndarray, fft_length: int = FFT_LENGTH) -> np.ndarray:
    """[FRAMES, MFCC_COUNT] features of AUDIO_SAMPLES samples, in float64."""
    audio = np.asarray(audio, np.float64).reshape(AUDIO_SAMPLES)
    starts = FRAME_STEP * np.arange(FRAMES)
    frames = audio[starts[:, None] + np.arange(FRAME_LENGTH)[None, :]]
    spectrum = np.fft.rfft(frames * hann_window(FRAME_LENGTH), n=fft_length, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    log_mel = np.log(power @ mel_filterbank(fft_length) + LOG_OFFSET)
    return log_mel @ dct_matrix()
