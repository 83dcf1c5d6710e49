/* Signal processing, float32: the window generators (Hann, Hamming, Blackman) and DFT. */
#ifndef TINYC_SIGNAL_H
#define TINYC_SIGNAL_H

#include "tinyc_rt.h"

enum { TINYC_WINDOW_HANN = 0, TINYC_WINDOW_HAMMING = 1, TINYC_WINDOW_BLACKMAN = 2 };

/* Y[i] for i < n of the window `kind`, periodic (denominator n) or symmetric (n - 1).
 * `size` is the (run-time) length operand: returns -1 unless it equals n. */
int tinyc_window_f32(int64_t size, float *Y, int32_t n, int32_t kind, int32_t periodic);

typedef struct {
  int32_t rank;                       /* including the last (real / complex) axis */
  int32_t in_dims[TINYC_MAX_RANK];
  int32_t out_dims[TINYC_MAX_RANK];
  int32_t length;                     /* the DFT length; 0: the default for the axis */
  int32_t inverse, onesided;
} tinyc_dft_params;

/* DFT along `axis` (run-time, negative counts from the end; never the last axis) of X,
 * whose last axis holds a real value or a (real, imaginary) pair; numpy fft semantics:
 * forward, inverse (scaled by 1/length), one-sided forward (length/2 + 1 bins) and
 * one-sided inverse (a real signal of `length` from its first length/2 + 1 bins). A direct
 * O(length^2) sum with twiddles in double. Returns -1 if the axis does not give the
 * compiled output dims. Y must not alias X. */
int tinyc_dft_f32(const float *restrict X, float *restrict Y, int64_t axis,
                  const tinyc_dft_params *p);

#endif /* TINYC_SIGNAL_H */
