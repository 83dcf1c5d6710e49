/* A tiny host program that embeds tinyc's generated C.
 *
 * It includes the generated header, owns the input and output buffers, and calls
 * MODEL_run once per sample. Build it together with every .c file in the output
 * directory of `tinyc MODEL -o OUT --name model`:
 *
 *   cc -std=c99 -O2 -I OUT OUT/(all .c files) main.c -lm -o demo
 *   ./demo images.f32 [labels.i64]
 *
 * images.f32 holds N samples of MODEL_INPUT0_SIZE float32 values back to back; the
 * optional labels.i64 holds N int64 class labels. It prints the predicted class of the
 * first samples and, with labels, the accuracy over all of them. */
#include <stdio.h>
#include <stdint.h>

#include "model.h"

static float input[MODEL_INPUT0_SIZE];
static float output[MODEL_OUTPUT0_SIZE];

static int argmax(const float *v, int n) {
  int i, best = 0;
  for (i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

int main(int argc, char **argv) {
  FILE *images, *labels = NULL;
  long n = 0, correct = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s images.f32 [labels.i64]\n", argv[0]);
    return 2;
  }
  images = fopen(argv[1], "rb");
  if (!images) return 2;
  if (argc > 2 && !(labels = fopen(argv[2], "rb"))) return 2;
  printf("model: %d inputs, %d outputs, arena %d bytes\n", MODEL_NUM_INPUTS, MODEL_NUM_OUTPUTS,
         MODEL_ARENA_SIZE);
  while (fread(input, sizeof input, 1, images) == 1) {
    int64_t label = -1;
    int predicted;
    if (model_run(input, output) != 0) return 1;
    predicted = argmax(output, MODEL_OUTPUT0_SIZE);
    if (labels && fread(&label, sizeof label, 1, labels) == 1 && label == predicted) ++correct;
    if (n < 8) printf("sample %ld: predicted %d (label %ld)\n", n, predicted, (long)label);
    ++n;
  }
  fclose(images);
  if (labels) {
    fclose(labels);
    printf("accuracy: %ld/%ld = %.2f%%\n", correct, n, n ? 100.0 * correct / n : 0.0);
  }
  return 0;
}
