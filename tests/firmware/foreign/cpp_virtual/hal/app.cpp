// The application: a project folder that happens to be named `hal` (it is the product's code, not a vendor HAL).
// A base class with two overrides called through a dispatcher (virtual calls), an interpreter invoked with a
// different amount of work per call (for --measure), a tensor arena in .bss and a 1 KiB buffer on the stack.
#include <stdint.h>
#include <stdlib.h>

#include "tensorflow/lite/micro/micro_interpreter.h"

extern "C" uint32_t HAL_GetTick(void);
extern const unsigned char kws_weights[];

namespace {

alignas(16) unsigned char tensor_arena[4096];

class Shape {
public:
    virtual int Area(int scale) const
    {
        return scale;
    }
};

class Square : public Shape {
public:
    int Area(int scale) const override
    {
        volatile int side[8] = {scale, scale};
        return side[0] * side[1];
    }
};

class Circle : public Shape {
public:
    int Area(int scale) const override
    {
        volatile int r[40] = {scale};
        return 3 * r[0] * r[0];
    }
};

const Square square;
const Circle circle;
const Shape *const shapes[] = {&square, &circle};

}  // namespace

__attribute__((noinline)) int Dispatch(const Shape *s, int scale)
{
    return s->Area(scale);
}

__attribute__((noinline)) int FillStack(int seed)
{
    volatile unsigned char buf[1024];
    for (unsigned i = 0; i < sizeof buf; i++) {
        buf[i] = (unsigned char)(seed + i);
    }
    return buf[seed & 1023];
}

int main(void)
{
    tflite::OpResolver resolver;
    tflite::MicroInterpreter interpreter(kws_weights, tensor_arena, resolver);
    int acc = (int)HAL_GetTick();
    for (int i = 0; i < 4; i++) {
        acc += Dispatch(shapes[i & 1], i + 1);
        acc += interpreter.Invoke(i + 1);
    }
    acc += FillStack(acc);
    return acc == 0x7fffffff ? 1 : 0;
}
