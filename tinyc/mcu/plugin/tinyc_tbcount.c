/* tinyc_tbcount: a QEMU TCG plugin that counts how often each translation block runs.
 *
 * Built by tinyc (tinyc/mcu/tbcount.py) with the host C compiler. Debian and Ubuntu ship no
 * qemu-plugin.h, so the few entry points used here are declared below from QEMU's
 * documented plugin API; the API version QEMU checks at load time is TINYC_QEMU_PLUGIN_API
 * (tinyc rebuilds with the number QEMU asks for when it refuses one).
 *
 * Per translated block it keeps its start address, its instruction count, how often it
 * ran and how often it was left by a jump (the next block did not start where this one
 * ends: a taken branch). Each time the guest enters the function at `mark=<hex address>`
 * the counts gathered since the previous mark are written to `out=<path>` as one region:
 *
 *     region
 *     <vaddr hex> <instructions> <executions> <taken exits>
 *     ...
 *     end
 *
 * and zeroed. tinyc decodes the instructions from the ELF and costs them. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TINYC_QEMU_PLUGIN_API
#define TINYC_QEMU_PLUGIN_API 1
#endif

#define EXPORT __attribute__((visibility("default")))

/* --- the public plugin API entry points used (declared from QEMU's documentation) --- */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* never dereferenced here */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS = 0 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);

EXPORT int qemu_plugin_version = TINYC_QEMU_PLUGIN_API;

/* --- counting --- */
struct block {
  uint64_t vaddr, end; /* first instruction, first byte after the last one */
  uint64_t insns, runs, taken;
};

static struct block **blocks; /* every block translated, in translation order */
static size_t n_blocks, cap_blocks;
static struct block *previous;
static uint64_t mark;
static FILE *out;

static void dump_region(void) {
  size_t i;
  fputs("region\n", out);
  for (i = 0; i < n_blocks; ++i) {
    struct block *b = blocks[i];
    if (b->runs == 0 && b->taken == 0) continue;
    fprintf(out, "%" PRIx64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", b->vaddr, b->insns,
            b->runs, b->taken);
    b->runs = 0;
    b->taken = 0;
  }
  fputs("end\n", out);
  fflush(out);
}

static void on_exec(unsigned int vcpu_index, void *userdata) {
  struct block *b = userdata;
  (void)vcpu_index;
  /* the exit of the block that ran before belongs to the region it ran in */
  if (previous != NULL && previous->end != b->vaddr) previous->taken++;
  previous = b;
  if (b->vaddr == mark) dump_region();
  b->runs++;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  size_t n = qemu_plugin_tb_n_insns(tb);
  struct qemu_plugin_insn *last;
  struct block *b;
  (void)id;
  if (n == 0) return;
  b = calloc(1, sizeof *b);
  if (b == NULL) abort();
  if (n_blocks == cap_blocks) {
    cap_blocks = cap_blocks ? 2 * cap_blocks : 1024;
    blocks = realloc(blocks, cap_blocks * sizeof *blocks);
    if (blocks == NULL) abort();
  }
  blocks[n_blocks++] = b;
  last = qemu_plugin_tb_get_insn(tb, n - 1);
  b->vaddr = qemu_plugin_tb_vaddr(tb);
  b->end = qemu_plugin_insn_vaddr(last) + qemu_plugin_insn_size(last);
  b->insns = n;
  qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS, b);
}

static void at_exit(qemu_plugin_id_t id, void *userdata) {
  (void)id;
  (void)userdata;
  dump_region();
  fclose(out);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                               char **argv) {
  const char *path = NULL;
  int i;
  (void)info;
  for (i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "out=", 4) == 0) path = argv[i] + 4;
    if (strncmp(argv[i], "mark=", 5) == 0) mark = strtoull(argv[i] + 5, NULL, 16);
  }
  if (path == NULL || mark == 0) {
    fputs("tinyc_tbcount: needs out=<path> and mark=<hex address>\n", stderr);
    return -1;
  }
  out = fopen(path, "w");
  if (out == NULL) return -1;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, at_exit, NULL);
  return 0;
}
