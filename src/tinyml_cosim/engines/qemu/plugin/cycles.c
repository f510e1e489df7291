/*
 * Cycle profile for QEMU 7.2 (system mode, one vCPU, -icount shift=0), as a TCG plugin: the dynamic half of the
 * Cortex-M cycle estimate of issue 15. Interface (cost table in, profile file out): docs in
 * docs/cycles.md ("File formats"), mirrored by engines/qemu/cycleplugin.py and the cycles/ package.
 *
 * Arguments: costs=PATH (the cost table), profile=PATH (the mapped output file), insns=N (insn table capacity,
 * default 1<<20), snapshots=N (snapshot capacity, default 1<<18), decode=0 (no load decoding, see Data loads:
 * every load through a memory callback; slower, the same counts: for tests).
 *
 * Everything is written straight into a file-backed shared mapping as it happens, so the host reads the profile at
 * any moment (a GDB stop, a budget hold) and after QEMU is gone (semihosting exit, abort, kill).
 *
 * Counting. Every instruction gets inline adds (no helper call): its entry's exec count, its base cycles into its
 * class counter and into the running cycle total, and the started-instruction count. Inline ops run before the
 * instruction, so an instruction that faults part-way is counted and costed as executed. An instruction the table
 * does not list is class 15, base 1, and counted in the unknown-instruction counter (executions, not addresses).
 *
 * Control transfers and exceptions. One exec callback per translation block (NO_REGS) looks at the block that ran
 * before it. The started-instruction count tells how many of its instructions ran (a block can be left part-way: a
 * precise fault, or an I/O access that QEMU re-runs in a one-instruction, memory-callbacks-only block), which gives
 * the last instruction that really ran and its fall-through address. If this block's pc differs from it:
 *   - this block starts an exception handler (a `handler` line of the table: the vector table's entries) and is
 *     not the previous block itself (a handler's `b .` loop): an exception entry, `exception_entry` cycles;
 *   - else the last instruction may transfer control (flag bit2): a taken transfer; its taken_extra goes into the
 *     taken-branch cycles and the total, the entry's `taken` counts transfers (a count, not cycles);
 *   - otherwise: an exception entry (interrupt, fault, SVC, a wake-up from WFI), `exception_entry` cycles.
 * Limits: QEMU takes interrupts between blocks, and most blocks end in a branch; the plugin API cannot read the
 * vector table (nor registers), hence the table's handler list. Without it, an exception taken right after a
 * control transfer is seen as that transfer. With it, the branch an interrupt follows is counted neither taken nor
 * not taken (its outcome is not seen), a direct call or jump to a handler's entry counts as an exception, and a
 * vector table moved at run time (VTOR) is not followed. A conditional branch whose target is its own
 * fall-through counts as not taken; exception return (EXC_RETURN through BX/POP/LDR PC) is costed as a plain
 * taken transfer; interrupt tail-chaining and late arrival are not modelled (each entry costs `exception_entry`).
 *
 * Instruction fetch. At each block execution the fetch model runs over the flash lines (fetch_bytes wide) the
 * block's instructions occupy, in order, each distinct line once per block execution:
 *   - outside the flash ranges: no stall;
 *   - a block entered by falling through (no transfer, no exception) whose first line is the line fetched last is
 *     still consuming that line: no new fetch (blocks QEMU ends at its size limits). A block that QEMU left
 *     part-way (an I/O access, re-run on its own, then the rest as a new block) had all its lines read at its
 *     start: the block that continues it reads none of those again;
 *   - ART instruction cache present: fully associative, LRU replacement, `icache <lines> <line_bytes>`
 *     (the tag: the line_bytes-aligned address of the fetch line); a hit costs nothing, a miss a flash read;
 *   - a flash read costs `wait_states`; but a sequential line (the one right after the line fetched last) with
 *     prefetch on was being read while the previous line's instructions executed: its stall is
 *     max(0, wait_states + 1 - base cycles of the instructions executed from the previous line). Reads the
 *     prefetch shortened (stall below wait_states) are counted as prefetch-hidden line fetches;
 *   - the stall of a line goes to the entry of the block's first instruction in that line (fetch_stall).
 * The line reads are charged for the whole block at its start: a block left part-way for an exception (a fault
 * in the middle) is charged in full.
 *
 * Data loads (flag bit0). A read from a flash range looks up the ART data cache (same LRU model, `dcache`; tag:
 * the line_bytes-aligned address); a hit is free, a miss, or any flash read without a data cache, stalls
 * `wait_states` into the entry's data_stall, and counts a flash load. Where the address comes from: a memory
 * callback for most loads; a PC-relative literal load (LDR/LDRB/LDRH/LDRSB/LDRSH/VLDR literal, decoded here
 * from the instruction's bytes) has its address fixed at translation and is charged by the block's callback, in
 * block order, at the block's start (saves a callback per literal; the order against the block's other loads
 * can differ, and a block left part-way is charged in full); a load addressed by SP (LDR [SP], POP, LDM/LDRD/VLDM
 * on SP) reads the stack, which is never in flash, and gets no callback. A read of the `timebase` address
 * records a snapshot of the counters (the load itself included); a polling loop (same pc, under 256 instructions
 * since the previous snapshot) overwrites its last snapshot instead of appending, except for a load the table flags
 * F_KEEP (16: a span's own counter read, whose snapshots are all needed even back to back).
 *
 * Load pipelining across memory blocks (`block` lines: address ranges with a block id; `stack_block`: the block of
 * SP-addressed loads). Every load's block is known in execution order: from its memory callback, or, for a literal
 * or a stack load (no callback), from an instruction callback registered only when the table has blocks. A load the
 * table flags F_PIPE (32: costed as pipelined with the load before it) whose block differs from the previous
 * load's takes one cycle more into its data stall, counted in header word 21. An address in no block is one more
 * block (peripherals); without `stack_block` a stack load's block is not known and breaks no chain.
 *
 * Tables. Entries appear in first-translation order, looked up by address: a re-translation (the exact-count
 * plugin flushes the translation cache near its budget; I/O re-runs) reuses the instruction's entry and the
 * block's private description. A full insn table sets header flag bit0 (later instructions still count in the
 * totals, through private entries); a full snapshot table sets bit1 and drops later snapshots.
 *
 * QEMU 7.2 quirks handled here: a read-only memory callback (QEMU_PLUGIN_MEM_R) is never called (registered as
 * MEM_RW, stores skipped); qemu_plugin_insn_size() says 4 for a 16-bit Thumb instruction the decoder peeked at
 * twice before a page boundary (sizes come from the encoding).
 *
 * Not modelled: bus contention (instruction fetch against data on the same bus), peripheral/AHB/APB wait states,
 * the write buffer (stores cost their base cycles only), unaligned accesses and line-crossing loads (one lookup per
 * access), interrupt tail-chaining and exception return cost, divide operands (QEMU 7.2 plugins cannot read
 * registers: UDIV/SDIV cost what the table says), the pipeline's overlap of loads (the table's base cycles carry
 * it, and F_PIPE above its one dynamic condition). Code in RAM or CCM fetches without stalls.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define PAGE 4096
#define N_CLASSES 16
#define CLASS_UNKNOWN 15
#define MAX_FLASH 8
#define POLL_WINDOW 256
#define MAX_BLOCKS 16
#define BLOCK_OTHER 0xFE /* an address in no listed memory block (peripherals ...) */
#define BLOCK_NONE 0xFF  /* not known: no load seen yet, or a stack load without `stack_block` */

