/* Semihosting, tick counter and stack measurement for the bare-metal harness. */
#include "tinyc_mcu.h"

enum {
  SYS_OPEN = 0x01,
  SYS_CLOSE = 0x02,
  SYS_WRITE0 = 0x04,
  SYS_WRITE = 0x05,
  SYS_READ = 0x06,
  SYS_SEEK = 0x0A,
  SYS_EXIT = 0x18,
  SYS_EXIT_EXTENDED = 0x20,
  ADP_APPLICATION_EXIT = 0x20026
};

static int semihost(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static int open_file(const char *path, int mode) {
  uint32_t block[3];
  size_t len = 0;
  while (path[len]) ++len;
  block[0] = (uint32_t)(uintptr_t)path;
  block[1] = (uint32_t)mode;
  block[2] = (uint32_t)len;
  return semihost(SYS_OPEN, block);
}

static int transfer(int op, const char *path, int mode, void *buf, size_t size,
                    uint32_t offset) {
  uint32_t block[3];
  int fd = open_file(path, mode), left = 0;
  if (fd < 0) return -1;
  block[0] = (uint32_t)fd;
  block[1] = offset;
  if (offset != 0u && semihost(SYS_SEEK, block) != 0) left = -1;
  block[0] = (uint32_t)fd;
  block[1] = (uint32_t)(uintptr_t)buf;
  block[2] = (uint32_t)size;
  if (left == 0 && size) left = semihost(op, block); /* returns the bytes NOT transferred */
  block[0] = (uint32_t)fd;
  semihost(SYS_CLOSE, block);
  return left == 0 ? 0 : -1;
}

int tinyc_mcu_read_file(const char *path, void *buf, size_t size) {
  return transfer(SYS_READ, path, 1 /* "rb" */, buf, size, 0u);
}

int tinyc_mcu_write_file(const char *path, const void *buf, size_t size) {
  return transfer(SYS_WRITE, path, 5 /* "wb" */, (void *)(uintptr_t)buf, size, 0u);
}

int tinyc_mcu_read_sample(const char *path, void *buf, size_t size, uint32_t k) {
  return transfer(SYS_READ, path, 1 /* "rb" */, buf, size, k * (uint32_t)size);
}

int tinyc_mcu_write_sample(const char *path, const void *buf, size_t size, uint32_t k) {
  /* "r+b" at the sample's offset: under QEMU 7.2 an "ab" file kept only one sample */
  return transfer(SYS_WRITE, path, k ? 3 /* "r+b" */ : 5 /* "wb" */, (void *)(uintptr_t)buf,
                  size, k * (uint32_t)size);
}

void tinyc_mcu_puts(const char *s) { semihost(SYS_WRITE0, s); }

void tinyc_mcu_put_u64(uint64_t v) {
  char buf[24];
  int i = 23;
  buf[i] = '\0';
  do {
    buf[--i] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v != 0u);
  tinyc_mcu_puts(buf + i);
}

void tinyc_mcu_exit(int code) {
  uint32_t block[2];
  block[0] = ADP_APPLICATION_EXIT;
  block[1] = (uint32_t)code;
  semihost(SYS_EXIT_EXTENDED, block);
  for (;;) {
  }
}

/* SysTick registers */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_MAX 0x00FFFFFFu

static volatile uint32_t wraps;

void tinyc_mcu_systick_handler(void) { wraps++; }

void tinyc_mcu_counter_start(void) {
  SYST_CSR = 0u;
  SYST_RVR = SYST_MAX;
  SYST_CVR = 0u;
  wraps = 0u;
  SYST_CSR = 7u; /* processor clock, wrap interrupt, enable */
  /* the first reload happens on the first tick: wait for it so counting starts at MAX */
  while (SYST_CVR == 0u) {
  }
}

uint64_t tinyc_mcu_ticks(void) {
  uint32_t w, v;
  do {
    w = wraps;
    v = SYST_CVR;
  } while (w != wraps);
  return (uint64_t)w * (SYST_MAX + 1u) + (SYST_MAX - v);
}

__attribute__((noinline)) void tinyc_mcu_mark(void) { __asm__ volatile("" ::: "memory"); }

static uint64_t laps[TINYC_MCU_MAX_LAPS], lap_ends[TINYC_MCU_MAX_LAPS];
static uint32_t lap_stacks[TINYC_MCU_MAX_LAPS];
static uint32_t n_laps;
static uint32_t painted_sp; /* the sp tinyc_mcu_paint_below painted under */
static uint32_t deepest;    /* the most any lap measured (laps repaint what they scan) */

static uint32_t scan_used(uint32_t sp) {
  const uint32_t *p = __stack_limit;
  while ((uint32_t)(uintptr_t)p < sp && *p == TINYC_MCU_STACK_PATTERN) ++p;
  return sp - (uint32_t)(uintptr_t)p;
}

void tinyc_mcu_lap(void) {
  uint32_t sp, used;
  uint32_t *p, *end;
  tinyc_mcu_mark();
  if (n_laps >= TINYC_MCU_MAX_LAPS) return;
  laps[n_laps] = tinyc_mcu_ticks();
  used = painted_sp ? scan_used(painted_sp) : 0u;
  lap_stacks[n_laps] = used;
  if (used > deepest) deepest = used;
  /* repaint what the node since the last lap used, below this function's own frame */
  TINYC_MCU_SP(sp);
  p = (uint32_t *)(uintptr_t)(painted_sp - used);
  end = (uint32_t *)(uintptr_t)(sp - 64u);
  while (p < end) *p++ = TINYC_MCU_STACK_PATTERN;
  lap_ends[n_laps++] = tinyc_mcu_ticks(); /* the scan is not the next node's time */
}

void tinyc_mcu_print_laps(void) {
  uint32_t i;
  for (i = 0; i < n_laps; ++i) {
    tinyc_mcu_puts("TINYC-MCU lap ");
    tinyc_mcu_put_u64(i);
    tinyc_mcu_puts(" ");
    tinyc_mcu_put_u64(laps[i]);
    tinyc_mcu_puts(" ");
    tinyc_mcu_put_u64(lap_ends[i]);
    tinyc_mcu_puts(" ");
    tinyc_mcu_put_u64(lap_stacks[i]);
    tinyc_mcu_puts("\n");
  }
}

uint32_t *tinyc_mcu_paint_below(uint32_t sp) {
  uint32_t *p = __stack_limit;
  painted_sp = sp;
  uint32_t *end = (uint32_t *)(uintptr_t)(sp - 64u); /* this function's own frame */
  while (p < end) *p++ = TINYC_MCU_STACK_PATTERN;
  return p;
}

uint32_t tinyc_mcu_stack_used(uint32_t sp) {
  const uint32_t used = scan_used(sp);
  return used > deepest ? used : deepest;
}
