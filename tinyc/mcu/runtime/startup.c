/* Minimal Cortex-M startup for the tinyc harness: vector table, reset, fault report.
 *
 * Reset copies .data from flash, zeroes .bss, turns the FPU on when the code is built for
 * one, calls main and exits through semihosting with main's return value. A fault prints
 * its name and exits with status 99, so a crash never hangs the test run. */
#include <stdint.h>

#include "tinyc_mcu.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];
int main(void);
void tinyc_mcu_reset(void);
void tinyc_mcu_systick_handler(void);

static void fault(const char *what) {
  tinyc_mcu_puts("TINYC-MCU fault: ");
  tinyc_mcu_puts(what);
  tinyc_mcu_puts("\n");
  tinyc_mcu_exit(99);
}

static void nmi(void) { fault("NMI"); }
static void hard_fault(void) { fault("HardFault"); }
static void mem_manage(void) { fault("MemManage"); }
static void bus_fault(void) { fault("BusFault"); }
static void usage_fault(void) { fault("UsageFault"); }
static void secure_fault(void) { fault("SecureFault"); }
static void unexpected(void) { fault("unexpected exception"); }

typedef void (*vector)(void);

__attribute__((section(".vectors"), used)) const vector tinyc_mcu_vectors[16] = {
    (vector)(uintptr_t)__stack_top, /* initial MSP */
    tinyc_mcu_reset,
    nmi,
    hard_fault,
    mem_manage,
    bus_fault,
    usage_fault,
    secure_fault,
    0,
    0,
    0,
    unexpected, /* SVCall */
    unexpected, /* DebugMonitor */
    0,
    unexpected, /* PendSV */
    tinyc_mcu_systick_handler,
};

void tinyc_mcu_reset(void) {
  uint32_t *src = __data_load, *dst = __data_start;
  while (dst < __data_end) *dst++ = *src++;
  for (dst = __bss_start; dst < __bss_end; ++dst) *dst = 0u;
#if defined(__ARM_FP)
  /* CPACR: full access to CP10 and CP11 (the FPU) */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  tinyc_mcu_exit(main());
}
