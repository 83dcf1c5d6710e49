/* Fused activations, applied by a producing kernel to each result before it is stored. */
#ifndef TINYC_ACT_H
#define TINYC_ACT_H

#include <math.h>

#include "tinyc_rt.h"

TINYC_INLINE float tinyc_act_f32(float v, const tinyc_act *act) {
  float t;
  switch (act->kind) {
    case TINYC_ACT_CLIP:
      return tinyc_clampf(v, act->a, act->b);
    case TINYC_ACT_LEAKY_RELU:
      return v < 0.0f ? act->a * v : v;
    case TINYC_ACT_HARD_SIGMOID:
      return tinyc_clampf(act->a * v + act->b, 0.0f, 1.0f);
    case TINYC_ACT_HARD_SWISH:
      t = tinyc_clampf(v * (1.0f / 6.0f) + 0.5f, 0.0f, 1.0f);
      return v * t;
    case TINYC_ACT_SIGMOID:
      return 1.0f / (1.0f + expf(-v));
    default:
      return v;
  }
}

#endif /* TINYC_ACT_H */
