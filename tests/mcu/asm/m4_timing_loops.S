/* Small Cortex-M4 loops whose cycle counts follow from the Technical Reference Manual
   (ARM DDI 0439D, Tables 3-1 and 7-1), for tests/mcu/test_cycle_model.py. Each function
   takes a pointer to 64 readable, writable words in r0. */
    .syntax unified
    .thumb
    .text

    .macro function name
    .global \name
    .type \name, %function
    .align 2
\name:
    .endm

/* 100 iterations of two ALU instructions and a conditional branch */
function loop_alu
    movs r1, #100
1:  adds r2, r2, #1
    subs r1, r1, #1
    bne 1b
    bx lr
    .size loop_alu, . - loop_alu

/* 50 iterations: two pipelined loads, a dual MAC, a store */
function loop_loads
    movs r1, #50
1:  ldr r2, [r0]
    ldr r3, [r0, #4]
    smlad r12, r2, r3, r12
    str r12, [r0, #8]
    subs r1, r1, #1
    bne 1b
    bx lr
    .size loop_loads, . - loop_loads

/* 20 iterations of a double load, a load multiple, a store after an ALU op */
function loop_multiple
    push {r4, r5, lr}
    movs r1, #20
1:  ldrd r2, r3, [r0]
    ldmia r0, {r2, r3, r4, r5}
    adds r2, r2, r3
    ldrb r4, [r0, #1]
    subs r1, r1, #1
    bne 1b
    pop {r4, r5, pc}
    .size loop_multiple, . - loop_multiple

/* 10 iterations of single-precision arithmetic: load, multiply-accumulate, divide, add */
function loop_float
    vldr s1, [r0]
    movs r1, #10
1:  vldr s0, [r0, #4]
    vmla.f32 s1, s0, s0
    vdiv.f32 s2, s1, s0
    vadd.f32 s1, s1, s2
    subs r1, r1, #1
    bne 1b
    bx lr
    .size loop_float, . - loop_float

/* 5 iterations of an integer divide and a compare-and-branch that falls through */
function loop_divide
    movs r1, #5
    movs r2, #1
1:  sdiv r3, r1, r2
    cbz r3, 2f
    subs r1, r1, #1
    bne 1b
2:  bx lr
    .size loop_divide, . - loop_divide

/* 20 iterations of four pipelined loads whose fourth is the first instruction of a 1 KiB
   page: QEMU ends its translation blocks at the page boundary, the core does not, so the
   fourth load still costs 1 (it comes right after a load) */
    .balign 1024
    .space 1016
function loop_page
    movs r2, #20
1:  ldr r3, [r0]
    ldr r1, [r0, #4]
    ldr r3, [r0, #8]
    ldr r1, [r0, #12]
    subs r2, r2, #1
    bne 1b
    bx lr
    .size loop_page, . - loop_page