/* F_KEEP: a timebase read whose every snapshot is kept (a span's own read: never merged as polling). */
/* F_PIPE: a single load costed as pipelined with the load before it: one cycle more when its memory block differs. */
enum { F_LOAD = 1, F_STORE = 2, F_BRANCH = 4, F_WIDE = 8, F_KEEP = 16, F_PIPE = 32 };

/* Header words, u64, little-endian (docs/cycles.md: the profile's page 0). */
enum {
    H_MAGIC, H_VERSION, H_N_INSNS, H_INSN_CAP, H_N_SNAPS, H_SNAP_CAP, H_FLAGS, H_INSTRUCTIONS, H_CYCLES, H_TAKEN,
    H_FETCH_STALL, H_DATA_STALL, H_EXC_ENTRIES, H_EXC_CYCLES, H_IC_HITS, H_IC_MISSES, H_DC_HITS, H_DC_MISSES,
    H_FLASH_LOADS, H_UNKNOWN, H_PREFETCH_HIDDEN, H_PIPE_BREAKS, H_CLASS = 32,
};
enum { HF_INSNS_FULL = 1, HF_SNAPS_FULL = 2 };

struct entry { /* 48 bytes, the profile's insn table */
    uint32_t addr;
    uint16_t size;
    uint8_t cls;
    uint8_t flags;
    uint64_t exec;
    uint64_t taken; /* transfers taken (count) */
    uint64_t fetch_stall;
    uint64_t data_stall;
    uint64_t flash_loads;
};

struct snapshot { /* 192 bytes */
    uint64_t instructions, cycles, taken, fetch_stall, data_stall, exception_cycles, pc, pipeline_breaks;
    uint64_t class_cycles[N_CLASSES];
};

_Static_assert(sizeof(struct entry) == 48, "entry layout");
_Static_assert(sizeof(struct snapshot) == 192, "snapshot layout");

/* One row of the cost table. */
struct cost {
    uint32_t addr;
    uint8_t size, cls, flags, used;
    uint32_t base, taken_extra;
};

/* A known instruction (private): its profile entry (or a private spill entry once the table is full). */
struct insn {
    struct insn *next; /* hash chain */
    struct entry *e;
    uint32_t addr, size, base, taken_extra;
    uint32_t dc_hint; /* data cache slot of its last access */
    uint32_t lit_addr; /* LOAD_LITERAL: the address it reads */
    uint8_t flags, load;
    uint8_t block; /* LOAD_LITERAL / LOAD_STACK: the memory block it reads (fixed at translation) */
};

