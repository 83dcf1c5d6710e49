/* Firmware example: a tinyc model on a Cortex-M4 (Arm MPS2 AN386 board, or QEMU's model
 * of it). It classifies four handwritten digits with the bundled digits CNN and prints
 * the predictions on UART0.
 *
 * The model is plain generated C: include its header, own the input and output buffers,
 * call model_run. Nothing is allocated; the model's RAM is its static arena. */
#include <stdint.h>

#include "board.h"
#include "model.h"

#if MODEL_INPUT0_SIZE != 64 || MODEL_OUTPUT0_SIZE != 10
#error "this main.c feeds 8x8 digit images to a 10-class model: adapt it to your model"
#endif

/* Four digits from the held-out set: 8x8 pixels, 0..16, and the true label. */
static const struct {
  int label;
  uint8_t pixels[64];
} samples[4] = {
    {0, {
          0,  0,  4, 12, 14,  5,  0,  0,
          0,  0, 11, 16, 16, 16,  3,  0,
          0,  3, 16, 14,  2, 16,  7,  0,
          0,  8, 16,  7,  0, 16,  6,  0,
          0,  4, 16,  4,  3, 16,  4,  0,
          0,  4, 16,  5, 10, 14,  0,  0,
          0,  0, 14, 16, 16, 10,  0,  0,
          0,  0,  4, 14, 14,  2,  0,  0,
     }},
    {8, {
          0,  0,  2, 12, 16, 10,  0,  0,
          0,  3, 15, 10,  7, 16,  4,  0,
          0,  9,  8,  0, 11, 10,  0,  0,
          0,  3, 15, 11, 14,  1,  0,  0,
          0,  0, 10, 16,  9,  0,  0,  0,
          0,  0, 14,  7, 13,  4,  0,  0,
          0,  0,  9,  7,  6, 10,  0,  0,
          0,  0,  1, 12, 16,  5,  0,  0,
     }},
    {3, {
          0,  1, 12, 16, 16,  9,  0,  0,
          0,  2, 14,  5,  9, 14,  0,  0,
          0,  0,  0,  1, 12, 11,  0,  0,
          0,  0,  0, 12, 16,  6,  0,  0,
          0,  0,  0,  2,  8, 15,  5,  0,
          0,  0,  2,  0,  0, 11,  9,  0,
          0,  4, 14,  4,  4, 14,  6,  0,
          0,  0, 15, 16, 16, 11,  1,  0,
     }},
    {8, {
          0,  0,  0,  3, 12, 10,  0,  0,
          0,  0,  1, 14,  6, 15,  0,  0,
          0,  0,  0, 16,  6, 10,  0,  0,
          0,  0,  0, 14, 16,  2,  0,  0,
          0,  0,  3, 14, 15,  3,  0,  0,
          0,  1, 16,  4,  9,  9,  0,  0,
          0,  0,  4, 13,  4,  7,  8,  0,
          0,  0,  0,  3, 10, 11, 15,  2,
     }},
};

static float input[MODEL_INPUT0_SIZE];
static float output[MODEL_OUTPUT0_SIZE];

static int argmax(const float *v, int n) {
  int i, best = 0;
  for (i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

int main(void) {
  int s, i, correct = 0;
  board_init();
  board_puts("tinyc digits demo: arena ");
  board_put_int(MODEL_ARENA_SIZE);
  board_puts(" bytes\n");
  for (s = 0; s < 4; ++s) {
    int predicted;
    for (i = 0; i < MODEL_INPUT0_SIZE; ++i) input[i] = (float)samples[s].pixels[i] / 16.0f;
    if (model_run(input, output) != 0) {
      board_puts("model_run failed\n");
      return 1;
    }
    predicted = argmax(output, MODEL_OUTPUT0_SIZE);
    correct += predicted == samples[s].label;
    board_puts("sample ");
    board_put_int(s);
    board_puts(": predicted ");
    board_put_int(predicted);
    board_puts(" (label ");
    board_put_int(samples[s].label);
    board_puts(")\n");
  }
  board_puts("correct: ");
  board_put_int(correct);
  board_puts("/4\n");
  return 0;
}
