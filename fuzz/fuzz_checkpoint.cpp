// Training checkpoints: a safetensors file whose metadata and tensors must match the model
// (the MNIST MLP) and the optimizer (Adam) they are loaded into.
#include "fuzz/fuzz_input.h"
#include "nnlab/backends/registry.h"
#include "nnlab/core/checkpoint.h"
#include "nnlab/models/zoo.h"
#include "nnlab/optim/optimizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nnlab;
  static Backend& backend = get_backend("reference");
  static Generator gen(0);
  static auto model = models::make_model("mlp", Shape{1, 28, 28}, 10, backend, gen);
  static optim::Adam optimizer(model->parameters(), AdamParams{});
  std::string path = fuzz::write_input(data, size, "fuzz.ckpt");
  fuzz::expect_success_or_clear_error(path, [&] { load_checkpoint(path, *model, optimizer); });
  return 0;
}
