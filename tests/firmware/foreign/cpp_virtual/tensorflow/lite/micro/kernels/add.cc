// Two "kernels" and the registration table TFLM-style code calls them through (a const array of function pointers
// in .rodata); built into libtflm.a.
#include "tensorflow/lite/micro/micro_interpreter.h"

namespace tflite {

static int AddEval(unsigned char *arena, int x)
{
    volatile unsigned char scratch[24];
    for (int i = 0; i < 24; i++) {
        scratch[i] = (unsigned char)(arena[i] + x);
    }
    return scratch[3] + x;
}

static int MulEval(unsigned char *arena, int x)
{
    volatile unsigned char scratch[72];
    for (int i = 0; i < 72; i++) {
        scratch[i] = (unsigned char)(arena[i] * x);
    }
    return scratch[5] * x;
}

const Registration kRegistrations[] = {{AddEval}, {MulEval}};
const int kNumRegistrations = 2;

}  // namespace tflite
