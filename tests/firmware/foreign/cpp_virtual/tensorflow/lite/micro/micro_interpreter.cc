// A stand-in for TFLM's MicroInterpreter, built into libtflm.a as TFLM's own Makefile does: Invoke() runs every
// registered kernel through its function pointer (TfLiteRegistration-style table) and a virtual op resolver.
#include "tensorflow/lite/micro/micro_interpreter.h"

namespace tflite {

int OpResolver::Find(int op) const
{
    return op;
}

MicroInterpreter::MicroInterpreter(const unsigned char *model, unsigned char *arena, const OpResolver &resolver)
    : model_(model), arena_(arena), resolver_(resolver)
{
}

int MicroInterpreter::Invoke(int steps)
{
    int acc = 0;
    for (int i = 0; i < steps; i++) {
        const Registration &r = kRegistrations[resolver_.Find(i) % kNumRegistrations];
        acc += r.invoke(arena_, model_[8 + (i & 7)]);
    }
    return acc;
}

}  // namespace tflite
