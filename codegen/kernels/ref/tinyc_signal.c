/* Portable window generators, MelWeightMatrix, DFT, STFT and MelSpectrogram: an FFT for the compiled length
 * when it is a power of two times 1, 3 or 5, the direct sum for the others. */
#include "tinyc_signal.h"

#include <math.h>

#define TINYC_PI 3.14159265358979323846

/* The FFT: decimation in time over m = 2^a p points, p = 1, 3 or 5. Complex value t = u p + r
 * is written to block r (of q = m / p values) at the bit-reversed position of u while the
 * input is read (and windowed). The radix-2 stages then run in place on each block, two
 * at a time (spans h and 2h in one pass over groups of 4h points: three complex products
 * per four points instead of four, and half the loads and stores), after one lone radix-2
 * stage when log2(q) is odd; with p > 1 a last stage combines the p blocks. A real signal
 * of n = 2m samples is transformed as m complex values, then split. Twiddle
 * exp(-2 pi i e / m) is entry e * stride of the table (made for m * stride points:
 * exponents below half of them; tinyc_fft_twiddle derives the others). */

/* The odd factor p of a length n = 2^a p that the FFT serves (1, 3 or 5), else 0. */
static int32_t tinyc_fft_odd_factor(int64_t n) {
  int64_t p = n;
  if (n < 1) return 0;
  while (p % 2 == 0) p /= 2;
  return p == 1 || p == 3 || p == 5 ? (int32_t)p : 0;
}

/* exp(-2 pi i e / m) for 0 <= e < m: the table below m / 2, -1 at m / 2, and
 * conj(exp(-2 pi i (m - e) / m)) above. */
TINYC_INLINE void tinyc_fft_twiddle(const float *tw, int32_t e, int32_t m, int32_t stride,
                                    float *re, float *im) {
  if (2 * e == m) {
    *re = -1.0f;
    *im = 0.0f;
  } else if (2 * e > m) {
    *re = tw[2 * (m - e) * stride];
    *im = -tw[2 * (m - e) * stride + 1];
  } else {
    *re = tw[2 * e * stride];
    *im = tw[2 * e * stride + 1];
  }
}

/* j = reverse(i) over log2(m) bits: the next one, reverse(i + 1). */
TINYC_INLINE int32_t tinyc_fft_next_reversed(int32_t j, int32_t m) {
  int32_t bit = m >> 1;
  for (; j & bit; bit >>= 1) j ^= bit;
  return j | bit;
}

/* Sample t of a line: x[t * stride] (or its imaginary part with `im`) times window[t];
 * zero from `count` on. */
TINYC_INLINE float tinyc_fft_sample(const float *x, size_t stride, int im,
                                    const float *window, int32_t t, int32_t count) {
  if (t >= count) return 0.0f;
  return x[(size_t)t * stride + (size_t)im] * (window ? window[t] : 1.0f);
}

/* Complex value t of the transform into z: samples 2t and 2t + 1 of a real forward one,
 * else sample t (conjugated for the inverse). */
TINYC_INLINE void tinyc_fft_load(const float *x, size_t stride, int complex_in, int inverse,
                                 const float *window, int32_t count, int32_t t, float *z) {
  if (!complex_in && !inverse) {
    z[0] = tinyc_fft_sample(x, stride, 0, window, 2 * t, count);
    z[1] = tinyc_fft_sample(x, stride, 0, window, 2 * t + 1, count);
  } else {
    const float im = complex_in ? tinyc_fft_sample(x, stride, 1, window, t, count) : 0.0f;
    z[0] = tinyc_fft_sample(x, stride, 0, window, t, count);
    z[1] = inverse ? -im : im;
  }
}

