/* MPS3 AN547 board support (Cortex-M55): UART0 (CMSDK APB UART; its secure alias, as the
 * core runs secure from reset) for the console; semihosting to exit QEMU. Replace this
 * file when moving to another board. */
#include "board.h"

#include <stdint.h>

#define UART0_BASE 0x59303000u
#define UART0_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART0_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART0_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART0_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TX_FULL 1u
#define UART_CTRL_TX_EN 1u

void board_init(void) {
  UART0_BAUDDIV = 25000000u / 115200u; /* 25 MHz peripheral clock */
  UART0_CTRL = UART_CTRL_TX_EN;
}

static void put_char(char c) {
  while (UART0_STATE & UART_STATE_TX_FULL) {
  }
  UART0_DATA = (uint32_t)(unsigned char)c;
}

void board_puts(const char *s) {
  for (; *s; ++s) {
    if (*s == '\n') put_char('\r');
    put_char(*s);
  }
}

void board_put_int(long v) {
  char buf[24];
  int i = 23;
  unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
  buf[i] = '\0';
  do {
    buf[--i] = (char)('0' + (int)(u % 10u));
    u /= 10u;
  } while (u != 0u);
  if (v < 0) buf[--i] = '-';
  board_puts(buf + i);
}

void board_exit(int status) {
#ifdef BOARD_QEMU
  /* semihosting SYS_EXIT_EXTENDED: QEMU exits with `status` */
  uint32_t block[2];
  register uint32_t r0 __asm__("r0") = 0x20u;
  register uint32_t *r1 __asm__("r1") = block;
  block[0] = 0x20026u; /* ADP_Stopped_ApplicationExit */
  block[1] = (uint32_t)status;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
#else
  (void)status;
#endif
  for (;;) {
  }
}
