/* model_runner: one compiled model (model.c from sim.models), fed over the data channel.
 *
 * Streams (host side: sim/models/firmware.py):
 *   0  host -> firmware  configuration, 8 bytes: u32 magic "CMR1", u32 flags (bit 0: send every intermediate tensor;
 *                        bit 1: profile, every layer in its own span "layer" nested in "inference")
 *   1  host -> firmware  input tensors, exactly COSIM_MODEL_INPUT_BYTES per read
 *   2  firmware -> host  output tensors, COSIM_MODEL_OUTPUT_BYTES per inference
 *   3  firmware -> host  intermediates (when asked): per layer u32 layer index, u32 byte count, the bytes
 * Every inference runs inside a span named "inference"; the loop ends at the end of stream 1 and exits 0.
 * Exit codes: 2 no data channel or configuration, 3 data channel error, 4 model error, 5 short input tensor.
 */
#include <stdint.h>

#include "cosim.h"
#include "model.h"

#define RUNNER_MAGIC 0x31524D43u /* "CMR1" */
#define RUNNER_FLAG_INTERMEDIATES (1u << 0)
#define RUNNER_FLAG_PROFILE (1u << 1)

static uint8_t arena[COSIM_MODEL_ARENA_BYTES] __attribute__((aligned(16)));
#ifdef COSIM_MODEL_INPUT_ARENA_OFFSET
/* One input and one output: read the input straight into its tensor in the arena and send the output from its
 * tensor, as a TFLM application does, so the runner adds no RAM of its own that the model would not need on the board.
 * The invoke's input and output copies are then onto themselves: the same bytes and, the offsets being 16-aligned
 * like a buffer, the same instructions as a copy from a separate buffer. */
static uint8_t *const input = arena + COSIM_MODEL_INPUT_ARENA_OFFSET;
static uint8_t *const output = arena + COSIM_MODEL_OUTPUT_ARENA_OFFSET;
#else
/* several inputs or outputs travel packed: buffers of their own, 16-aligned so no float32 tensor is misaligned */
static uint8_t input[COSIM_MODEL_INPUT_BYTES] __attribute__((aligned(16)));
static uint8_t output[COSIM_MODEL_OUTPUT_BYTES] __attribute__((aligned(16)));
#endif

#ifdef COSIM_RUNNER_FAULT_LAYER
#ifndef COSIM_RUNNER_FAULT_ELEMENT
#define COSIM_RUNNER_FAULT_ELEMENT 0u
#endif
/* Test hook (tests/test_model_runner_qemu.py): corrupt one element of one layer's output, so that the host's
 * mismatch reporting is exercised end to end on a real difference. Never defined in normal builds. */
static void inject_fault(uint32_t layer, const void *data, uint32_t bytes, void *user)
{
    (void)user;
    if (layer == COSIM_RUNNER_FAULT_LAYER && bytes > COSIM_RUNNER_FAULT_ELEMENT)
        ((uint8_t *)(uintptr_t)data)[COSIM_RUNNER_FAULT_ELEMENT] ^= 1u;
}
#endif

typedef struct {
    uint32_t flags;
    int write_failed;
} runner_state_t;

/* After every layer when intermediates or profiling are on. Span reporting happens outside the measured intervals
 * (cosim_span_end reads the counter first, cosim_span_begin last), so per-layer spans hold only the kernels' work. */
static void after_layer(uint32_t layer, const void *data, uint32_t bytes, void *user)
{
    runner_state_t *st = (runner_state_t *)user;
    if (st->flags & RUNNER_FLAG_PROFILE) cosim_span_end();
#ifdef COSIM_RUNNER_FAULT_LAYER
    inject_fault(layer, data, bytes, 0);
#endif
    if (st->flags & RUNNER_FLAG_INTERMEDIATES) {
        uint32_t head[2] = {layer, bytes};
        /* A write error must not end the run from inside the model: remember it and report after the inference. */
        if (cosim_write(3, head, sizeof head) < 0 || cosim_write(3, data, bytes) < 0) st->write_failed = 1;
    }
    if ((st->flags & RUNNER_FLAG_PROFILE) && layer + 1u < COSIM_MODEL_LAYERS) cosim_span_begin("layer");
}

int main(void)
{
    uint32_t config[2] = {0, 0};
    int32_t n = cosim_read(0, config, sizeof config, 0);
    if (n != (int32_t)sizeof config || config[0] != RUNNER_MAGIC) {
        cosim_puts("model_runner: no data channel or no configuration on stream 0\n");
        return 2;
    }
#if COSIM_MODEL_STATE_BYTES > 0
    /* a stateful model (LSTM / SVDF) starts from its reset state and carries it from input to input, as one TFLM
       interpreter does */
    cosim_model_reset(arena);
#endif
    runner_state_t st = {config[1], 0};
    const int with_cb = (st.flags & (RUNNER_FLAG_INTERMEDIATES | RUNNER_FLAG_PROFILE)) != 0;
    int32_t count = 0;
    cosim_read_info_t info = {0, 0, 0};
    for (;;) {
        /* inputs are all due at once in a batch run; honour next_due anyway, as a paced acquisition loop would */
        while (info.next_due != UINT64_MAX && cosim_instructions() < info.next_due) {
        }
        n = cosim_read(1, input, COSIM_MODEL_INPUT_BYTES, &info);
        if (n < 0) {
            cosim_puts("model_runner: data channel error on stream 1\n");
            return 3;
        }
        if (n > 0 && n != (int32_t)COSIM_MODEL_INPUT_BYTES) {
            cosim_mark("short_input", n);
            return 5;
        }
        if (n > 0) {
            st.write_failed = 0;
            cosim_span_begin("inference");
            if (st.flags & RUNNER_FLAG_PROFILE) cosim_span_begin("layer");
            int rc = with_cb ? cosim_model_invoke_cb(arena, input, output, after_layer, &st)
#ifdef COSIM_RUNNER_FAULT_LAYER
                             : cosim_model_invoke_cb(arena, input, output, inject_fault, 0);
#else
                             : cosim_model_invoke(arena, input, output);
#endif
            cosim_span_end();
            if (rc != 0) {
                cosim_mark("model_error", rc);
                return 4;
            }
            if (st.write_failed || cosim_write(2, output, COSIM_MODEL_OUTPUT_BYTES) < 0) {
                cosim_puts("model_runner: data channel error on stream 2/3\n");
                return 3;
            }
            count++;
        }
        if (info.flags & COSIM_READ_END_OF_STREAM) break;
    }
    cosim_mark("inferences", count);
#ifdef COSIM_KERNELS_CMSIS_NN
    /* firmware/nn/cmsis: calls that ran a ref kernel instead of CMSIS-NN (0 when every scratch fitted) */
    cosim_mark("nn_fallbacks", (int32_t)cosim_nn_fallback_count());
#endif
    return 0;
}
