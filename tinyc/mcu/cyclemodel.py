"""Estimated Cortex-M4 cycles from exact execution counts.

Every block QEMU ran (tinyc/mcu/tbcount.py) is decoded from the ELF once
(`arm-none-eabi-objdump -d`) and each instruction is costed with Arm's published Cortex-M4
timing (Technical Reference Manual ARM DDI 0439D, Tables 3-1, 3-2 and 7-1) at zero wait
states. The choices where the manual gives a range or a rule the counts cannot see:

- a taken branch (B, BL, BX, CBZ/CBNZ, TBB/TBH, POP/LDM/LDR into PC, MOV/ADD to PC) costs
  its base plus a pipeline refill P = 2 (the manual: 1 to 3, by target alignment and width
  and whether the address was speculated early); a branch not taken costs 1;
- a load single (LDR, LDRB, LDRH, LDRSB, LDRSH, LDREX, VLDR.32) costs 2, or 1 right after
  another load single (their address and data phases pipeline; the manual's exception for
  an address that depends on the previous load's result is not modelled), also where QEMU
  split the code into two blocks that the core runs as one (a 1 KiB page boundary); a store single
  costs 1 (the write buffer takes the data phase), LDRD/STRD 3, LDM/STM/PUSH/POP/VLDM/VSTM/
  VPUSH/VPOP 1 + N (N words), VLDR.64/VSTR.64 3;
- SDIV/UDIV 7 (the manual: 2 to 12 by the operands' magnitudes; the middle is taken);
- VMLA/VMLS/VNMLA/VNMLS/VFMA/VFMS/VFNMA/VFNMS 3, VDIV/VSQRT 14, other FPU operations 1;
- MUL, MLA, MLS, the 64-bit multiplies and every DSP multiply (SMLAD, SMLABB, ...) 1, as
  is everything else (IT is costed 1: its folding into the previous instruction is not
  modelled); an instruction an IT block skips is costed as if it ran.

Data reads are the memory read accesses those instructions make (a load single 1, LDRD 2,
LDM/POP/VLDM N, TBB/TBH 1), literal-pool loads included.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from tinyc.errors import VerifyError
from tinyc.mcu.tbcount import BlockRuns

OBJDUMP = "arm-none-eabi-objdump"
NM = "arm-none-eabi-nm"

#: the cost model's choices (module docstring): pipeline refill, divide, FPU multiply-add
REFILL = 2
DIVIDE = 7
FP_MULTIPLY_ACCUMULATE = 3
FP_DIVIDE_SQRT = 14

_CONDITIONS = "eq|ne|cs|cc|hs|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al"
_COND_BRANCH = re.compile(rf"b({_CONDITIONS})")
_FP_MAC = {"vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"}
_FP_SLOW = {"vdiv", "vsqrt"}
_LINE = re.compile(r"^\s*([0-9a-f]+):\s*(\S+)\s*([^;@<]*)")


@dataclass(frozen=True)
class Insn:
    """One decoded instruction and its cost when it runs."""

    address: int
    mnemonic: str
    operands: str

    @cached_property
    def base(self) -> str:
        """The mnemonic without width qualifier and FPU type suffixes (`ldr.w` -> `ldr`,
        `vmla.f32` -> `vmla`)."""
        return self.mnemonic.lower().split(".")[0]

    @cached_property
    def words(self) -> int:
        """Words a register-list instruction (LDM, POP, VLDM, ...) moves."""
        match = re.search(r"\{([^}]*)\}", self.operands)
        if not match:
            return 0
        total = 0
        for item in match[1].split(","):
            item = item.strip()
            size = 2 if item.startswith("d") else 1
            if "-" in item:
                lo, hi = (int(re.sub(r"\D", "", part)) for part in item.split("-"))
                total += size * (hi - lo + 1)
            elif item:
                total += size
        return total

    @cached_property
    def writes_pc(self) -> bool:
        ops = self.operands.replace(" ", "")
        if "{" in ops:
            return "pc" in ops[ops.index("{"):]
        return ops.startswith("pc,")

    @cached_property
    def is_branch(self) -> bool:
        """Changes the flow: a taken exit costs the pipeline refill."""
        b = self.base
        return (b in {"b", "bl", "blx", "bx", "cbz", "cbnz", "tbb", "tbh"}
                or _COND_BRANCH.fullmatch(b) is not None
                or re.fullmatch(rf"bx({_CONDITIONS})", b) is not None
                or self.writes_pc)

    @cached_property
    def kind(self) -> str:
        """"load" (a load single), "store" (a store single), "multiple" (LDRD, LDM, ...),
        or "other"."""
        b = self.base
        if b in {"ldrd", "strd", "push", "pop", "vpush", "vpop"} or b.startswith(
            ("ldm", "stm", "vldm", "vstm")
        ):
            return "multiple"
        if b.startswith("ldr") or b == "tbb" or b == "tbh":
            return "load"
        if b == "vldr":
            return "multiple" if self._double else "load"
        if b.startswith("str") or b == "vstr":
            return "multiple" if b == "vstr" and self._double else "store"
        return "other"

    @property
    def _double(self) -> bool:
        return self.operands.strip().startswith("d")

    @cached_property
    def reads(self) -> int:
        """Memory read accesses of one execution."""
        b = self.base
        if self.kind == "load":
            return 1
        if b in {"ldrd"} or (b == "vldr" and self._double):
            return 2
        if b in {"pop", "vpop"} or b.startswith(("ldm", "vldm")):
            return self.words
        return 0

    def cycles(self, after_load: bool) -> int:
        """Cycles of one execution, without the refill of a taken branch; `after_load`:
        the instruction before it was a load single."""
        b = self.base
        kind = self.kind
        if kind == "load":
            return 1 if after_load else 2
        if kind == "store":
            return 1
        if kind == "multiple":
            if b in {"ldrd", "strd", "vldr", "vstr"}:
                return 3
            return 1 + self.words
        if b in {"sdiv", "udiv"}:
            return DIVIDE
        if b in _FP_MAC:
            return FP_MULTIPLY_ACCUMULATE
        if b in _FP_SLOW:
            return FP_DIVIDE_SQRT
        return 1


@dataclass(frozen=True)
class Estimate:
    """What a stretch of execution costs: exact instructions and data reads, estimated
    Cortex-M4 cycles at zero wait states."""

    instructions: int = 0
    cycles: int = 0
    data_reads: int = 0

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.instructions + other.instructions, self.cycles + other.cycles,
                        self.data_reads + other.data_reads)

    @property
    def cpi(self) -> float:
        return self.cycles / self.instructions if self.instructions else float("nan")


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise VerifyError(f"{cmd[0]} failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


class Program:
    """The instructions and function symbols of an ELF, decoded once."""

    def __init__(self, elf: Path) -> None:
        self.insns: dict[int, Insn] = {}
        for line in _run([OBJDUMP, "-d", "--no-show-raw-insn", str(elf)]).splitlines():
            match = _LINE.match(line)
            if match and not match[2].startswith("."):
                address = int(match[1], 16)
                self.insns[address] = Insn(address, match[2], match[3].strip())
        self.order = sorted(self.insns)
        self.index = {a: i for i, a in enumerate(self.order)}
        self.functions: dict[str, tuple[int, int]] = {}
        for line in _run([NM, "-S", "--defined-only", str(elf)]).splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[2] in "tT":
                start = int(parts[0], 16) & ~1
                self.functions[parts[3]] = (start, start + int(parts[1], 16))

    def address_of(self, function: str) -> int:
        try:
            return self.functions[function][0]
        except KeyError:
            raise VerifyError(f"the ELF has no function {function}") from None

    def block(self, vaddr: int, count: int) -> list[Insn]:
        """The `count` instructions from `vaddr` on, as QEMU translated them."""
        start = self.index.get(vaddr)
        if start is None:
            raise VerifyError(f"QEMU ran code at 0x{vaddr:x}, which the disassembly lacks")
        return [self.insns[a] for a in self.order[start:start + count]]

    def estimate(self, blocks: Iterable[BlockRuns], skip: Iterable[str] = ()) -> Estimate:
        """The cost of the executed blocks, leaving out those inside the `skip` functions
        (the harness's own code)."""
        ranges = [self.functions[name] for name in skip if name in self.functions]
        blocks = [b for b in blocks if not any(lo <= b.vaddr < hi for lo, hi in ranges)]
        falls_after_load = self._falls_after_load(blocks)
        total = Estimate()
        for b in blocks:
            insns = self.block(b.vaddr, b.insns)
            cycles = reads = 0
            after_load = False
            for insn in insns:
                cycles += insn.cycles(after_load)
                reads += insn.reads
                after_load = insn.kind == "load"
            refills = REFILL * b.taken if insns[-1].is_branch else 0
            pipelined = 0
            if insns[0].kind == "load":  # entered from a block that ended in a load single
                pipelined = min(falls_after_load.get(b.vaddr, 0), b.runs)
            total += Estimate(b.insns * b.runs, cycles * b.runs + refills - pipelined,
                              reads * b.runs)
        return total

    def _falls_after_load(self, blocks: list[BlockRuns]) -> dict[int, int]:
        """address -> how often execution fell through to it from a block whose last
        instruction is a load single. QEMU ends a block where the core does not (at a
        1 KiB page boundary, or after its longest block), and a load starting the next
        block still follows the load before it in the pipeline."""
        falls: dict[int, int] = {}
        for b in blocks:
            last = self.block(b.vaddr, b.insns)[-1]
            if last.kind != "load" or last.is_branch:
                continue
            following = self.index[last.address] + 1
            if following < len(self.order):
                address = self.order[following]
                falls[address] = falls.get(address, 0) + b.runs - b.taken
        return falls


def program_of(elf: Path) -> Program:
    """`Program(elf)`, decoded once per ELF file version (a run decodes it twice: for the
    mark's address, then for the costs)."""
    stat = elf.stat()
    return _program(str(elf), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _program(path: str, mtime_ns: int, size: int) -> Program:
    return Program(Path(path))
