/* Sampling and patch ops, float32: GridSample, AffineGrid and Col2Im. */
#ifndef TINYC_SAMPLE_H
#define TINYC_SAMPLE_H

#include "tinyc_rt.h"

enum { TINYC_SAMPLE_NEAREST = 0, TINYC_SAMPLE_LINEAR = 1, TINYC_SAMPLE_CUBIC = 2 };
enum { TINYC_PADDING_ZEROS = 0, TINYC_PADDING_BORDER = 1, TINYC_PADDING_REFLECTION = 2 };

/* Spatial dims are listed outermost first (D, H, W); the grid's last axis holds the
 * normalized coordinates innermost first (x, y, z), as ONNX has them. */
typedef struct {
  int32_t n, c, nsp;
  int32_t in[3];
  int32_t out[3];
  int32_t mode, padding, align_corners;
} tinyc_grid_sample_params;

/* GridSample: X [n, c, in...], grid [n, out..., nsp], Y [n, c, out...]. */
void tinyc_grid_sample_f32(const float *restrict X, const float *restrict grid,
                           float *restrict Y, const tinyc_grid_sample_params *p);

/* AffineGrid: theta [n, nsp, nsp + 1] applied to the normalized coordinates of an image of
 * `dims` (nsp = 2 or 3), Y [n, dims..., nsp]. `size` (n, c, dims...) is read at run time:
 * returns -1 unless it gives the compiled n and dims. */
int tinyc_affine_grid_f32(const float *restrict theta, const int64_t *size, float *restrict Y,
                          int32_t n, int32_t nsp, const int32_t *dims, int32_t align_corners);

typedef struct {
  int32_t n, c, nsp, length;       /* length: the number of blocks (input axis 2) */
  int32_t image[TINYC_MAX_RANK];
  int32_t stride[TINYC_MAX_RANK];
  int32_t dil[TINYC_MAX_RANK];
  int32_t pad_begin[TINYC_MAX_RANK];
  int32_t pad_end[TINYC_MAX_RANK];
} tinyc_col2im_params;

/* Col2Im: X [n, c * prod(block), length] summed back into Y [n, c, image...]. The image
 * and block shapes are read at run time: returns -1, writing nothing, unless they agree
 * with the compiled image and with X's shape. */
int tinyc_col2im_f32(const float *restrict X, const int64_t *image_shape,
                     const int64_t *block_shape, float *restrict Y,
                     const tinyc_col2im_params *p);

typedef struct {
  int32_t rois, batch, c, h, w, out_h, out_w;
  int32_t sampling_ratio;   /* samples per bin side; 0: ceil(bin size) */
  float spatial_scale;
  int32_t half_pixel;       /* coordinate mode half_pixel (else output_half_pixel) */
  int32_t max_mode;         /* max of the weighted corners instead of the average */
} tinyc_roi_align_params;

/* RoiAlign (as the ONNX reference computes it, in float32): X [batch, c, h, w], rois
 * [rois, 4] (x1, y1, x2, y2), batch_idx [rois] (run-time: -1 returned for one out of
 * range), Y [rois, c, out_h, out_w]. */
int tinyc_roi_align_f32(const float *restrict X, const float *restrict rois,
                        const int64_t *batch_idx, float *restrict Y,
                        const tinyc_roi_align_params *p);

#endif /* TINYC_SAMPLE_H */
