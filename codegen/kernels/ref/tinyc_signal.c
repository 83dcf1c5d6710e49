/* Portable window generators and DFT. */
#include "tinyc_signal.h"

#include <math.h>

#define TINYC_PI 3.14159265358979323846

int tinyc_window_f32(int64_t size, float *Y, int32_t n, int32_t kind, int32_t periodic) {
  const double denom = periodic ? (double)n : (double)(n - 1);
  int32_t i;
  if (size != n) return -1;
  for (i = 0; i < n; ++i) {
    const double a = 2.0 * TINYC_PI * i / denom;
    double v;
    switch (kind) {
      case TINYC_WINDOW_HAMMING: v = 25.0 / 46.0 - (21.0 / 46.0) * cos(a); break;
      case TINYC_WINDOW_BLACKMAN: v = 0.42 - 0.5 * cos(a) + 0.08 * cos(2.0 * a); break;
      default: v = 0.5 - 0.5 * cos(a); break;
    }
    Y[i] = (float)v;
  }
  return 0;
}

int tinyc_dft_f32(const float *restrict X, float *restrict Y, int64_t axis,
                  const tinyc_dft_params *p) {
  const int32_t r = p->rank, cin = p->in_dims[r - 1];
  const int real_out = p->inverse && p->onesided;
  size_t outer = 1, inner = 1, o, i;
  int32_t d, len_in, len_out, k, t, n;
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r - 1) return -1;
  n = p->length ? p->length : (real_out ? 2 * (p->in_dims[axis] - 1) : p->in_dims[axis]);
  if (n <= 0) return -1;
  for (d = 0; d < r; ++d) {
    int32_t want = p->in_dims[d];
    if (d == axis) want = p->onesided && !p->inverse ? n / 2 + 1 : n;
    if (d == r - 1) want = real_out ? 1 : 2;
    if (want != p->out_dims[d]) return -1;
  }
  for (d = 0; d < axis; ++d) outer *= (size_t)p->in_dims[d];
  for (d = (int32_t)axis + 1; d < r - 1; ++d) inner *= (size_t)p->in_dims[d];
  len_in = p->in_dims[axis];
  len_out = p->out_dims[axis];
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      const float *x = X + (o * (size_t)len_in * inner + i) * (size_t)cin;
      float *y = Y + (o * (size_t)len_out * inner + i) * (size_t)(real_out ? 1 : 2);
      for (k = 0; k < len_out; ++k) {
        double re = 0.0, im = 0.0;
        if (real_out) {
          /* inverse of a one-sided spectrum: bin j of the full spectrum is X[j] for
           * j <= n/2 and conj(X[n - j]) above; DC and Nyquist are real */
          for (t = 0; t < n; ++t) {
            const int32_t j = t <= n / 2 ? t : n - t;
            double br = 0.0, bi = 0.0, a;
            if (j < len_in) {
              br = x[(size_t)j * inner * 2];
              bi = cin == 2 ? x[(size_t)j * inner * 2 + 1] : 0.0;
            }
            if (j == 0 || (n % 2 == 0 && j == n / 2)) bi = 0.0;
            if (t > n / 2) bi = -bi;
            a = 2.0 * TINYC_PI * (double)(((int64_t)t * k) % n) / n;
            re += br * cos(a) - bi * sin(a);
          }
          y[(size_t)k * inner] = (float)(re / n);
          continue;
        }
        for (t = 0; t < n && t < len_in; ++t) {
          const double xr = x[(size_t)t * inner * (size_t)cin];
          const double xi = cin == 2 ? x[(size_t)t * inner * 2 + 1] : 0.0;
          const double a = (p->inverse ? 2.0 : -2.0) * TINYC_PI *
                           (double)(((int64_t)t * k) % n) / n;
          re += xr * cos(a) - xi * sin(a);
          im += xr * sin(a) + xi * cos(a);
        }
        if (p->inverse) {
          re /= n;
          im /= n;
        }
        y[(size_t)k * inner * 2] = (float)re;
        y[(size_t)k * inner * 2 + 1] = (float)im;
      }
    }
  }
  return 0;
}

int tinyc_stft_f32(const float *restrict signal, int64_t step, const float *restrict window,
                   int64_t frame_length, float *restrict Y, const tinyc_stft_params *p) {
  int64_t n = frame_length;
  int32_t b, f, k, t;
  if (n <= 0) n = p->window_length ? p->window_length : p->length;
  if (step <= 0 || n <= 0 || n > p->length || (window && n != p->window_length)) return -1;
  if (1 + (p->length - n) / step != p->frames) return -1;
  if ((p->onesided ? n / 2 + 1 : n) != p->bins) return -1;
  for (b = 0; b < p->batch; ++b) {
    for (f = 0; f < p->frames; ++f) {
      const int64_t begin = (int64_t)f * step;
      for (k = 0; k < p->bins; ++k) {
        double re = 0.0, im = 0.0;
        for (t = 0; t < n; ++t) {
          const int64_t at = begin + t;
          const double w = window ? window[t] : 1.0;
          const double a = -2.0 * TINYC_PI * (double)(((int64_t)t * k) % n) / (double)n;
          double xr, xi;
          if (at >= p->length) break;
          xr = signal[((size_t)b * p->length + (size_t)at) * (size_t)p->channels] * w;
          xi = p->channels == 2 ? signal[((size_t)b * p->length + (size_t)at) * 2 + 1] * w : 0.0;
          re += xr * cos(a) - xi * sin(a);
          im += xr * sin(a) + xi * cos(a);
        }
        Y[(((size_t)b * p->frames + f) * p->bins + k) * 2] = (float)re;
        Y[(((size_t)b * p->frames + f) * p->bins + k) * 2 + 1] = (float)im;
      }
    }
  }
  return 0;
}
