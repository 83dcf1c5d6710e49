"""The Cortex-M4 cycle estimate (tinyc/mcu/cyclemodel.py) on small assembly loops run on
QEMU, against cycle counts worked out by hand from the Technical Reference Manual
(ARM DDI 0439D, Tables 3-1 and 7-1) and the model's stated choices (pipeline refill P = 2,
SDIV 7), and the plugin's counts against `-icount` on a real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyc.compiler import Options
from tinyc.ir.text import parse_graph
from tinyc.mcu import TARGETS
from tinyc.mcu.cyclemodel import Estimate, Program
from tinyc.mcu.harness import (
    McuBuild,
    Sections,
    compile_object,
    harness_functions,
    link_elf,
    mcu_cflags,
    run_counting,
    runtime_objects,
)
from tinyc.mcu.tbcount import wanted_api
from tinyc.mcu.validate import run_on_mcu

ASM = Path(__file__).parent / "asm" / "m4_timing_loops.S"
LOOPS = ("loop_alu", "loop_loads", "loop_multiple", "loop_float", "loop_divide", "loop_page")
P = 2  # the model's pipeline refill for a taken branch

#: (instructions, data reads, cycles), each worked out from the manual, line by line
EXPECTED = {
    # movs 1; 100 x (adds 1, subs 1, bne 1) with 99 taken; bx lr 1+P
    "loop_alu": (1 + 100 * 3 + 1, 0, 1 + 100 * 3 + 99 * P + 1 + P),
    # movs 1; 50 x (ldr 2, ldr pipelined 1, smlad 1, str 1, subs 1, bne 1); bx lr 1+P
    "loop_loads": (1 + 50 * 6 + 1, 50 * 2, 1 + 50 * 7 + 49 * P + 1 + P),
    # push {r4,r5,lr} 1+3; movs 1; 20 x (ldrd 3, ldm 1+4, adds 1, ldrb 2, subs 1, bne 1);
    # pop {r4,r5,pc} 1+3+P
    "loop_multiple": (2 + 20 * 6 + 1, 20 * (2 + 4 + 1) + 3,
                      4 + 1 + 20 * 13 + 19 * P + 1 + 3 + P),
    # vldr 2; movs 1; 10 x (vldr 2, vmla 3, vdiv 14, vadd 1, subs 1, bne 1); bx lr 1+P
    "loop_float": (2 + 10 * 6 + 1, 1 + 10, 2 + 1 + 10 * 22 + 9 * P + 1 + P),
    # movs, movs 2; 5 x (sdiv 7, cbz not taken 1, subs 1, bne 1); bx lr 1+P
    "loop_divide": (2 + 5 * 4 + 1, 0, 2 + 5 * 10 + 4 * P + 1 + P),
    # movs 1; 20 x (ldr 2, three ldr pipelined 1 each -- the last one across QEMU's block
    # split at the page boundary --, subs 1, bne 1); bx lr 1+P
    "loop_page": (1 + 20 * 6 + 1, 20 * 4, 1 + 20 * 7 + 19 * P + 1 + P),
}

MAIN = """#include <stdint.h>
#include "tinyc_mcu.h"
static uint32_t buf[64] __attribute__((aligned(8)));
%s
int main(void) {
  unsigned i;
  for (i = 0; i < 64; ++i) buf[i] = 0x3F800000u; /* 1.0f */
  tinyc_mcu_mark();
%s
  return 0;
}
"""


@pytest.fixture(scope="module")
def loop_costs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Estimate]:
    tmp = tmp_path_factory.mktemp("m4loops")
    target = TARGETS["cortex-m4"]
    decls = "\n".join(f"void {name}(uint32_t *words);" for name in LOOPS)
    calls = "\n".join(f"  {name}(buf);\n  tinyc_mcu_mark();" for name in LOOPS)
    (tmp / "main.c").write_text(MAIN % (decls, calls))
    cflags = mcu_cflags(target, [])
    objects = [compile_object(tmp / "main.c", tmp / "main.o", cflags),
               compile_object(ASM, tmp / "loops.o", cflags),
               *runtime_objects(tmp, cflags)]
    elf = link_elf(objects, target, tmp / "loops.elf")
    rc, text, regions = run_counting(McuBuild(target, elf, Sections()), tmp, 60.0)
    assert rc == 0, text
    assert regions is not None, "the counting plugin did not run"
    program = Program(elf)
    skip = harness_functions(program)
    measured = [program.estimate(blocks, skip) for blocks in regions[1:-1]]
    return dict(zip(LOOPS, measured, strict=True))


@pytest.mark.parametrize("loop", LOOPS)
def test_loop_costs_follow_the_manual(mcu_tools: None, loop_costs: dict[str, Estimate],
                                      loop: str) -> None:
    instructions, reads, cycles = EXPECTED[loop]
    assert loop_costs[loop] == Estimate(instructions, cycles, reads)


def test_exact_count_agrees_with_icount_on_a_model(mcu_tools: None, tmp_path: Path) -> None:
    graph = parse_graph(
        """
graph @g(%x: f32[1,64]) -> (%y: f32[1,64]) {
  %h = Relu(%x) : f32[1,64]
  %y = Sigmoid(%h) : f32[1,64]
  return %y
}
"""
    )
    x = np.linspace(-2, 2, 64, dtype=np.float32).reshape(1, 64)
    result, _ = run_on_mcu(graph, Options(target="cortex-m4"), "net", [x], tmp_path)
    cost = result.run.cost
    assert cost is not None
    # -icount counts the call plus a few harness instructions, to one SysTick tick (40)
    assert abs(cost.instructions - result.run.instructions) <= 80
    assert 1.0 < cost.cpi < 3.0 and 0 < cost.data_reads < cost.instructions


def test_plugin_api_version_qemu_asks_for() -> None:
    refused = ("qemu-system-arm: Could not load plugin /tmp/p.so: plugin requires API "
               "version 1, but this QEMU supports only a minimum version of 2")
    assert wanted_api(refused) == 2
    newer = ("Could not load plugin p.so: plugin requires API version 9, but this QEMU "
             "supports only up to version 4")
    assert wanted_api(newer) == 4
    assert wanted_api("TINYC-MCU rc=0 ticks=1") is None
