#pragma once

namespace tflite {

struct Registration {
    int (*invoke)(unsigned char *arena, int x);
};

extern const Registration kRegistrations[];
extern const int kNumRegistrations;

class OpResolver {
public:
    virtual int Find(int op) const;
};

class MicroInterpreter {
public:
    MicroInterpreter(const unsigned char *model, unsigned char *arena, const OpResolver &resolver);
    int Invoke(int steps);

private:
    const unsigned char *model_;
    unsigned char *arena_;
    const OpResolver &resolver_;
};

}  // namespace tflite
