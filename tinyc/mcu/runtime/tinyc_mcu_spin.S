/* void tinyc_mcu_spin(uint32_t loops): exactly 2 * loops instructions in the loop body.
   Unified syntax assembles to the same two 16-bit instructions on ARMv6-M and ARMv7-M. */
    .syntax unified
    .thumb
    .text
    .global tinyc_mcu_spin
    .type tinyc_mcu_spin, %function
    .align 2
tinyc_mcu_spin:
1:  subs r0, r0, #1
    bne 1b
    bx lr
    .size tinyc_mcu_spin, . - tinyc_mcu_spin
