/* Resize (ONNX Resize, opset 11+), float32: nearest (all rounding modes), linear and cubic
 * interpolation, every coordinate transformation mode, antialiasing, exclude_outside,
 * tf_crop_and_resize extrapolation, and keep_aspect_ratio_policy for sizes. */
#ifndef TINYC_RESIZE_H
#define TINYC_RESIZE_H

#include "tinyc_rt.h"

enum { TINYC_RESIZE_NEAREST = 0, TINYC_RESIZE_LINEAR = 1, TINYC_RESIZE_CUBIC = 2 };
enum { TINYC_COORD_HALF_PIXEL = 0, TINYC_COORD_ASYMMETRIC = 1, TINYC_COORD_ALIGN_CORNERS = 2,
       TINYC_COORD_PYTORCH_HALF_PIXEL = 3, TINYC_COORD_TF_CROP_AND_RESIZE = 4,
       TINYC_COORD_HALF_PIXEL_SYMMETRIC = 5, TINYC_COORD_TF_HALF_PIXEL_FOR_NN = 6 };
enum { TINYC_NEAREST_ROUND_PREFER_FLOOR = 0, TINYC_NEAREST_ROUND_PREFER_CEIL = 1,
       TINYC_NEAREST_FLOOR = 2, TINYC_NEAREST_CEIL = 3 };
enum { TINYC_ASPECT_STRETCH = 0, TINYC_ASPECT_NOT_LARGER = 1, TINYC_ASPECT_NOT_SMALLER = 2 };

/* Most taps one output element reads along one axis (cubic antialias at scale 1/4). */
#define TINYC_RESIZE_MAX_TAPS 16

typedef struct {
  int32_t rank;
  int32_t in[TINYC_MAX_RANK];
  int32_t out[TINYC_MAX_RANK];
  int32_t n_axes;
  int32_t axes[TINYC_MAX_RANK];   /* the axes that roi, scales and sizes entries refer to */
  int32_t mode, coord, nearest, policy;
  int32_t exclude_outside, antialias;
  float cubic_a, extrapolation;
} tinyc_resize_params;

/* Y [out...] from X [in...]. Exactly one of scales (n_axes floats) and sizes (n_axes
 * int64) is non-NULL; roi (2 * n_axes floats, starts then ends) is read only with
 * tf_crop_and_resize and may be NULL (0..1). They may be run-time data: returns -1,
 * writing nothing, if they do not give the compiled output dims (or need more than
 * TINYC_RESIZE_MAX_TAPS taps), 0 otherwise. Y must not alias X. */
int tinyc_resize_f32(const float *restrict X, float *restrict Y, const float *roi,
                     const float *scales, const int64_t *sizes, const tinyc_resize_params *p);

#endif /* TINYC_RESIZE_H */
