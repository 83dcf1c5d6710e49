/* Portable Resize, float32.
 *
 * Interpolation is separable: along each resized axis an output index maps to a source
 * coordinate x (per the coordinate transformation mode), and to a window of n taps with
 * weights (per the mode). An output element is the sum, over every combination of taps,
 * of the product of the axis weights times the input element there. Windows, weights and
 * edge handling follow the ONNX reference implementation step by step (taps outside the
 * input clamp to the edge, or drop out with exclude_outside), in double precision, so that
 * nearest-neighbour ties round exactly as it does. Each axis's taps are recomputed only
 * when that axis's output index changes. */
#include "tinyc_resize.h"

#include <math.h>

typedef struct {
  int32_t n;
  int32_t extrapolated;
  int32_t idx[TINYC_RESIZE_MAX_TAPS];
  float w[TINYC_RESIZE_MAX_TAPS];
} axis_taps;

static double cubic_weight(double x, double a) {
  x = fabs(x);
  if (x <= 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
  return 0.0;
}

/* Source coordinate of output index y along an axis; sets *extrapolated for positions a
 * crop-and-resize places outside the input. */
static double source_coord(const tinyc_resize_params *p, int32_t y, int32_t in, int32_t out,
                           double scale, float roi_lo, float roi_hi, int32_t *extrapolated) {
  const double width = scale * in, yy = (double)y;
  double x;
  *extrapolated = 0;
  switch (p->coord) {
    case TINYC_COORD_ASYMMETRIC:
      return yy / scale;
    case TINYC_COORD_ALIGN_CORNERS:
      return width == 1.0 ? 0.0 : yy * (in - 1) / (width - 1.0);
    case TINYC_COORD_PYTORCH_HALF_PIXEL:
      return width == 1.0 ? -0.5 : (yy + 0.5) / scale - 0.5;
    case TINYC_COORD_HALF_PIXEL_SYMMETRIC:
      return in / 2.0 * (1.0 - out / width) + (yy + 0.5) / scale - 0.5;
    case TINYC_COORD_TF_HALF_PIXEL_FOR_NN: /* opsets 11-12 only */
      return (yy + 0.5) / scale;
    case TINYC_COORD_TF_CROP_AND_RESIZE:
      /* the reference computes the roi products in float32 */
      if (width == 1.0)
        x = (double)(roi_hi - roi_lo) * (in - 1) / 2.0;
      else
        x = yy * (double)(roi_hi - roi_lo) * (in - 1) / (width - 1.0);
      x += (double)(roi_lo * (float)(in - 1));
      *extrapolated = x < 0.0 || x > in - 1;
      return x;
    default:
      return (yy + 0.5) / scale - 0.5;
  }
}

/* Weights of the window for fractional position `ratio` (in (0, 1]); returns n. */
static int32_t window_weights(const tinyc_resize_params *p, double ratio, double scale,
                              double *w) {
  int32_t n = 0, i, start;
  double s = scale < 1.0 ? scale : 1.0, sum = 0.0;
  if (p->mode == TINYC_RESIZE_NEAREST) {
    int up;
    if (ratio == 1.0) {
      up = 1;
    } else {
      switch (p->nearest) {
        case TINYC_NEAREST_ROUND_PREFER_CEIL: up = ratio >= 0.5; break;
        case TINYC_NEAREST_FLOOR: up = 0; break;
        case TINYC_NEAREST_CEIL: up = 1; break;
        default: up = ratio > 0.5; break;
      }
    }
    w[0] = up ? 0.0 : 1.0;
    w[1] = up ? 1.0 : 0.0;
    return 2;
  }
  if (p->mode == TINYC_RESIZE_LINEAR && !p->antialias) {
    w[0] = 1.0 - ratio;
    w[1] = ratio;
    return 2;
  }
  if (p->mode == TINYC_RESIZE_CUBIC && !p->antialias) {
    w[0] = cubic_weight(ratio + 1.0, p->cubic_a);
    w[1] = cubic_weight(ratio, p->cubic_a);
    w[2] = cubic_weight(1.0 - ratio, p->cubic_a);
    w[3] = cubic_weight(2.0 - ratio, p->cubic_a);
    return 4;
  }
  /* antialiased: the filter stretched by 1 / scale when downsampling */
  if (p->mode == TINYC_RESIZE_LINEAR) {
    start = (int32_t)floor(-1.0 / s) + 1;
    n = 2 - 2 * start;
  } else {
    start = (int32_t)floor(-2.0 / s) + 1;
    n = 2 - 2 * start;
  }
  if (n > TINYC_RESIZE_MAX_TAPS) return -1;
  for (i = 0; i < n; ++i) {
    const double arg = (start + i - ratio) * s;
    if (p->mode == TINYC_RESIZE_LINEAR) {
      const double v = 1.0 - fabs(arg);
      w[i] = v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
    } else {
      w[i] = cubic_weight(arg, p->cubic_a);
    }
    sum += w[i];
  }
  for (i = 0; i < n; ++i) w[i] /= sum;
  return n;
}

/* The taps of output index y along axis d; -1 if the window is too wide. */
static int compute_taps(const tinyc_resize_params *p, int32_t d, int32_t y, double scale,
                        float roi_lo, float roi_hi, axis_taps *t) {
  const int32_t in = p->in[d];
  double w[TINYC_RESIZE_MAX_TAPS], x, ratio, xp, frac, sum = 0.0;
  int32_t n, i, pad, start;
  int64_t fl;
  x = source_coord(p, y, in, p->out[d], scale, roi_lo, roi_hi, &t->extrapolated);
  if (!(fabs(x) < 1e9)) {
    /* only a crop window far outside the input gets here: its value is extrapolated */
    if (!t->extrapolated) return -1;
    t->n = 1;
    t->idx[0] = 0;
    t->w[0] = 0.0f;
    return 0;
  }
  fl = (int64_t)floor(x);
  ratio = x == (double)fl ? 1.0 : x - (double)fl;
  n = window_weights(p, ratio, scale, w);
  if (n < 0) return -1;
  /* the n input positions nearest x, ties towards the smaller ones */
  pad = (n + 1) / 2;
  xp = x + pad;
  fl = (int64_t)floor(xp);
  frac = xp - (double)fl;
  if (n % 2 == 0)
    start = (int32_t)fl + (frac == 0.0 ? -(n / 2) : -(n / 2) + 1) - pad;
  else
    start = (int32_t)fl + (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1) - pad;
  for (i = 0; i < n; ++i) {
    const int32_t at = start + i;
    if (p->exclude_outside && (at < 0 || at >= in)) w[i] = 0.0;
    sum += w[i];
    t->idx[i] = at < 0 ? 0 : (at >= in ? in - 1 : at);
  }
  if (sum == 0.0) sum = 1.0;
  for (i = 0; i < n; ++i) t->w[i] = (float)(p->exclude_outside ? w[i] / sum : w[i]);
  t->n = n;
  return 0;
}

/* Per-axis scales from the run-time scales or sizes; -1 unless they give p->out. */
static int resolve_scales(const tinyc_resize_params *p, const float *scales,
                          const int64_t *sizes, double *scale) {
  int32_t i, d;
  double pick = 0.0;
  for (d = 0; d < p->rank; ++d) scale[d] = 1.0;
  for (i = 0; i < p->n_axes; ++i) {
    d = p->axes[i];
    if (scales) {
      scale[d] = (double)scales[i];
      if (!(scale[d] > 0.0) || (int64_t)(scale[d] * p->in[d]) != p->out[d]) return -1;
    } else {
      if (p->in[d] == 0) return -1;
      scale[d] = (double)sizes[i] / (double)p->in[d];
      if (i == 0 || (p->policy == TINYC_ASPECT_NOT_LARGER ? scale[d] < pick : scale[d] > pick))
        pick = scale[d];
    }
  }
  if (scales) return 0;
  for (i = 0; i < p->n_axes; ++i) {
    d = p->axes[i];
    if (p->policy != TINYC_ASPECT_STRETCH) {
      scale[d] = pick;
      if ((int64_t)(pick * p->in[d] + 0.5) != p->out[d]) return -1;
    } else if (sizes[i] != p->out[d]) {
      return -1;
    }
  }
  return 0;
}

int tinyc_resize_f32(const float *restrict X, float *restrict Y, const float *roi,
                     const float *scales, const int64_t *sizes, const tinyc_resize_params *p) {
  axis_taps taps[TINYC_MAX_RANK];
  double scale[TINYC_MAX_RANK];
  float roi_lo[TINYC_MAX_RANK], roi_hi[TINYC_MAX_RANK];
  int32_t resized[TINYC_MAX_RANK], o[TINYC_MAX_RANK] = {0}, t[TINYC_MAX_RANK];
  size_t total = 1, at, in_stride[TINYC_MAX_RANK];
  int32_t d, i, from = 0;
  if (resolve_scales(p, scales, sizes, scale) != 0) return -1;
  for (d = p->rank - 1; d >= 0; --d) {
    in_stride[d] = d == p->rank - 1 ? 1 : in_stride[d + 1] * (size_t)p->in[d + 1];
    roi_lo[d] = 0.0f;
    roi_hi[d] = 1.0f;
    total *= (size_t)p->out[d];
  }
  if (roi && p->coord == TINYC_COORD_TF_CROP_AND_RESIZE) {
    for (i = 0; i < p->n_axes; ++i) {
      roi_lo[p->axes[i]] = roi[i];
      roi_hi[p->axes[i]] = roi[p->n_axes + i];
    }
  }
  for (d = 0; d < p->rank; ++d)
    resized[d] = !(fabs(scale[d] - 1.0) <= 1e-9 && p->in[d] == p->out[d] &&
                   roi_lo[d] == 0.0f && roi_hi[d] == 1.0f);
  for (at = 0; at < total; ++at) {
    float acc = 0.0f;
    int extrapolated = 0;
    for (d = from; d < p->rank; ++d) {
      if (!resized[d]) {
        taps[d].n = 1;
        taps[d].extrapolated = 0;
        taps[d].idx[0] = o[d];
        taps[d].w[0] = 1.0f;
      } else if (compute_taps(p, d, o[d], scale[d], roi_lo[d], roi_hi[d], &taps[d]) != 0) {
        return -1;
      }
    }
    for (d = 0; d < p->rank; ++d) {
      extrapolated |= taps[d].extrapolated;
      t[d] = 0;
    }
    if (extrapolated) {
      acc = p->extrapolation;
    } else {
      /* odometer over the tap combinations */
      for (;;) {
        float w = 1.0f;
        size_t off = 0;
        for (d = 0; d < p->rank; ++d) {
          w *= taps[d].w[t[d]];
          off += (size_t)taps[d].idx[t[d]] * in_stride[d];
        }
        acc += w * X[off];
        for (d = p->rank - 1; d >= 0; --d) {
          if (++t[d] < taps[d].n) break;
          t[d] = 0;
        }
        if (d < 0) break;
      }
    }
    Y[at] = acc;
    for (d = p->rank - 1; d >= 0; --d) {
      if (++o[d] < p->out[d]) break;
      o[d] = 0;
    }
    from = d < 0 ? 0 : d;
  }
  return 0;
}
