"""Layout experiment: int8 depthwise 3x3 on a Cortex-M4, NCHW (tinyc's kernel) against a
channels-last (NHWC) prototype, measured on QEMU (mps2-an386, -icount).

tinyc keeps NCHW on every target (docs/architecture.md says why). This script is how that
choice was measured, and how to re-measure it: for each shape it builds one bare-metal
program that runs the shipped `tinyc_depthwise_conv2d_s8` (codegen/kernels/cortex-m4) and
a channels-last kernel written the way CMSIS-NN-style libraries do it (four channels per
word, weights pre-widened to int16 pairs at compile time, per-channel requantization
constants in tables), checks that both give the same int8 output, and prints instructions
per MAC. The prototype lives here only; it is not part of the compiler.

    python scripts/bench_layout_dw.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tinyc.backend.generate import codegen_root
from tinyc.mcu import TARGETS
from tinyc.mcu.harness import (
    GCC,
    RUNTIME_FLAGS,
    RUNTIME_SOURCES,
    SPIN_LOOPS,
    linker_script,
    missing_tools,
    qemu_command,
    runtime_dir,
)
from tinyc.ops.qwork import ConvGeometry, depthwise_work_bytes

#: (label, channels, input h, input w, stride, pad)
SHAPES = [
    ("KWS DS-CNN 25x5", 64, 25, 5, 1, 1),
    ("MobileNet 48x48", 32, 48, 48, 1, 1),
    ("MobileNet 24x24 s2", 64, 48, 48, 2, 1),
    ("MobileNet 12x12", 128, 12, 12, 1, 1),
    ("MobileNet 6x6", 128, 6, 6, 1, 1),
    ("MobileNet 3x3", 256, 3, 3, 1, 1),
]

NHWC_KERNEL = r"""
/* channels-last depthwise 3x3 prototype: X [h][w][c], W16 [9][c/4][2] int16 pairs
 * ((w_c, w_c+2), (w_c+1, w_c+3)), c % 4 == 0 */
static void dw_nhwc(const int8_t *X, const int32_t *W16, const int32_t *B, int8_t *Y,
                    const int32_t *q, const int32_t *round, const int32_t *rs,
                    int32_t h, int32_t w, int32_t c, int32_t oh, int32_t ow, int32_t s,
                    int32_t pad, int32_t input_offset) {
  const int32_t off2 = tinyc_pack16(input_offset, input_offset), c4 = c / 4;
  int32_t oy, ox, ch, ky, kx;
  for (oy = 0; oy < oh; ++oy) {
    const int32_t iy0 = oy * s - pad;
    const int32_t ky0 = tinyc_window_first(iy0, 1), ky1 = tinyc_window_end(iy0, 1, 3, h);
    for (ox = 0; ox < ow; ++ox) {
      const int32_t ix0 = ox * s - pad;
      const int32_t kx0 = tinyc_window_first(ix0, 1), kx1 = tinyc_window_end(ix0, 1, 3, w);
      int8_t *y = Y + ((size_t)oy * ow + ox) * c;
      for (ch = 0; ch < c4; ++ch) {
        int32_t a0 = B[4 * ch], a1 = B[4 * ch + 1], a2 = B[4 * ch + 2], a3 = B[4 * ch + 3];
        for (ky = ky0; ky < ky1; ++ky) {
          const int8_t *xr = X + ((size_t)(iy0 + ky) * w + ix0) * c + 4 * ch;
          const int32_t *wr = W16 + ((size_t)(ky * 3) * c4 + ch) * 2;
          for (kx = kx0; kx < kx1; ++kx) {
            const int32_t xv = tinyc_load4(xr + (size_t)kx * c);
            const int32_t *wv = wr + (size_t)kx * c4 * 2;
            const int32_t xe = tinyc_sxtab16(off2, xv), xo = tinyc_sxtab16_hi(off2, xv);
            a0 = tinyc_smlabb(xe, wv[0], a0);
            a2 = tinyc_smlatt(xe, wv[0], a2);
            a1 = tinyc_smlabb(xo, wv[1], a1);
            a3 = tinyc_smlatt(xo, wv[1], a3);
          }
        }
#define REQ(a, k) (int8_t) tinyc_ssat8(tinyc_smmla(a, q[k], round[k]) >> rs[k])
        y[4 * ch] = REQ(a0, 4 * ch);
        y[4 * ch + 1] = REQ(a1, 4 * ch + 1);
        y[4 * ch + 2] = REQ(a2, 4 * ch + 2);
        y[4 * ch + 3] = REQ(a3, 4 * ch + 3);
#undef REQ
      }
    }
  }
}
"""

MAIN = r"""
#include <stdint.h>
#include <string.h>