enum { LOAD_DYNAMIC, LOAD_LITERAL, LOAD_STACK };

struct line {
    uint32_t addr;        /* fetch-line address */
    uint32_t base_sum;    /* base cycles of this block's instructions in the line */
    struct entry *first;  /* the block's first instruction in the line: its fetch stall */
    uint32_t ic_hint;     /* instruction cache slot it was found in last */
    uint8_t in_flash;
};

/* A load whose address is known at translation (PC-relative: a literal). */
struct literal {
    struct insn *in;
    uint32_t addr, idx; /* idx: its place in the block */
};

struct block {
    struct block *next; /* hash chain */
    uint64_t pc;
    uint32_t n, nlines;
    int handler; /* starts an exception handler */
    uint64_t end;       /* fall-through address of the last instruction */
    struct insn *last;  /* the last instruction (kept here: the common case reads no insn) */
    uint32_t nlits;
    struct insn **insns;
    struct line *lines;
    struct literal *lits;
};

/* Fully associative, least recently used out: a use stamp per slot (a miss scans for the oldest). */
struct lru {
    uint32_t n, used, line_bytes;
    uint32_t *tags;
    uint64_t *stamps;
    uint64_t clock;
};

static uint64_t *hdr;
static struct entry *entries;
static struct snapshot *snaps;
static uint64_t insn_cap, snap_cap;

static struct { uint64_t origin, size; } flash[MAX_FLASH];
static int n_flash;
static struct { uint64_t origin, size; uint8_t id; } blocks[MAX_BLOCKS];
static int n_blocks;
static uint8_t stack_block = BLOCK_NONE;
static uint8_t last_block = BLOCK_NONE; /* the memory block of the load that ran last */
static uint64_t wait_states, fetch_bytes = 16, prefetch, exception_entry, timebase;
static struct lru icache, dcache;
static uint64_t decode_loads = 1; /* decode=0: a memory callback for every load (to check the decoding) */

static uint32_t *handlers; /* exception handler entries, sorted */
static size_t n_handlers;
static struct cost *costs; /* open addressing on addr */
static size_t cost_mask;
static struct insn **insn_hash;
static size_t insn_mask;
static struct block **block_hash;
static size_t block_mask;

/* Dynamic state of the one vCPU. */
static const struct block *prev;
static uint64_t prev_start; /* instructions started before prev's first */
static int have_line;
static uint32_t last_line;
static uint64_t last_line_base; /* base cycles executed from last_line so far */

static size_t hash32(uint32_t a) { return (size_t)((a >> 1) * 2654435761u); }

static int in_flash(uint64_t a)
{
    for (int i = 0; i < n_flash; i++) {
        if (a - flash[i].origin < flash[i].size) {
            return 1;
        }
    }
    return 0;
}

/* A miss: the tag replaces the least recently used line (or fills a free slot). */
static uint32_t lru_miss(struct lru *c, uint32_t tag)
{
    uint32_t i = 0;
    if (c->used < c->n) {
        i = c->used++;
    } else {
        for (uint32_t k = 1; k < c->n; k++) {
            if (c->stamps[k] < c->stamps[i]) {
                i = k;
            }
        }
    }
    c->tags[i] = tag;
    return i;
}

/* 1 on a hit. `hint`: the slot the caller found the tag in last (a speed-up only: the answer is that of a full
 * search, as slots never move). */
static inline int lru_access(struct lru *c, uint32_t tag, uint32_t *hint)
{
    uint32_t i = *hint;
    int hit = 1;
    if (i >= c->used || c->tags[i] != tag) {
        for (i = 0; i < c->used && c->tags[i] != tag; i++) {
        }
        if (i == c->used) {
            hit = 0;
            i = lru_miss(c, tag);
        }
        *hint = i;
    }
    c->stamps[i] = ++c->clock;
    return hit;
}

/* Separate 8-byte accesses (volatile): the JIT's inline adds store these words one by one, and a merged 16-byte
 * load right after them would stall on store forwarding. */
static void add_cycles(uint64_t *counter, uint64_t n)
{
    *(volatile uint64_t *)counter += n;
    *(volatile uint64_t *)&hdr[H_CYCLES] += n;
}

/* Lines `b` need not read again: the tail of a block that was left part-way (fetched in full at its start) and
 * that `b` continues, line for line; else, falling through into the line being consumed, that line. */
static inline uint32_t already_fetched(const struct block *b, int continuous, const struct block *partial, uint32_t ran)
{
    if (!continuous) {
        return 0;
    }
    if (partial != NULL) { /* continuous, and the previous block was left part-way */
        uint32_t from = 0, line = partial->insns[ran - 1]->addr & ~(uint32_t)(fetch_bytes - 1);
        while (from < partial->nlines && partial->lines[from].addr != line) {
            from++;
        }
        uint32_t k = 0;
        while (k < b->nlines && from + k < partial->nlines && b->lines[k].addr == partial->lines[from + k].addr) {
            k++;
        }
        return k;
    }
    return b->nlines && have_line && b->lines[0].addr == last_line;
}

