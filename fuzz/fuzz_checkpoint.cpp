// Training checkpoints: a safetensors file whose metadata and tensors must match the model and
// the optimizer they are loaded into: the MLP on 1x4x4 images of 2 classes, the model of the
// seeds scripts/fuzz writes (small, so that whole checkpoints fit in -max_len), with Adam and
// with SGD momentum, so that both optimizers' state is restored.
#include "fuzz/fuzz_input.h"
#include "nnlab/backends/registry.h"
#include "nnlab/backends/registry.h"
#include "nnlab/core/checkpoint.h"
#include "nnlab/core/checkpoint.h"
#include "nnlab/models/zoo.h"
#include "nnlab/optim/optimizer.h"
#include "nnlab/optim/optimizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nnlab;
  static Backend& backend = get_backend("reference");
  static Generator gen(0);
  static auto model = models::make_model("mlp", Shape{1, 4, 4}, 2, backend, gen);
  static optim::Adam adam(model->parameters(), AdamParams{});
  static optim::Sgd sgd(model->parameters(), SgdParams{0.01, 0.9, 0, 0, false});
  std::string path = fuzz::write_input(data, size, "fuzz.ckpt");
  for (optim::Optimizer* optimizer :
       {static_cast<optim::Optimizer*>(&adam), static_cast<optim::Optimizer*>(&sgd)})
    fuzz::expect_success_or_clear_error(path, [&] { load_checkpoint(path, *model, *optimizer); });
  return 0;
}