/* The radix-2 stages over z (m = 2^b complex values in bit-reversed order, interleaved). */
static void tinyc_fft_stages(float *z, int32_t m, const float *tw, int32_t stride) {
  int32_t h = 1, k, s, bits = 0;
  while ((1 << bits) < m) ++bits;
  if (bits % 2) { /* span 1: twiddle 1 */
    for (s = 0; s < m; s += 2) {
      float *a = z + 2 * s;
      const float ar = a[0], ai = a[1], br = a[2], bi = a[3];
      a[0] = ar + br;
      a[1] = ai + bi;
      a[2] = ar - br;
      a[3] = ai - bi;
    }
    h = 2;
  }
  for (; h < m; h *= 4) {
    const int32_t unit = (m / (4 * h)) * stride; /* W_4h^k is table entry k * unit */
    for (k = 0; k < h; ++k) {
      /* W^k and W^2k from the table (exponents below m / 2), W^3k = W^k W^2k */
      const float w1r = tw[2 * k * unit], w1i = tw[2 * k * unit + 1];
      const float w2r = tw[4 * k * unit], w2i = tw[4 * k * unit + 1];
      const float w3r = w1r * w2r - w1i * w2i, w3i = w1r * w2i + w1i * w2r;
      for (s = k; s < m; s += 4 * h) { /* points s, s + h, s + 2h, s + 3h */
        float *p0 = z + 2 * s, *p1 = p0 + 2 * h, *p2 = p1 + 2 * h, *p3 = p2 + 2 * h;
        const float x0r = p0[0], x0i = p0[1], x1r = p1[0], x1i = p1[1];
        const float x2r = p2[0], x2i = p2[1], x3r = p3[0], x3i = p3[1];
        const float ar = x1r * w2r - x1i * w2i, ai = x1r * w2i + x1i * w2r; /* W^2k x1 */
        const float br = x2r * w1r - x2i * w1i, bi = x2r * w1i + x2i * w1r; /* W^k x2 */
        const float cr = x3r * w3r - x3i * w3i, ci = x3r * w3i + x3i * w3r; /* W^3k x3 */
        const float t0r = x0r + ar, t0i = x0i + ai, t1r = x0r - ar, t1i = x0i - ai;
        const float t2r = br + cr, t2i = bi + ci, t3r = br - cr, t3i = bi - ci;
        p0[0] = t0r + t2r;
        p0[1] = t0i + t2i;
        p2[0] = t0r - t2r;
        p2[1] = t0i - t2i;
        p1[0] = t1r + t3i; /* t1 - i t3 */
        p1[1] = t1i - t3r;
        p3[0] = t1r - t3i; /* t1 + i t3 */
        p3[1] = t1i + t3r;
      }
    }
  }
}

/* The last stage when m = p q (p = 3 or 5), the q-point transforms F_r in blocks r:
 * X[k + q s] = sum_r W_p^(r s) a_r with a_r = W_m^(r k) F_r[k], in place, k by k. The
 * p-point sums use the symmetry of W_p: with A = a1 + a(p-1), D = a1 - a(p-1) (and for
 * p = 5 also B = a2 + a3, E = a2 - a3), X1 and X(p-1) share their real-cosine part and
 * differ in the sign of the sine part. */
static void tinyc_fft_odd_stage(float *z, int32_t m, int32_t p, const float *tw,
                                int32_t stride) {
  const int32_t q = m / p;
  float c1, s1, c2, s2; /* W_p = c1 - i s1, W_p^2 = c2 - i s2 */
  int32_t k;
  tinyc_fft_twiddle(tw, q, m, stride, &c1, &s1);
  tinyc_fft_twiddle(tw, 2 * q, m, stride, &c2, &s2);
  s1 = -s1;
  s2 = -s2;
  for (k = 0; k < q; ++k) {
    float *x0 = z + 2 * k, *x1 = x0 + 2 * q, *x2 = x1 + 2 * q;
    float w1r, w1i, w2r, w2i, a1r, a1i, a2r, a2i;
    tinyc_fft_twiddle(tw, k, m, stride, &w1r, &w1i);
    tinyc_fft_twiddle(tw, 2 * k, m, stride, &w2r, &w2i);
    a1r = x1[0] * w1r - x1[1] * w1i;
    a1i = x1[0] * w1i + x1[1] * w1r;
    a2r = x2[0] * w2r - x2[1] * w2i;
    a2i = x2[0] * w2i + x2[1] * w2r;
    if (p == 3) {
      const float ar = a1r + a2r, ai = a1i + a2i, dr = a1r - a2r, di = a1i - a2i;
      const float mr = x0[0] + c1 * ar, mi = x0[1] + c1 * ai;
      x0[0] += ar;
      x0[1] += ai;
      x1[0] = mr + s1 * di; /* m - i s1 D */
      x1[1] = mi - s1 * dr;
      x2[0] = mr - s1 * di;
      x2[1] = mi + s1 * dr;
    } else {
      float *x3 = x2 + 2 * q, *x4 = x3 + 2 * q;
      const float w3r = w1r * w2r - w1i * w2i, w3i = w1r * w2i + w1i * w2r; /* W^3k */
      const float w4r = w2r * w2r - w2i * w2i, w4i = 2.0f * w2r * w2i;     /* W^4k */
      const float a3r = x3[0] * w3r - x3[1] * w3i, a3i = x3[0] * w3i + x3[1] * w3r;
      const float a4r = x4[0] * w4r - x4[1] * w4i, a4i = x4[0] * w4i + x4[1] * w4r;
      const float ar = a1r + a4r, ai = a1i + a4i, dr = a1r - a4r, di = a1i - a4i;
      const float br = a2r + a3r, bi = a2i + a3i, er = a2r - a3r, ei = a2i - a3i;
      const float m1r = x0[0] + c1 * ar + c2 * br, m1i = x0[1] + c1 * ai + c2 * bi;
      const float m2r = x0[0] + c2 * ar + c1 * br, m2i = x0[1] + c2 * ai + c1 * bi;
      const float v1r = s1 * dr + s2 * er, v1i = s1 * di + s2 * ei;
      const float v2r = s2 * dr - s1 * er, v2i = s2 * di - s1 * ei;
      x0[0] += ar + br;
      x0[1] += ai + bi;
      x1[0] = m1r + v1i; /* m1 - i v1 */
      x1[1] = m1i - v1r;
      x4[0] = m1r - v1i;
      x4[1] = m1i + v1r;
      x2[0] = m2r + v2i; /* m2 - i v2 */
      x2[1] = m2i - v2r;
      x3[0] = m2r - v2i;
      x3[1] = m2i + v2r;
    }
  }
}