#include "tinyc_dsp.h"
#include "tinyc_mcu.h"
#include "tinyc_qconv.h"

#define C {c}
#define H {h}
#define W {w}
#define S {s}
#define P {pad}
#define OH ((H + 2 * P - 3) / S + 1)
#define OW ((W + 2 * P - 3) / S + 1)

static int8_t x_nchw[C * H * W], x_nhwc[H * W * C], wt[C * 9];
static int8_t y_nchw[C * OH * OW], y_nhwc[OH * OW * C];
static int32_t work[{work_words}]; /* the node's arena workspace (tinyc.ops.qwork) */
static int32_t bias[C], mult[C], shift[C], q[C], round_[C], rs[C], w16[9 * C / 2];
{nhwc_kernel}
static uint32_t seed = 12345u;
static int8_t next(void) {{
  seed = seed * 1664525u + 1013904223u;
  return (int8_t)(seed >> 24);
}}

int main(void) {{
  tinyc_qconv_params p;
  uint64_t spin0, spin1, t0, t1, t2;
  int32_t i, k, yy, xx, bad = 0;
  for (i = 0; i < C * H * W; ++i) x_nchw[i] = next();
  for (k = 0; k < C; ++k)
    for (i = 0; i < H * W; ++i) x_nhwc[i * C + k] = x_nchw[k * H * W + i];
  for (i = 0; i < C * 9; ++i) wt[i] = next();
  for (k = 0; k < C; ++k) {{
    bias[k] = (int32_t)next() * 64;
    mult[k] = 1300000000 + k * 1000;
    shift[k] = -9;
    q[k] = mult[k];
    rs[k] = -1 - shift[k];
    round_[k] = (int32_t)((1u << (rs[k] - 1)) + ((uint32_t)(-3) << rs[k]));
  }}
  for (i = 0; i < 9; ++i)
    for (k = 0; k < C; k += 4) {{
      w16[(i * (C / 4) + k / 4) * 2] = tinyc_pack16(wt[k * 9 + i], wt[(k + 2) * 9 + i]);
      w16[(i * (C / 4) + k / 4) * 2 + 1] = tinyc_pack16(wt[(k + 1) * 9 + i], wt[(k + 3) * 9 + i]);
    }}
  memset(&p, 0, sizeof p);
  p.n = 1; p.c = C; p.h = H; p.w = W; p.m = C; p.oh = OH; p.ow = OW; p.kh = 3; p.kw = 3;
  p.group = C; p.stride_h = S; p.stride_w = S; p.dil_h = 1; p.dil_w = 1;
  p.pad_top = P; p.pad_left = P; p.input_offset = 5; p.output_offset = -3;
  p.act_min = -128; p.act_max = 127; p.multiplier = mult; p.shift = shift;
  tinyc_mcu_counter_start();
  spin0 = tinyc_mcu_ticks();
  tinyc_mcu_spin({spin}u);
  spin1 = tinyc_mcu_ticks();
  t0 = tinyc_mcu_ticks();
  tinyc_depthwise_conv2d_s8(x_nchw, wt, bias, y_nchw, work, &p);
  t1 = tinyc_mcu_ticks();
  dw_nhwc(x_nhwc, w16, bias, y_nhwc, q, round_, rs, H, W, C, OH, OW, S, P, 5);
  t2 = tinyc_mcu_ticks();
  for (k = 0; k < C; ++k)
    for (yy = 0; yy < OH; ++yy)
      for (xx = 0; xx < OW; ++xx)
        bad += y_nchw[(k * OH + yy) * OW + xx] != y_nhwc[(yy * OW + xx) * C + k];
  tinyc_mcu_puts("LAYOUT spin=");
  tinyc_mcu_put_u64(spin1 - spin0);
  tinyc_mcu_puts(" nchw=");
  tinyc_mcu_put_u64(t1 - t0);
  tinyc_mcu_puts(" nhwc=");
  tinyc_mcu_put_u64(t2 - t1);
  tinyc_mcu_puts(" bad=");
  tinyc_mcu_put_u64((uint64_t)bad);
  tinyc_mcu_puts("\n");
  return 0;
}}
"""

_LINE = re.compile(r"LAYOUT spin=(\d+) nchw=(\d+) nhwc=(\d+) bad=(\d+)")


def run_shape(c: int, h: int, w: int, s: int, pad: int, tmp: Path) -> tuple[float, float, int]:
    """Instructions of the NCHW and NHWC kernels, and how many outputs differ."""
    target = TARGETS["cortex-m4"]
    kernels = codegen_root() / "kernels"
    oh, ow = (h + 2 * pad - 3) // s + 1, (w + 2 * pad - 3) // s + 1
    geometry = ConvGeometry(1, c, h, w, c, oh, ow, 3, 3, c, s, s, 1, 1, pad, pad)
    work_words = max(1, depthwise_work_bytes(geometry) // 4)
    (tmp / "main.c").write_text(MAIN.format(c=c, h=h, w=w, s=s, pad=pad, spin=SPIN_LOOPS,
                                            nhwc_kernel=NHWC_KERNEL, work_words=work_words))
    (tmp / "link.ld").write_text(linker_script(target))
    rt = runtime_dir()
    inc = ["-I", str(kernels), "-I", str(kernels / "cortex-m4"), "-I",
           str(codegen_root() / "runtime"), "-I", str(rt)]
    flags = [*target.cpu_flags, "-O2", *inc]
    sources = [tmp / "main.c", kernels / "cortex-m4" / "tinyc_qconv.c"]
    objs = []
    for src in [*sources, *(rt / n for n in RUNTIME_SOURCES)]:
        obj = tmp / f"{src.stem}.o"
        extra = RUNTIME_FLAGS if src.parent == rt else ["-std=c99"]
        subprocess.run([GCC, *flags, *extra, "-c", str(src), "-o", str(obj)], check=True)
        objs.append(obj)
    elf = tmp / "layout.elf"
    subprocess.run([GCC, *target.cpu_flags, "-nostartfiles", "--specs=nano.specs", "-T",
                    str(tmp / "link.ld"), *map(str, objs), "-lm", "-o", str(elf)], check=True)
    out = subprocess.run(qemu_command(target, elf), capture_output=True, text=True, timeout=600,
                         cwd=tmp, stdin=subprocess.DEVNULL)
    m = _LINE.search(out.stdout + out.stderr)
    if m is None:
        raise RuntimeError(out.stdout + out.stderr)
    per_tick = 2 * SPIN_LOOPS / int(m[1])
    return int(m[2]) * per_tick, int(m[3]) * per_tick, int(m[4])


def main() -> int:
    if missing_tools():
        print(f"missing: {', '.join(missing_tools())}", file=sys.stderr)
        return 1
    print("| shape | channels | MACs | NCHW instr/MAC | NHWC instr/MAC |")
    print("|---|---|---|---|---|")
    for label, c, h, w, s, pad in SHAPES:
        oh, ow = (h + 2 * pad - 3) // s + 1, (w + 2 * pad - 3) // s + 1
        macs = c * oh * ow * 9
        with tempfile.TemporaryDirectory(prefix="tinyc-layout-") as tmp:
            nchw, nhwc, bad = run_shape(c, h, w, s, pad, Path(tmp))
        if bad:
            print(f"{label}: {bad} outputs differ between the layouts", file=sys.stderr)
            return 1
        print(f"| {label} | {c} | {macs:,} | {nchw / macs:.2f} | {nhwc / macs:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