static inline void fetch_lines(struct block *b, uint32_t skip)
{
    for (uint32_t i = 0; i < b->nlines; i++) {
        struct line *l = &b->lines[i];
        if (i < skip) {
            last_line_base += l->base_sum;
            continue;
        }
        uint64_t stall = 0;
        if (l->in_flash) {
            int hit = 0;
            if (icache.n) {
                hit = lru_access(&icache, l->addr & ~(icache.line_bytes - 1), &l->ic_hint);
                hdr[hit ? H_IC_HITS : H_IC_MISSES]++;
            }
            if (!hit) {
                stall = wait_states;
                if (prefetch && have_line && l->addr == last_line + fetch_bytes) {
                    uint64_t overlap = last_line_base;
                    stall = overlap >= wait_states + 1 ? 0 : wait_states + 1 - overlap;
                    if (stall > wait_states) {
                        stall = wait_states;
                    }
                    if (stall < wait_states) {
                        hdr[H_PREFETCH_HIDDEN]++;
                    }
                }
            }
        }
        if (stall) {
            l->first->fetch_stall += stall;
            add_cycles(&hdr[H_FETCH_STALL], stall);
        }
        have_line = 1;
        last_line = l->addr;
        last_line_base = l->base_sum;
    }
}

static void flash_load(struct insn *in, uint64_t vaddr)
{
    in->e->flash_loads++;
    hdr[H_FLASH_LOADS]++;
    if (dcache.n) {
        int hit = lru_access(&dcache, (uint32_t)(vaddr & ~(uint64_t)(dcache.line_bytes - 1)), &in->dc_hint);
        hdr[hit ? H_DC_HITS : H_DC_MISSES]++;
        if (hit) {
            return;
        }
    }
    if (wait_states) {
        in->e->data_stall += wait_states;
        add_cycles(&hdr[H_DATA_STALL], wait_states);
    }
}

static uint8_t block_of(uint64_t a)
{
    for (int i = 0; i < n_blocks; i++) {
        if (a - blocks[i].origin < blocks[i].size) {
            return blocks[i].id;
        }
    }
    return BLOCK_OTHER;
}

/* Load pipelining holds only within one memory block (timings.LOAD_BLOCK_SOURCE): a load the table costed as
 * pipelined (F_PIPE) whose block differs from the previous load's takes the cycle the pipelining saved. */
static inline void load_block(struct insn *in, uint8_t blk)
{
    if (in->flags & F_PIPE && blk != last_block && blk != BLOCK_NONE && last_block != BLOCK_NONE) {
        in->e->data_stall += 1;
        hdr[H_PIPE_BREAKS]++;
        add_cycles(&hdr[H_DATA_STALL], 1);
    }
    last_block = blk;
}

/* A load whose address the block's translation fixed (a literal, a stack load): its memory block, in order. */
static void static_load_exec(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    struct insn *in = udata;
    load_block(in, in->block);
}

static void tb_exec(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    struct block *b = udata;
    uint64_t now = hdr[H_INSTRUCTIONS];
    int continuous = 0;
    uint64_t ran = 0;
    if (prev != NULL) {
        ran = now - prev_start;
        if (ran == 0 || ran > prev->n) {
            ran = prev->n;
        }
        const struct insn *last = prev->last;
        if (ran == prev->n) {
            continuous = b->pc == prev->end;
        } else {
            last = prev->insns[ran - 1];
            continuous = b->pc == (uint64_t)last->addr + last->size;
        }
        if (!continuous) {
            if (b->handler && b != prev) {
                hdr[H_EXC_ENTRIES]++;
                add_cycles(&hdr[H_EXC_CYCLES], exception_entry);
            } else if (last->flags & F_BRANCH) {
                last->e->taken++;
                add_cycles(&hdr[H_TAKEN], last->taken_extra);
            } else {
                hdr[H_EXC_ENTRIES]++;
                add_cycles(&hdr[H_EXC_CYCLES], exception_entry);
            }
        }
    }
    const struct block *partial = continuous && ran < prev->n ? prev : NULL;
    fetch_lines(b, already_fetched(b, continuous, partial, (uint32_t)ran));
    /* literals of a part-way block's tail were charged with it: not again in the block that continues it */
    uint32_t shared = 0;
    while (partial != NULL && shared < b->n && ran + shared < partial->n &&
           b->insns[shared] == partial->insns[ran + shared]) {
        shared++;
    }
    for (uint32_t i = 0; i < b->nlits; i++) {
        if (b->lits[i].idx >= shared) {
            flash_load(b->lits[i].in, b->lits[i].addr); /* only literals in flash are listed */
        }
    }
    prev = b;
    prev_start = now;
}

