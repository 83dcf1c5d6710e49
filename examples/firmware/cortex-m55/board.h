/* The little this example needs from the board: a console and a way to stop. */
#ifndef BOARD_H
#define BOARD_H

void board_init(void);
void board_puts(const char *s);
void board_put_int(long v);
/* Ends the program. Under QEMU this exits the emulator (semihosting); on hardware it
 * parks the core. */
void board_exit(int status);

#endif /* BOARD_H */
