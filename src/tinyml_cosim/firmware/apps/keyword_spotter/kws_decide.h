/* Decision logic of the keyword spotter: posterior smoothing, a threshold, suppression after a detection, and the
 * sensor-fault state. Integer arithmetic on the model's int8 softmax (probability = (q + 128) / 256). */
#ifndef KWS_DECIDE_H
#define KWS_DECIDE_H
#include <stdint.h>

#define KWS_N_CLASSES 8u /* silence, unknown, then the keywords (models/kws/dataset.py CLASSES) */
#define KWS_FIRST_KEYWORD 2u
#ifndef KWS_STRIDE
#define KWS_STRIDE 12u /* hops between inferences: 240 ms */
#endif
#ifndef KWS_SMOOTH
#define KWS_SMOOTH 3u /* posteriors averaged */
#endif
#ifndef KWS_THRESHOLD_PERMILLE
#define KWS_THRESHOLD_PERMILLE 500
#endif
#ifndef KWS_SUPPRESS
#define KWS_SUPPRESS 4u /* inferences without a new detection after one (~1 s) */
#endif
#ifndef KWS_FAULT_HOLD
#define KWS_FAULT_HOLD 2u /* inferences a fault is still reported after the input looks plausible again */
#endif
#define KWS_AFTER_FAULT 4u /* inferences without detections after a fault: the window still holds faulty audio */

#define KWS_LABEL_BACKGROUND 8
#define KWS_LABEL_FAULT 9

typedef struct {
    int label;              /* a class index (keywords only), KWS_LABEL_BACKGROUND or KWS_LABEL_FAULT */
    int32_t score_permille; /* smoothed posterior of the decision */
    int wake;               /* keyword index (0 = first keyword) when this decision is a new detection, else -1 */
} kws_decision_t;

typedef struct {
    uint8_t post[KWS_SMOOTH][KWS_N_CLASSES];
    uint32_t n, head, suppress, fault_hold, after_fault, detections;
    int fault_reported;
} kws_decider_t;

void kws_decider_init(kws_decider_t *d);
kws_decision_t kws_decide(kws_decider_t *d, const int8_t *scores, int fault);
const char *kws_label(int label);

#endif