static void take_snapshot(uint64_t pc, int keep)
{
    uint64_t n = hdr[H_N_SNAPS];
    struct snapshot *s;
    if (!keep && n && snaps[n - 1].pc == pc && hdr[H_INSTRUCTIONS] - snaps[n - 1].instructions < POLL_WINDOW) {
        s = &snaps[n - 1];
    } else if (n < snap_cap) {
        s = &snaps[n];
    } else {
        hdr[H_FLAGS] |= HF_SNAPS_FULL;
        return;
    }
    s->instructions = hdr[H_INSTRUCTIONS];
    s->cycles = hdr[H_CYCLES];
    s->taken = hdr[H_TAKEN];
    s->fetch_stall = hdr[H_FETCH_STALL];
    s->data_stall = hdr[H_DATA_STALL];
    s->exception_cycles = hdr[H_EXC_CYCLES];
    s->pipeline_breaks = hdr[H_PIPE_BREAKS];
    s->pc = pc;
    memcpy(s->class_cycles, &hdr[H_CLASS], sizeof s->class_cycles);
    if (s == &snaps[n]) {
        hdr[H_N_SNAPS] = n + 1; /* published after the snapshot is complete */
    }
}

static void mem_exec(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)vcpu;
    struct insn *in = udata;
    if (qemu_plugin_mem_is_store(info)) {
        return;
    }
    if (timebase && vaddr == timebase) {
        take_snapshot(in->addr, in->flags & F_KEEP);
    }
    if (in_flash(vaddr)) {
        flash_load(in, vaddr);
    }
    if (n_blocks) {
        load_block(in, block_of(vaddr));
    }
}

static const struct cost *cost_of(uint32_t addr)
{
    for (size_t i = hash32(addr) & cost_mask;; i = (i + 1) & cost_mask) {
        if (!costs[i].used) {
            return NULL;
        }
        if (costs[i].addr == addr) {
            return &costs[i];
        }
    }
}

/* Which loads need a memory callback. A PC-relative load (a literal: LDR/LDRB/LDRH/LDRSB/LDRSH/VLDR) reads an
 * address known at translation: the block's callback charges it. A load addressed by SP (LDR [SP], POP, LDM/VLDM/
 * LDRD on SP) reads the stack, never flash: nothing to charge. Everything else: a memory callback. */
static uint8_t load_kind(const uint8_t *d, uint32_t size, uint32_t pc, uint32_t *lit)
{
    uint32_t hw = d[0] | (uint32_t)d[1] << 8, base = (pc + 4) & ~3u;
    if (size == 2) {
        if ((hw & 0xF800) == 0x4800) {
            *lit = base + ((hw & 0xFF) << 2);
            return LOAD_LITERAL;
        }
        return (hw & 0xF800) == 0x9800 || (hw & 0xFE00) == 0xBC00 ? LOAD_STACK : LOAD_DYNAMIC;
    }
    uint32_t hw2 = d[2] | (uint32_t)d[3] << 8, op = hw & 0xFF7F, rt = hw2 >> 12, up = hw & 0x80;
    if (op == 0xF85F || ((op == 0xF81F || op == 0xF83F || op == 0xF91F || op == 0xF93F) && rt != 15)) {
        *lit = up ? base + (hw2 & 0xFFF) : base - (hw2 & 0xFFF); /* Rt 15 with B/H/SB/SH: PLD/PLI, no load */
        return LOAD_LITERAL;
    }
    if ((hw & 0xFF3F) == 0xED1F && (hw2 & 0x0E00) == 0x0A00) { /* VLDR (literal), single or double */
        *lit = up ? base + ((hw2 & 0xFF) << 2) : base - ((hw2 & 0xFF) << 2);
        return LOAD_LITERAL;
    }
    uint32_t family = hw & 0xFE10;
    if ((family == 0xF810 || family == 0xE810 || family == 0xEC10) && (hw & 0xF) == 13) {
        return LOAD_STACK;
    }
    return LOAD_DYNAMIC;
}

/* The instruction at addr, known from an earlier translation or new (re-translation after a flush reuses it). */
static struct insn *insn_at(uint32_t addr, uint32_t size, const uint8_t *data)
{
    size_t h = hash32(addr) & insn_mask;
    for (struct insn *in = insn_hash[h]; in != NULL; in = in->next) {
        if (in->addr == addr && in->size == size) {
            return in;
        }
    }
    struct insn *in = calloc(1, sizeof *in);
    const struct cost *c = cost_of(addr);
    uint8_t cls = c ? c->cls : CLASS_UNKNOWN;
    in->addr = addr;
    in->size = size;
    in->base = c ? c->base : 1;
    in->taken_extra = c ? c->taken_extra : 0;
    in->flags = c ? c->flags : 0;
    in->load = in->flags & F_LOAD && decode_loads ? load_kind(data, size, addr, &in->lit_addr) : LOAD_DYNAMIC;
    if (in->load == LOAD_LITERAL && timebase && in->lit_addr == timebase) {
        in->load = LOAD_DYNAMIC;
    }
    in->block = in->load == LOAD_LITERAL ? block_of(in->lit_addr) : stack_block;
    if (hdr[H_N_INSNS] < insn_cap) {
        in->e = &entries[hdr[H_N_INSNS]];
        in->e->addr = addr;
        in->e->size = (uint16_t)size;
        in->e->cls = cls;
        in->e->flags = in->flags;
        hdr[H_N_INSNS]++;
    } else {
        /* Table full: the instruction still counts in the totals, through a private entry. */
        hdr[H_FLAGS] |= HF_INSNS_FULL;
        in->e = calloc(1, sizeof *in->e);
        in->e->addr = addr;
        in->e->cls = cls;
    }
    in->next = insn_hash[h];
    insn_hash[h] = in;
    return in;
}

