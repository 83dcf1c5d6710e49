/* Cortex-M55 startup: the vector table, and a reset handler that sets up C (copies .data,
 * zeroes .bss, turns on the FPU and Helium), calls main and hands its status to board_exit. */
#include <stdint.h>

#include "board.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];
int main(void);
void reset_handler(void);

static void default_handler(void) {
  board_puts("unexpected exception or fault\n");
  board_exit(99);
}

typedef void (*vector)(void);

__attribute__((section(".vectors"), used)) const vector vector_table[16] = {
    (vector)(uintptr_t)__stack_top, /* initial stack pointer */
    reset_handler,
    default_handler, /* NMI */
    default_handler, /* HardFault */
    default_handler, /* MemManage */
    default_handler, /* BusFault */
    default_handler, /* UsageFault */
    0, 0, 0, 0,
    default_handler, /* SVCall */
    default_handler, /* DebugMonitor */
    0,
    default_handler, /* PendSV */
    default_handler, /* SysTick */
};

void reset_handler(void) {
  uint32_t *src = __data_load, *dst = __data_start;
  while (dst < __data_end) *dst++ = *src++;
  for (dst = __bss_start; dst < __bss_end; ++dst) *dst = 0u;
  /* CPACR: CP10 and CP11 enable the FPU and the MVE (Helium) vector unit alike, before
   * any float or vector instruction runs */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  board_exit(main());
}
