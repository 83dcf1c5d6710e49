/* NonMaxSuppression on float32 boxes [batches, n, 4] and scores [batches, classes, n].
 *
 * For each batch and class, boxes whose score is above *score_th (every box when
 * score_th is NULL) are taken in order of score, highest first, equal scores by index;
 * one is kept unless its IoU with a box already kept for that class is above *iou_th
 * (0 when NULL), until *max_out (0 when NULL) are kept. Kept boxes are written to Y as
 * (batch, class, box) int64 rows. center selects the (x_center, y_center, width, height)
 * box format instead of corners (y1, x1, y2, x2). */
#ifndef TINYC_NMS_H
#define TINYC_NMS_H

#include "tinyc_rt.h"

/* Returns -1 when the run keeps other than `count` rows (Y then holds at most `count`
 * rows of garbage-free but incomplete output), 0 otherwise. O(n^2) per class, no scratch. */
int tinyc_nms_f32(const float *boxes, const float *scores, const int64_t *max_out,
                  const float *iou_th, const float *score_th, int64_t *Y, int32_t batches,
                  int32_t classes, int32_t n, int32_t center, int32_t count);

#endif /* TINYC_NMS_H */