/* From the encoding, not qemu_plugin_insn_size(): near the end of a (1 KiB) page QEMU's Thumb decoder reads a
 * 16-bit instruction twice (to see whether it is the first half of a 32-bit one), and the plugin API reports
 * 4 bytes for it. A first halfword 0b11101, 0b11110 or 0b11111 in bits 15..11 starts a 32-bit instruction. */
static uint32_t thumb_size(struct qemu_plugin_insn *qi)
{
    const uint8_t *data = qemu_plugin_insn_data(qi);
    if (qemu_plugin_insn_size(qi) < 2) {
        return (uint32_t)qemu_plugin_insn_size(qi);
    }
    unsigned top = data[1] >> 3;
    return top >= 0x1d ? 4 : 2;
}

static int is_handler(uint32_t pc)
{
    size_t lo = 0, hi = n_handlers;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (handlers[mid] < pc) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n_handlers && handlers[lo] == pc;
}

static struct block *block_for(struct qemu_plugin_tb *tb)
{
    uint64_t pc = qemu_plugin_tb_vaddr(tb);
    uint32_t n = (uint32_t)qemu_plugin_tb_n_insns(tb);
    struct insn *ins[n ? n : 1];
    for (uint32_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *qi = qemu_plugin_tb_get_insn(tb, i);
        ins[i] = insn_at((uint32_t)qemu_plugin_insn_vaddr(qi), thumb_size(qi), qemu_plugin_insn_data(qi));
    }
    size_t h = hash32((uint32_t)pc ^ (n << 20)) & block_mask;
    for (struct block *b = block_hash[h]; b != NULL; b = b->next) {
        if (b->pc == pc && b->n == n && memcmp(b->insns, ins, n * sizeof ins[0]) == 0) {
            return b;
        }
    }
    struct block *b = calloc(1, sizeof *b);
    b->pc = pc;
    b->n = n;
    b->handler = is_handler((uint32_t)pc);
    b->insns = malloc((n ? n : 1) * sizeof ins[0]);
    memcpy(b->insns, ins, n * sizeof ins[0]);
    b->last = n ? ins[n - 1] : NULL;
    b->end = n ? (uint64_t)ins[n - 1]->addr + ins[n - 1]->size : pc;
    b->lines = calloc(2 * (size_t)n + 1, sizeof *b->lines); /* an instruction spans at most two lines */
    for (uint32_t i = 0; i < n; i++) {
        uint64_t a = ins[i]->addr, end = a + ins[i]->size;
        for (uint64_t la = a & ~(fetch_bytes - 1); la < end; la += fetch_bytes) {
            uint32_t k;
            for (k = 0; k < b->nlines && b->lines[k].addr != (uint32_t)la; k++) {
            }
            if (k == b->nlines) {
                b->lines[k].addr = (uint32_t)la;
                b->lines[k].first = ins[i]->e;
                b->lines[k].in_flash = (uint8_t)in_flash(la);
                b->nlines++;
            }
            if (la <= a) {
                b->lines[k].base_sum += ins[i]->base; /* an instruction's cycles go to the line it starts in */
            }
        }
    }
    b->lits = calloc(n ? n : 1, sizeof *b->lits);
    for (uint32_t i = 0; i < n; i++) {
        if (ins[i]->flags & F_LOAD && ins[i]->load == LOAD_LITERAL && in_flash(ins[i]->lit_addr)) {
            b->lits[b->nlits++] = (struct literal){ins[i], ins[i]->lit_addr, i};
        }
    }
    b->next = block_hash[h];
    block_hash[h] = b;
    return b;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    struct block *b = block_for(tb);
    for (uint32_t i = 0; i < b->n; i++) {
        struct qemu_plugin_insn *qi = qemu_plugin_tb_get_insn(tb, i);
        struct insn *in = b->insns[i];
        qemu_plugin_register_vcpu_insn_exec_inline(qi, QEMU_PLUGIN_INLINE_ADD_U64, &in->e->exec, 1);
        qemu_plugin_register_vcpu_insn_exec_inline(qi, QEMU_PLUGIN_INLINE_ADD_U64, &hdr[H_INSTRUCTIONS], 1);
        if (in->base) {
            qemu_plugin_register_vcpu_insn_exec_inline(qi, QEMU_PLUGIN_INLINE_ADD_U64, &hdr[H_CLASS + in->e->cls],
                                                       in->base);
            qemu_plugin_register_vcpu_insn_exec_inline(qi, QEMU_PLUGIN_INLINE_ADD_U64, &hdr[H_CYCLES], in->base);
        }
        if (in->e->cls == CLASS_UNKNOWN) {
            qemu_plugin_register_vcpu_insn_exec_inline(qi, QEMU_PLUGIN_INLINE_ADD_U64, &hdr[H_UNKNOWN], 1);
        }
        if (in->flags & F_LOAD && in->load == LOAD_DYNAMIC) {
            /* MEM_RW, not MEM_R: QEMU 7.2 never calls a read-only memory callback (plugin-gen.c's op_rw tests
             * `cb->rw & (rw + 1)`, which is 0 for a read); mem_exec skips the stores. */
            qemu_plugin_register_vcpu_mem_cb(qi, mem_exec, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, in);
        } else if (in->flags & F_LOAD && n_blocks) { /* literal or stack: its block is known, its turn is not */
            qemu_plugin_register_vcpu_insn_exec_cb(qi, static_load_exec, QEMU_PLUGIN_CB_NO_REGS, in);
        }
    }
    /* Registered after the instructions' ops, but QEMU puts a block's callback before its first instruction. */
    qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS, b);
}

