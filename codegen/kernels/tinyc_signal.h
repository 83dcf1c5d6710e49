/* Signal processing, float32: the window generators (Hann, Hamming, Blackman),
 * MelWeightMatrix, DFT, STFT and tinyc's fused MelSpectrogram.
 *
 * DFT and STFT take an FFT when the transform length is the `fft_length` their parameters
 * were compiled for (2^a times 1, 3 or 5), with `twiddles` = exp(-2 pi i k / fft_length)
 * for k < fft_length / 2 as (re, im) float pairs, a constant table the compiler generates:
 * radix-2 stages in float32 (and one radix-3 or radix-5 stage), in place in the output (a
 * real signal as a complex one of half the length, then split). Other lengths take the
 * direct O(length^2) sum with twiddles in double. */
#ifndef TINYC_SIGNAL_H
#define TINYC_SIGNAL_H

#include "tinyc_rt.h"

enum { TINYC_WINDOW_HANN = 0, TINYC_WINDOW_HAMMING = 1, TINYC_WINDOW_BLACKMAN = 2 };

/* Y[i] for i < n of the window `kind`, periodic (denominator n) or symmetric (n - 1).
 * `size` is the (run-time) length operand: returns -1 unless it equals n. */
int tinyc_window_f32(int64_t size, float *Y, int32_t n, int32_t kind, int32_t periodic);

/* ONNX MelWeightMatrix into Y [bins, mels] from run-time operands (tinyc folds constant
 * ones): triangles of peak 1 between mels + 2 corners spaced evenly in mel (2595 log10(1 +
 * f / 700)) by (mel(high) - mel(low)) / (mels + 2), each floored to the bin
 * floor((dft_length + 1) f / rate). Returns -1 unless the operands give [bins, mels] and
 * corners within the bins. */
int tinyc_mel_weight_matrix_f32(int64_t mel_bins, int64_t dft_length, int64_t rate,
                                double low, double high, float *Y, int32_t bins, int32_t mels);

typedef struct {
  int32_t rank;                       /* including the last (real / complex) axis */
  int32_t in_dims[TINYC_MAX_RANK];
  int32_t out_dims[TINYC_MAX_RANK];
  int32_t length;                     /* the DFT length; 0: the default for the axis */
  int32_t inverse, onesided;
  int32_t fft_length;                 /* the length of the twiddle table; 0: none */
  const float *twiddles;              /* (fft_length + 1) / 2 pairs, or NULL */
} tinyc_dft_params;

/* DFT along `axis` (run-time, negative counts from the end; never the last axis) of X,
 * whose last axis holds a real value or a (real, imaginary) pair; numpy fft semantics:
 * forward, inverse (scaled by 1/length), one-sided forward (length/2 + 1 bins) and
 * one-sided inverse (a real signal of `length` from its first length/2 + 1 bins). The FFT
 * serves every form but the one-sided ones of a complex signal and the one-sided inverse,
 * when the axis is the last before the (real / complex) axis; else the direct sum. Returns
 * -1 if the axis does not give the compiled output dims. Y must not alias X. */
int tinyc_dft_f32(const float *restrict X, float *restrict Y, int64_t axis,
                  const tinyc_dft_params *p);

typedef struct {
  int32_t batch, length, channels;    /* signal [batch, length, channels (1 or 2)] */
  int32_t frames, bins;               /* Y [batch, frames, bins, 2] */
  int32_t window_length;              /* 0: no window input */
  int32_t onesided;
  int32_t fft_length;                 /* the length of the twiddle table; 0: none */
  const float *twiddles;              /* (fft_length + 1) / 2 pairs, or NULL */
} tinyc_stft_params;

/* STFT: frame f is the signal from f * step on, frame_length samples (zero-padded past the
 * end), times the window (ones when NULL), transformed by a DFT of frame_length. step and
 * frame_length are run-time values (frame_length <= 0: the window length, or the signal
 * length without a window): returns -1 unless they give the compiled frames and bins. */
int tinyc_stft_f32(const float *restrict signal, int64_t step, const float *restrict window,
                   int64_t frame_length, float *restrict Y, const tinyc_stft_params *p);

typedef struct {
  int32_t batch, length;              /* signal [batch, length, 1] */
  int32_t frames, step;               /* Y [batch * frames, mels] */
  int32_t pad_begin;                  /* samples of pad_value before the signal (folded Pad) */
  int32_t staged;                     /* frames overlapping a pad other than end zeros are
                                         staged in work + fft_length + 2 */
  float pad_value;                    /* the value before and after the signal */
  int32_t fft_length, bins;           /* bins = fft_length / 2 + 1 */
  int32_t mels;
  const float *twiddles;              /* fft_length / 2 pairs */
  const int32_t *band_starts;         /* [mels]: column m's first non-zero row */
  const int32_t *band_lengths;        /* [mels]: its rows, stored one column after the other */
} tinyc_mel_spectrogram_params;

/* Y[b * frames + f][m] = sum_k |X_f[k]|^2 W[k][m] (+ bias[m]), X_f the one-sided FFT of
 * the frame from f * step - pad_begin on times the window, the signal read as pad_value
 * outside it (a folded constant Pad). W's column m is values[offset_m ..] over rows
 * band_starts[m] .. + band_lengths[m]. One frame at a time in `work` (fft_length + 2
 * floats, and fft_length more when `staged`). */
void tinyc_mel_spectrogram_f32(const float *restrict signal, const float *restrict window,
                               const float *restrict values, const float *restrict bias,
                               float *restrict Y, float *restrict work,
                               const tinyc_mel_spectrogram_params *p);

#endif /* TINYC_SIGNAL_H */
