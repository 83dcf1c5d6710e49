/* Portable NonMaxSuppression. Candidates are visited in (score desc, index asc) order by
 * rescanning for the best one after the previous pick, so no sort buffer is needed; the
 * boxes kept so far for a class are the rows of Y written since the class began. */
#include "tinyc_nms.h"

typedef struct {
  float x0, x1, y0, y1;
} nms_extent;

static nms_extent extent(const float *b, int32_t center) {
  nms_extent e;
  if (center) {
    const float hw = b[2] / 2.0f, hh = b[3] / 2.0f;
    e.x0 = b[0] - hw;
    e.x1 = b[0] + hw;
    e.y0 = b[1] - hh;
    e.y1 = b[1] + hh;
  } else {
    e.x0 = b[1] <= b[3] ? b[1] : b[3];
    e.x1 = b[1] <= b[3] ? b[3] : b[1];
    e.y0 = b[0] <= b[2] ? b[0] : b[2];
    e.y1 = b[0] <= b[2] ? b[2] : b[0];
  }
  return e;
}

static float maxf(float a, float b) { return b > a ? b : a; }
static float minf(float a, float b) { return b < a ? b : a; }

static int suppresses(const float *a, const float *b, int32_t center, float iou) {
  const nms_extent ea = extent(a, center), eb = extent(b, center);
  const float ix0 = maxf(ea.x0, eb.x0), ix1 = minf(ea.x1, eb.x1);
  const float iy0 = maxf(ea.y0, eb.y0), iy1 = minf(ea.y1, eb.y1);
  float inter, area_a, area_b, uni;
  if (ix1 <= ix0 || iy1 <= iy0) return 0;
  inter = (ix1 - ix0) * (iy1 - iy0);
  area_a = (ea.x1 - ea.x0) * (ea.y1 - ea.y0);
  area_b = (eb.x1 - eb.x0) * (eb.y1 - eb.y0);
  uni = area_a + area_b - inter;
  if (inter <= 0.0f || area_a <= 0.0f || area_b <= 0.0f || uni <= 0.0f) return 0;
  return inter / uni > iou;
}

/* the best candidate coming after `prev` in (score desc, index asc) order, or -1 */
static int32_t next_candidate(const float *s, int32_t n, int32_t prev, const float *score_th) {
  int32_t j, best = -1;
  for (j = 0; j < n; ++j) {
    if (score_th != NULL && !(s[j] > *score_th)) continue;
    if (prev >= 0 && !(s[j] < s[prev] || (s[j] == s[prev] && j > prev))) continue;
    if (best < 0 || s[j] > s[best]) best = j;
  }
  return best;
}

int tinyc_nms_f32(const float *boxes, const float *scores, const int64_t *max_out,
                  const float *iou_th, const float *score_th, int64_t *Y, int32_t batches,
                  int32_t classes, int32_t n, int32_t center, int32_t count) {
  const int64_t limit = (max_out != NULL && max_out[0] > 0) ? max_out[0] : 0;
  const float iou = iou_th != NULL ? iou_th[0] : 0.0f;
  int32_t b, c, rows = 0;
  for (b = 0; b < batches; ++b) {
    const float *bx = boxes + (size_t)b * n * 4;
    for (c = 0; c < classes; ++c) {
      const float *s = scores + ((size_t)b * classes + c) * n;
      const int32_t first = rows;
      int32_t prev = -1, visits;
      for (visits = 0; visits < n && rows - first < limit; ++visits) {
        const int32_t j = next_candidate(s, n, prev, score_th);
        int32_t k, keep = 1;
        if (j < 0) break;
        prev = j;
        for (k = first; k < rows && keep; ++k) {
          keep = !suppresses(bx + (size_t)j * 4, bx + (size_t)Y[(size_t)k * 3 + 2] * 4, center,
                             iou);
        }
        if (!keep) continue;
        if (rows == count) return -1;
        Y[(size_t)rows * 3] = b;
        Y[(size_t)rows * 3 + 1] = c;
        Y[(size_t)rows * 3 + 2] = j;
        ++rows;
      }
    }
  }
  return rows == count ? 0 : -1;
}