static void on_exit_cb(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    msync(hdr, PAGE, MS_SYNC);
}

/* --- the cost table --- */

static int bad(const char *path, int lineno, const char *what)
{
    fprintf(stderr, "cosim cycles plugin: %s:%d: %s\n", path, lineno, what);
    return -1;
}

static int pow2(uint64_t v) { return v && !(v & (v - 1)); }

static int lru_init(struct lru *c, uint64_t lines, uint64_t line_bytes)
{
    c->n = (uint32_t)lines;
    c->line_bytes = (uint32_t)line_bytes;
    c->tags = lines ? calloc(lines, sizeof *c->tags) : NULL;
    c->stamps = lines ? calloc(lines, sizeof *c->stamps) : NULL;
    return lines == 0 || (pow2(line_bytes) && c->tags != NULL && c->stamps != NULL);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int read_costs(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror("cosim cycles plugin: costs");
        return -1;
    }
    size_t cap = 1024, n = 0;
    struct cost *rows = malloc(cap * sizeof *rows);
    char buf[512];
    int lineno = 0, header = 0;
    while (fgets(buf, sizeof buf, f) != NULL) {
        lineno++;
        char *hash = strchr(buf, '#');
        if (hash != NULL) {
            *hash = '\0';
        }
        char word[32];
        int used = 0;
        if (sscanf(buf, "%31s%n", word, &used) != 1) {
            continue;
        }
        const char *rest = buf + used;
        uint64_t a, b;
        unsigned addr, size, cls, base, extra, flags;
        if (!header) {
            if (strcmp(word, "cosim-cycles-costs") != 0 || sscanf(rest, "%" SCNu64, &a) != 1 || a != 1) {
                fclose(f);
                return bad(path, lineno, "expected the first line `cosim-cycles-costs 1`");
            }
            header = 1;
        } else if (strcmp(word, "insn") == 0) {
            if (sscanf(rest, "%x %u %u %u %u %u", &addr, &size, &cls, &base, &extra, &flags) != 6 ||
                (size != 2 && size != 4) || cls >= N_CLASSES) {
                fclose(f);
                return bad(path, lineno, "expected `insn <addr_hex> <2|4> <class 0..15> <base> <taken_extra> <flags>`");
            }
            if (n == cap) {
                cap *= 2;
                rows = realloc(rows, cap * sizeof *rows);
            }
            rows[n++] = (struct cost){addr, (uint8_t)size, (uint8_t)cls, (uint8_t)flags, 1, base, extra};
        } else if (strcmp(word, "flash") == 0) {
            if (sscanf(rest, "%" SCNx64 " %" SCNx64, &a, &b) != 2 || n_flash == MAX_FLASH) {
                fclose(f);
                return bad(path, lineno, "expected `flash <origin_hex> <size_hex>` (at most 8)");
            }
            flash[n_flash].origin = a;
            flash[n_flash].size = b;
            n_flash++;
        } else if (strcmp(word, "wait_states") == 0 || strcmp(word, "fetch_bytes") == 0 ||
                   strcmp(word, "prefetch") == 0 || strcmp(word, "exception_entry") == 0) {
            if (sscanf(rest, "%" SCNu64, &a) != 1) {
                fclose(f);
                return bad(path, lineno, "expected one decimal number");
            }
            if (word[0] == 'w') {
                wait_states = a;
            } else if (word[0] == 'f') {
                if (!pow2(a)) {
                    fclose(f);
                    return bad(path, lineno, "fetch_bytes must be a power of two");
                }
                fetch_bytes = a;
            } else if (word[0] == 'p') {
                prefetch = a != 0;
            } else {
                exception_entry = a;
            }
        } else if (strcmp(word, "icache") == 0 || strcmp(word, "dcache") == 0) {
            if (sscanf(rest, "%" SCNu64 " %" SCNu64, &a, &b) != 2 ||
                !lru_init(word[0] == 'i' ? &icache : &dcache, a, b)) {
                fclose(f);
                return bad(path, lineno, "expected `icache|dcache <lines> <line_bytes, a power of two>` (0 0: none)");
            }
        } else if (strcmp(word, "timebase") == 0) {
            if (sscanf(rest, "%" SCNx64, &a) != 1) {
                fclose(f);
                return bad(path, lineno, "expected `timebase <addr_hex>`");
            }
            timebase = a;
        } else if (strcmp(word, "handler") == 0) {
            if (sscanf(rest, "%x", &addr) != 1) {
                fclose(f);
                return bad(path, lineno, "expected `handler <addr_hex>`");
            }
            handlers = realloc(handlers, (n_handlers + 1) * sizeof *handlers);
            handlers[n_handlers++] = addr & ~1u;
        } else if (strcmp(word, "block") == 0) {
            if (sscanf(rest, "%" SCNx64 " %" SCNx64 " %u", &a, &b, &cls) != 3 || n_blocks == MAX_BLOCKS ||
                cls >= BLOCK_OTHER) {
                fclose(f);
                return bad(path, lineno, "expected `block <origin_hex> <size_hex> <id 0..253>` (at most 16)");
            }
            blocks[n_blocks].origin = a;
            blocks[n_blocks].size = b;
            blocks[n_blocks].id = (uint8_t)cls;
            n_blocks++;
        } else if (strcmp(word, "stack_block") == 0) {
            if (sscanf(rest, "%u", &cls) != 1 || cls >= BLOCK_OTHER) {
                fclose(f);
                return bad(path, lineno, "expected `stack_block <id 0..253>`");
            }
            stack_block = (uint8_t)cls;
        } else if (strcmp(word, "class") == 0) {
            if (sscanf(rest, "%u", &cls) != 1 || cls >= N_CLASSES) {
                fclose(f);
                return bad(path, lineno, "expected `class <id 0..15> <name>`");
            }
        } else {
            fclose(f);
            return bad(path, lineno, "unknown item (cosim-cycles-costs 1 has flash, wait_states, fetch_bytes, "
                                     "prefetch, icache, dcache, exception_entry, timebase, handler, block, stack_block, "
                                     "class, insn)");
        }
    }
    fclose(f);
    if (!header) {
        return bad(path, lineno, "empty cost table");
    }
    if (n_handlers) {
        qsort(handlers, n_handlers, sizeof *handlers, cmp_u32);
    }
    size_t slots = 1024;
    while (slots < 2 * n) {
        slots *= 2;
    }
    costs = calloc(slots, sizeof *costs);
    cost_mask = slots - 1;
    for (size_t i = 0; i < n; i++) {
        size_t j = hash32(rows[i].addr) & cost_mask;
        while (costs[j].used && costs[j].addr != rows[i].addr) {
            j = (j + 1) & cost_mask;
        }
        costs[j] = rows[i];
    }
    free(rows);
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    *out = strtoull(s, &end, 0);
    return *s != '\0' && *end == '\0';
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    const char *costs_path = NULL, *profile = NULL;
    insn_cap = 1u << 20;
    snap_cap = 1u << 18;
    if (!info->system_emulation) {
        fprintf(stderr, "cosim cycles plugin: system emulation only\n");
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "costs=", 6) == 0) {
            costs_path = argv[i] + 6;
        } else if (strncmp(argv[i], "profile=", 8) == 0) {
            profile = argv[i] + 8;
        } else if (strncmp(argv[i], "insns=", 6) == 0 && parse_u64(argv[i] + 6, &insn_cap) && insn_cap) {
        } else if (strncmp(argv[i], "snapshots=", 10) == 0 && parse_u64(argv[i] + 10, &snap_cap)) {
        } else if (strncmp(argv[i], "decode=", 7) == 0 && parse_u64(argv[i] + 7, &decode_loads)) {
        } else {
            fprintf(stderr, "cosim cycles plugin: bad argument %s (costs=PATH profile=PATH [insns=N] "
                            "[snapshots=N] [decode=0|1])\n", argv[i]);
            return -1;
        }
    }
    if (costs_path == NULL || profile == NULL) {
        fprintf(stderr, "cosim cycles plugin: costs=PATH and profile=PATH are required\n");
        return -1;
    }
    if (read_costs(costs_path) != 0) {
        return -1;
    }
    size_t bytes = PAGE + insn_cap * sizeof(struct entry) + snap_cap * sizeof(struct snapshot);
    int fd = open(profile, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) {
        perror("cosim cycles plugin: profile file");
        return -1;
    }
    hdr = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (hdr == MAP_FAILED) {
        perror("cosim cycles plugin: mmap");
        return -1;
    }
    entries = (struct entry *)((char *)hdr + PAGE);
    snaps = (struct snapshot *)(entries + insn_cap);
    hdr[H_VERSION] = 1;
    hdr[H_INSN_CAP] = insn_cap;
    hdr[H_SNAP_CAP] = snap_cap;
    size_t slots = 1024;
    while (slots < insn_cap) {
        slots *= 2;
    }
    insn_hash = calloc(slots, sizeof *insn_hash);
    insn_mask = slots - 1;
    block_hash = calloc(slots, sizeof *block_hash);
    block_mask = slots - 1;
    memcpy(&hdr[H_MAGIC], "cosimcy1", 8); /* last: a reader sees the magic only over a complete header */
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
