/* Portable window generators, DFT and STFT: a radix-2 FFT for the compiled power-of-two
 * length, the direct sum for the others. */
#include "tinyc_signal.h"

#include <math.h>

#define TINYC_PI 3.14159265358979323846

/* In-place iterative radix-2 FFT of m complex values (interleaved re, im), m a power of two.
 * The twiddle exp(-2 pi i k / m) is tw[k * stride] (a table made for m * stride points);
 * `inverse` conjugates them (no 1/m scaling). */
static void tinyc_fft_complex(float *z, int32_t m, const float *tw, int32_t stride,
                              int inverse) {
  const float sign = inverse ? -1.0f : 1.0f;
  int32_t i, j = 0, half, k, s;
  for (i = 1; i < m; ++i) { /* bit-reversal permutation, j = reverse(i) */
    int32_t bit = m >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j |= bit;
    if (i < j) {
      const float re = z[2 * i], im = z[2 * i + 1];
      z[2 * i] = z[2 * j];
      z[2 * i + 1] = z[2 * j + 1];
      z[2 * j] = re;
      z[2 * j + 1] = im;
    }
  }
  for (half = 1; half < m; half <<= 1) {
    const int32_t step = 2 * (m / (2 * half)) * stride;
    for (k = 0; k < half; ++k) {
      const float wr = tw[k * step], wi = sign * tw[k * step + 1];
      for (s = k; s < m; s += 2 * half) { /* every value loaded once: a, b may alias */
        float *a = z + 2 * s, *b = a + 2 * half;
        const float ar = a[0], ai = a[1], br = b[0], bi = b[1];
        const float tr = br * wr - bi * wi, ti = br * wi + bi * wr;
        a[0] = ar + tr;
        a[1] = ai + ti;
        b[0] = ar - tr;
        b[1] = ai - ti;
      }
    }
  }
}

/* z holds n = 2m real samples (n a power of two, tw its twiddles): read as m complex
 * values, transformed, then split into bins 0..m of the real signal's DFT (so z has room for
 * n + 2 floats): X[k] = E[k] + W^k O[k] with E, O the even and odd samples' transforms, and
 * X[m - k] = conj(E[k] - W^k O[k]). */
static void tinyc_fft_real(float *z, int32_t n, const float *tw) {
  const int32_t m = n / 2;
  float r0, i0;
  int32_t k;
  tinyc_fft_complex(z, m, tw, 2, 0);
  r0 = z[0];
  i0 = z[1];
  z[0] = r0 + i0;
  z[1] = 0.0f;
  z[2 * m] = r0 - i0;
  z[2 * m + 1] = 0.0f;
  for (k = 1; k <= m / 2; ++k) {
    float *p = z + 2 * k, *q = z + 2 * (m - k);
    const float er = 0.5f * (p[0] + q[0]), ei = 0.5f * (p[1] - q[1]);
    const float odd_r = 0.5f * (p[1] + q[1]), odd_i = 0.5f * (q[0] - p[0]);
    const float wr = tw[2 * k], wi = tw[2 * k + 1];
    const float tr = wr * odd_r - wi * odd_i, ti = wr * odd_i + wi * odd_r;
    p[0] = er + tr;
    p[1] = ei + ti;
    q[0] = er - tr;
    q[1] = ti - ei;
  }
}

/* Whether the FFT computes an n-point transform with `bins` output bins into a line of
 * `bins` complex values: the compiled length, and room for the real split's m + 1 bins. */
static int tinyc_fft_fits(int64_t n, int32_t fft_length, const float *tw, int complex_in,
                          int inverse, int32_t bins) {
  if (tw == NULL || n != fft_length) return 0;
  return complex_in || inverse ? bins == n : bins >= n / 2 + 1;
}

/* The n-point DFT (a power of two; tw its twiddles) of x[t * stride] (and its imaginary
 * part x[t * stride + 1] when complex) times window[t] (if given) for t < count, zero
 * after: `bins` complex values into y (bins == n, or >= n/2 + 1 for a real forward one). */
static void tinyc_fft_line(const float *x, size_t stride, int complex_in, int32_t count,
                           const float *window, float *y, int32_t n, int32_t bins,
                           int inverse, const float *tw) {
  int32_t t, k;
  if (count > n) count = n;
  if (!complex_in && !inverse) {
    for (t = 0; t < count; ++t) y[t] = x[(size_t)t * stride] * (window ? window[t] : 1.0f);
    for (; t < n; ++t) y[t] = 0.0f;
    tinyc_fft_real(y, n, tw);
    for (k = n / 2 + 1; k < bins; ++k) { /* the upper half mirrors the lower */
      y[2 * k] = y[2 * (n - k)];
      y[2 * k + 1] = -y[2 * (n - k) + 1];
    }
    return;
  }
  for (t = 0; t < count; ++t) {
    const float w = window ? window[t] : 1.0f;
    y[2 * t] = x[(size_t)t * stride] * w;
    y[2 * t + 1] = complex_in ? x[(size_t)t * stride + 1] * w : 0.0f;
  }
  for (t = 2 * count; t < 2 * n; ++t) y[t] = 0.0f;
  tinyc_fft_complex(y, n, tw, 1, inverse);
  if (inverse) { /* 1/n is exact for a power of two: the same as numpy's division */
    const float scale = 1.0f / (float)n;
    for (t = 0; t < 2 * n; ++t) y[t] *= scale;
  }
}

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
  if (inner == 1 && !real_out &&
      tinyc_fft_fits(n, p->fft_length, p->twiddles, cin == 2, p->inverse, len_out)) {
    for (o = 0; o < outer; ++o)
      tinyc_fft_line(X + o * (size_t)len_in * (size_t)cin, (size_t)cin, cin == 2, len_in, NULL,
                     Y + o * (size_t)len_out * 2, n, len_out, p->inverse, p->twiddles);
    return 0;
  }
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
  if (tinyc_fft_fits(n, p->fft_length, p->twiddles, p->channels == 2, 0, p->bins)) {
    for (b = 0; b < p->batch; ++b) {
      for (f = 0; f < p->frames; ++f) {
        const int64_t begin = (int64_t)f * step;
        tinyc_fft_line(signal + ((size_t)b * p->length + (size_t)begin) * (size_t)p->channels,
                       (size_t)p->channels, p->channels == 2, (int32_t)(p->length - begin),
                       window, Y + ((size_t)b * p->frames + f) * p->bins * 2, (int32_t)n,
                       p->bins, 0, p->twiddles);
      }
    }
    return 0;
  }
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
