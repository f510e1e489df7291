/* SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND int8 (NHWC; NHC as NH1C): the output walked as (row phase, column phase,
 * batch, row, column) runs of `depth` bytes, each copied from input + batch * batch_stride + h_offset + w_offset, or
 * filled with pad_value where either offset is -1. The compiler builds the offset tables from the block shape and
 * the paddings / crops; BATCH_TO_SPACE_ND has one phase each way and folds the phases into the tables. */
#ifndef COSIM_NN_OPS_SPACE_TO_BATCH_ND_H
#define COSIM_NN_OPS_SPACE_TO_BATCH_ND_H
#include <stdint.h>

typedef struct {
    int32_t blocks_h, blocks_w, batches, out_h, out_w, depth;
    int32_t batch_stride;
    int32_t pad_value;
    const int32_t *h_offset; /* blocks_h * out_h entries */
    const int32_t *w_offset; /* blocks_w * out_w entries */
} cosim_space_to_batch_nd_t;

void cosim_space_to_batch_nd_s8(const cosim_space_to_batch_nd_t *p, const int8_t *in, int8_t *out);

#endif