/* Bins 0..m of the DFT of n = 2m real samples, from the transform Z of the m complex
 * values (x[2t], x[2t + 1]) in z (room for n + 2 floats): X[k] = E[k] + W^k O[k] with E, O
 * the even and odd samples' transforms, X[m - k] = conj(E[k] - W^k O[k]). */
static void tinyc_fft_split(float *z, int32_t n, const float *tw) {
  const int32_t m = n / 2;
  const float r0 = z[0], i0 = z[1];
  int32_t k;
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
 * `bins` complex values: the compiled length, and room for the real split's n/2 + 1 bins. */
static int tinyc_fft_fits(int64_t n, int32_t fft_length, const float *tw, int complex_in,
                          int inverse, int32_t bins) {
  if (tw == NULL || n != fft_length || !tinyc_fft_odd_factor(n)) return 0;
  return complex_in || inverse ? bins == n : n % 2 == 0 && bins >= n / 2 + 1;
}

/* The n-point DFT (tinyc_fft_fits; tw its twiddles) of x[t * stride] (and its imaginary
 * part x[t * stride + 1] when complex) times window[t] (if given) for t < count, zero
 * after: `bins` complex values into y (bins == n, or >= n/2 + 1 for a real forward one).
 * y must not overlap x. The inverse is conj(FFT(conj(x))) / n. */
static void tinyc_fft_line(const float *restrict x, size_t stride, int complex_in,
                           int32_t count, const float *restrict window, float *restrict y,
                           int32_t n, int32_t bins, int inverse, const float *restrict tw) {
  const int real = !complex_in && !inverse;
  const int32_t m = real ? n / 2 : n, p = tinyc_fft_odd_factor(m), q = m / p;
  const int32_t tw_stride = real ? 2 : 1; /* W_m = W_n^(n / m) */
  int32_t u, r, t, k, j = 0;
  if (p == 1) { /* the usual case, without the inner loop */
    for (u = 0; u < q; ++u, j = tinyc_fft_next_reversed(j, q))
      tinyc_fft_load(x, stride, complex_in, inverse, window, count, u, y + 2 * j);
  } else {
    for (u = 0; u < q; ++u, j = tinyc_fft_next_reversed(j, q))
      for (r = 0; r < p; ++r)
        tinyc_fft_load(x, stride, complex_in, inverse, window, count, u * p + r,
                       y + 2 * (r * q + j));
  }
  for (r = 0; r < p; ++r) tinyc_fft_stages(y + 2 * r * q, q, tw, tw_stride * p);
  if (p > 1) tinyc_fft_odd_stage(y, m, p, tw, tw_stride);
  if (real) {
    tinyc_fft_split(y, n, tw);
    for (k = m + 1; k < bins; ++k) { /* the upper half mirrors the lower */
      y[2 * k] = y[2 * (n - k)];
      y[2 * k + 1] = -y[2 * (n - k) + 1];
    }
  } else if (inverse) { /* 1/n: exact for a power of two, within an ulp otherwise */
    const float scale = 1.0f / (float)n;
    for (t = 0; t < n; ++t) {
      y[2 * t] *= scale;
      y[2 * t + 1] *= -scale;
    }
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

/* Corner i of the mel filter bank, as a bin (tinyc_mel_weight_matrix_f32). */
static int64_t tinyc_mel_corner(int32_t i, int64_t mels, int64_t dft_length, int64_t rate,
                                double low, double high) {
  const double mel_low = 2595.0 * log10(1.0 + low / 700.0);
  const double step = (2595.0 * log10(1.0 + high / 700.0) - mel_low) / (double)(mels + 2);
  const double hz = 700.0 * (pow(10.0, (mel_low + step * i) / 2595.0) - 1.0);
  return (int64_t)floor((double)(dft_length + 1) * hz / (double)rate);
}

int tinyc_mel_weight_matrix_f32(int64_t mel_bins, int64_t dft_length, int64_t rate,
                                double low, double high, float *Y, int32_t bins, int32_t mels) {
  int32_t m, b;
  if (mel_bins != mels || dft_length <= 0 || dft_length / 2 + 1 != bins || rate <= 0) return -1;
  for (m = 0; m < mels + 2; ++m) {
    const int64_t c = tinyc_mel_corner(m, mel_bins, dft_length, rate, low, high);
    if (c < 0 || c > bins || (m < mels + 1 && c >= bins)) return -1;
    if (m > 0 && c < tinyc_mel_corner(m - 1, mel_bins, dft_length, rate, low, high)) return -1;
  }
  for (b = 0; b < bins * mels; ++b) Y[b] = 0.0f;
  for (m = 0; m < mels; ++m) {
    const int32_t left = (int32_t)tinyc_mel_corner(m, mel_bins, dft_length, rate, low, high);
    const int32_t center =
        (int32_t)tinyc_mel_corner(m + 1, mel_bins, dft_length, rate, low, high);
    const int32_t right = (int32_t)tinyc_mel_corner(m + 2, mel_bins, dft_length, rate, low, high);
    for (b = left; b < center; ++b)
      Y[(size_t)b * mels + m] = (float)((double)(b - left) / (double)(center - left));
    for (b = center; b < right; ++b)
      Y[(size_t)b * mels + m] = (float)((double)(right - b) / (double)(right - center));
    Y[(size_t)center * mels + m] = 1.0f;
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

void tinyc_mel_spectrogram_f32(const float *restrict signal, const float *restrict window,
                               const float *restrict values, const float *restrict bias,
                               float *restrict Y, float *restrict work,
                               const tinyc_mel_spectrogram_params *p) {
  int32_t b, f, k, m, j;
  for (b = 0; b < p->batch; ++b) {
    const float *x = signal + (size_t)b * p->length;
    for (f = 0; f < p->frames; ++f) {
      const int64_t begin = (int64_t)f * p->step - p->pad_begin; /* in the signal */
      const int64_t left = p->length - begin; /* samples before the signal's end */
      const float *w = values;
      float *y = Y + ((size_t)b * p->frames + f) * p->mels;
      if (p->staged && (begin < 0 || left < p->fft_length)) { /* the pads' values */
        float *frame = work + p->fft_length + 2;
        for (j = 0; j < p->fft_length; ++j)
          frame[j] = begin + j >= 0 && begin + j < p->length ? x[begin + j] : p->pad_value;
        tinyc_fft_line(frame, 1, 0, p->fft_length, window, work, p->fft_length, p->bins, 0,
                       p->twiddles);
      } else { /* inside the signal, or zeros past its end */
        const int32_t count =
            left <= 0 ? 0 : left < p->fft_length ? (int32_t)left : p->fft_length;
        tinyc_fft_line(count ? x + begin : x, 1, 0, count, window, work, p->fft_length,
                       p->bins, 0, p->twiddles);
      }
      for (k = 0; k < p->bins; ++k) /* power, in place: bin k reads entries 2k and 2k + 1 */
        work[k] = work[2 * k] * work[2 * k] + work[2 * k + 1] * work[2 * k + 1];
      for (m = 0; m < p->mels; ++m) {
        const float *power = work + p->band_starts[m];
        float acc = 0.0f;
        for (j = 0; j < p->band_lengths[m]; ++j) acc += power[j] * w[j];
        w += p->band_lengths[m];
        y[m] = bias ? acc + bias[m] : acc;
      }
    }
  }
}
