// TFLM's hello_world (the sine model), as its example runs it: MicroInterpreter with a FullyConnected resolver,
// the int8 model, four inputs; results printed with newlib's semihosting printf (rdimon). TFLM's own MicroPrintf
// goes there too (its debug-log callback) in builds that keep error strings; release builds strip them.
#include <math.h>
#include <stdio.h>

#include "tensorflow/lite/core/c/common.h"
#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"
#include "tensorflow/lite/micro/examples/hello_world/models/hello_world_int8_model_data.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

extern "C" void initialise_monitor_handles(void);

namespace {
constexpr int kTensorArenaSize = 3000;
alignas(16) uint8_t tensor_arena[kTensorArenaSize];

void log_to_stdout(const char* s) { fputs(s, stdout); }
}  // namespace

int main() {
  initialise_monitor_handles();
  RegisterDebugLogCallback(log_to_stdout);
  tflite::InitializeTarget();

  const tflite::Model* model = tflite::GetModel(g_hello_world_int8_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) return 2;
  tflite::MicroMutableOpResolver<1> op_resolver;
  if (op_resolver.AddFullyConnected() != kTfLiteOk) return 3;
  tflite::MicroInterpreter interpreter(model, op_resolver, tensor_arena, kTensorArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) return 4;
  TfLiteTensor* input = interpreter.input(0);
  TfLiteTensor* output = interpreter.output(0);

  const float x[4] = {0.77f, 1.57f, 2.3f, 3.14f};
  const int8_t x_q[4] = {-96, -63, -34, 0};
  int failed = 0;
  for (int i = 0; i < 4; ++i) {
    input->data.int8[0] = x_q[i];
    if (interpreter.Invoke() != kTfLiteOk) return 5;
    float y = (output->data.int8[0] - output->params.zero_point) * output->params.scale;
    int ok = fabsf(sinf(x[i]) - y) <= 0.05f;
    failed += !ok;
    // newlib-nano's printf has no %f: thousandths as integers.
    printf("tflm_hello: sin(%d/1000) ~ %d/1000 %s\n", static_cast<int>(x[i] * 1000), static_cast<int>(y * 1000),
           ok ? "ok" : "WRONG");
  }
  printf("tflm_hello: arena used %d of %d bytes\n", static_cast<int>(interpreter.arena_used_bytes()), kTensorArenaSize);
  return failed;
}
