/*
 * Exact retired-instruction counts and exact budget stops for QEMU 7.2 (system mode, one vCPU), as a TCG plugin.
 *
 * The count lives in a small file the host maps too (state=PATH), so the host reads it at any moment, and after
 * QEMU is gone (a semihosting exit, an abort on lockup, a kill) without asking QEMU anything.
 *
 * Counting: an inline add before every instruction. Per instruction rather than per translation block, because a
 * block can be left part-way (an I/O access recompiled as the block's last instruction, a precise fault) and a
 * per-block add would count its tail too; QEMU re-runs a recompiled I/O instruction with memory callbacks only, so
 * the per-instruction count stays exact.
 *
 * Budget (budget=N): QEMU 7.2's plugin API cannot stop the VM, and a per-instruction check costs a helper call
 * each. So: a per-block check until the count is within WINDOW of the budget, then the plugin resets itself (the
 * translation cache is flushed) and every newly translated instruction gets a checking callback. When N
 * instructions have retired, the callback, before the next one runs, publishes count and PC and holds the vCPU
 * thread (QEMU's main loop, hence QMP and the monitor, keep running: the host reads registers, which the callback
 * asked QEMU to write back to the CPU state; R15 is stale inside a block, the PC published here is the real one).
 * The host ends QEMU, or sets `release` to let it run on.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* Longer than the longest translation block (TCG_MAX_INSNS = 512): the flush takes effect at a block boundary. */
#define WINDOW 4096

enum { RUNNING = 0, HELD = 1, OVERSHOT = 2, EXITED = 3 };

/* The shared page; the host (engines/qemu/plugin.py) reads it with the same layout: eight little-endian u64. */
struct shared {
    uint64_t magic;   /* "cosimic1" once the plugin is installed */
    uint64_t count;   /* instructions retired since reset */
    uint64_t state;   /* RUNNING, HELD, OVERSHOT, EXITED */
    uint64_t pc;      /* HELD: the address of the next instruction (not yet executed) */
    uint64_t budget;  /* 0: none */
    uint64_t release; /* the host sets it non-zero to let a held vCPU run on */
    uint64_t precise; /* 1 once per-instruction checking is on */
    uint64_t reserved;
};

static struct shared *sh;
static qemu_plugin_id_t self;

static void on_exit_cb(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    if (sh->state == RUNNING) {
        sh->state = EXITED;
    }
    msync(sh, sizeof *sh, MS_SYNC);
}

static void hold(uint64_t pc)
{
    sh->pc = pc;
    __atomic_store_n(&sh->state, HELD, __ATOMIC_SEQ_CST);
    msync(sh, sizeof *sh, MS_SYNC);
    struct timespec pause = {0, 200000};
    while (!__atomic_load_n(&sh->release, __ATOMIC_SEQ_CST)) {
        nanosleep(&pause, NULL);
    }
    sh->state = RUNNING;
    sh->budget = 0;
}

static void insn_check(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    if (sh->budget && sh->count == sh->budget && sh->state == RUNNING) {
        hold((uint64_t)(uintptr_t)udata);
    }
    sh->count++;
}

static void precise_on(qemu_plugin_id_t id);

static void tb_check(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (!sh->precise && sh->budget && sh->count + WINDOW >= sh->budget) {
        sh->precise = 1;
        qemu_plugin_reset(self, precise_on);
    }
    if (sh->budget && sh->count > sh->budget && sh->state == RUNNING) {
        sh->state = OVERSHOT; /* never expected; the host then reports the stop as approximate */
    }
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    if (sh->precise) {
        for (size_t i = 0; i < n; i++) {
            struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
            void *pc = (void *)(uintptr_t)qemu_plugin_insn_vaddr(insn);
            qemu_plugin_register_vcpu_insn_exec_cb(insn, insn_check, QEMU_PLUGIN_CB_R_REGS, pc);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        qemu_plugin_register_vcpu_insn_exec_inline(qemu_plugin_tb_get_insn(tb, i), QEMU_PLUGIN_INLINE_ADD_U64,
                                                   &sh->count, 1);
    }
    if (sh->budget) {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_check, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
}

static void precise_on(qemu_plugin_id_t id)
{
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    const char *path = NULL;
    uint64_t budget = 0;
    if (!info->system_emulation) {
        fprintf(stderr, "cosim icount plugin: system emulation only\n");
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "state=", 6) == 0) {
            path = argv[i] + strlen("state=");
        } else if (strncmp(argv[i], "budget=", 7) == 0) {
            budget = strtoull(argv[i] + strlen("budget="), NULL, 10);
        } else {
            fprintf(stderr, "cosim icount plugin: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "cosim icount plugin: state=PATH is required\n");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, 4096) != 0) {
        perror("cosim icount plugin: state file");
        return -1;
    }
    sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (sh == MAP_FAILED) {
        perror("cosim icount plugin: mmap");
        return -1;
    }
    memset(sh, 0, sizeof *sh);
    self = id;
    sh->budget = budget;
    sh->precise = budget != 0 && budget <= WINDOW;
    memcpy(&sh->magic, "cosimic1", 8);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
