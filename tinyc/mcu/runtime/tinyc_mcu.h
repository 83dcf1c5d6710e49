/* Bare-metal test harness for tinyc models on QEMU's Cortex-M boards.
 *
 * Semihosting (host file I/O, console, exit), a 64-bit tick counter built on the SysTick,
 * and stack painting. Nothing here is part of a generated model; it only runs it. Under
 * `qemu-system-arm -icount shift=0` the SysTick counts virtual time, which advances one ns
 * per executed instruction, so tick counts are deterministic; `tinyc_mcu_calibrate` runs a
 * loop of known length so the host can turn ticks into instructions without knowing the
 * board's clock. */
#ifndef TINYC_MCU_H
#define TINYC_MCU_H

#include <stddef.h>
#include <stdint.h>

/* Semihosting: 0 on success. Paths are relative to the directory QEMU runs in. */
int tinyc_mcu_read_file(const char *path, void *buf, size_t size);
int tinyc_mcu_write_file(const char *path, const void *buf, size_t size);
/* Files of samples, one `size`-byte sample after another: read sample k; write sample k
 * (k == 0 creates the file). */
int tinyc_mcu_read_sample(const char *path, void *buf, size_t size, uint32_t k);
int tinyc_mcu_write_sample(const char *path, const void *buf, size_t size, uint32_t k);
void tinyc_mcu_puts(const char *s);
void tinyc_mcu_put_u64(uint64_t v);
void tinyc_mcu_exit(int code);

/* Starts the SysTick as a free-running 24-bit down counter with a wrap interrupt. */
void tinyc_mcu_counter_start(void);
/* Ticks since tinyc_mcu_counter_start (wraps folded in). */
uint64_t tinyc_mcu_ticks(void);

/* Runs exactly 2 * loops instructions (a subs/bne loop), for calibration. */
void tinyc_mcu_spin(uint32_t loops);

/* Counting: the QEMU plugin tinyc_tbcount (tinyc/mcu/tbcount.py) closes a region of its
 * execution counts each time this (empty, never inlined) function is entered. */
void tinyc_mcu_mark(void);

/* Profiling: tinyc_mcu_lap marks a region and records the tick count on entry, the stack
 * used since the last lap (then repaints it; at least this frame's depth below the
 * painted sp plus 64 bytes) and the tick count on leaving, up to TINYC_MCU_MAX_LAPS
 * times; tinyc_mcu_print_laps prints "TINYC-MCU lap <i> <in> <out> <stack bytes>". */
#define TINYC_MCU_MAX_LAPS 1024
void tinyc_mcu_lap(void);
void tinyc_mcu_print_laps(void);

/* Stack painting: fill the unused stack below the current stack pointer with a pattern;
 * after the measured call, tinyc_mcu_stack_used reports how deep it went below `sp`.
 * Both read the stack pointer themselves, so call them from the same function as the
 * call being measured (they are macros for that reason). */
extern uint32_t __stack_limit[];
#define TINYC_MCU_STACK_PATTERN 0xC5A5A5C5u
#define TINYC_MCU_SP(var) __asm__ volatile("mov %0, sp" : "=r"(var))
uint32_t *tinyc_mcu_paint_below(uint32_t sp);
uint32_t tinyc_mcu_stack_used(uint32_t sp);

#endif /* TINYC_MCU_H */
