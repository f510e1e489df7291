/* Posterior smoothing, threshold, suppression and the fault state: see kws_decide.h. */
#include "kws_decide.h"

#include <string.h>

static const char *const labels[] = {"silence", "unknown", "yes",   "no",         "up",
                                     "down",    "left",    "right", "background", "sensor_fault"};

const char *kws_label(int label) { return labels[label]; }

void kws_decider_init(kws_decider_t *d) { memset(d, 0, sizeof *d); }

kws_decision_t kws_decide(kws_decider_t *d, const int8_t *scores, int fault)
{
    kws_decision_t out = {KWS_LABEL_BACKGROUND, 0, -1};
    if (fault || d->fault_hold) {
        if (fault) d->fault_hold = KWS_FAULT_HOLD;
        else d->fault_hold--;
        d->n = 0; /* the smoothing restarts on plausible audio only */
        d->after_fault = KWS_AFTER_FAULT;
        out.label = KWS_LABEL_FAULT;
        out.score_permille = 1000;
        return out;
    }
    for (uint32_t c = 0; c < KWS_N_CLASSES; c++) d->post[d->head][c] = (uint8_t)(scores[c] + 128);
    d->head = (d->head + 1u) % KWS_SMOOTH;
    if (d->n < KWS_SMOOTH) d->n++;
    uint32_t best = 0, best_sum = 0, bg_sum = 0;
    for (uint32_t c = 0; c < KWS_N_CLASSES; c++) {
        uint32_t sum = 0;
        for (uint32_t i = 0; i < d->n; i++) sum += d->post[i][c];
        if (c < KWS_FIRST_KEYWORD) bg_sum += sum;
        else if (sum > best_sum) best_sum = sum, best = c;
    }
    /* mean over KWS_SMOOTH posteriors even while fewer are in: a detection needs enough evidence */
    int32_t best_pm = (int32_t)(best_sum * 1000u / (KWS_SMOOTH * 256u));
    out.score_permille = (int32_t)(bg_sum * 1000u / (KWS_SMOOTH * 256u));
    if (d->after_fault) {
        d->after_fault--;
        return out;
    }
    if (d->suppress) {
        d->suppress--;
        return out;
    }
    if (best_pm >= KWS_THRESHOLD_PERMILLE) {
        out.label = (int)best;
        out.score_permille = best_pm;
        out.wake = (int)(best - KWS_FIRST_KEYWORD);
        d->detections++;
        d->suppress = KWS_SUPPRESS;
        d->n = 0;
    }
    return out;
}
