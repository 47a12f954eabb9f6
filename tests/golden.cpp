#include "tests/golden.h"

#include "nnlab/backends/registry.h"
#include "nnlab/core/ops.h"
#include "nnlab/data/idx.h"
#include "nnlab/data/loader.h"
#include "nnlab/data/paths.h"
#include "nnlab/models/zoo.h"
#include "nnlab/optim/optimizer.h"

namespace nnlab::testing {

std::vector<float> first_losses(const std::string& backend_name, int steps, int threads,
                                const std::string& model, int64_t batch) {
  Backend& be = get_backend(backend_name);
  int before = be.threads();
  if (threads > 0) be.set_threads(threads);
  auto train = std::make_shared<data::MnistIdx>(data::dataset_dir("mnist"), data::Split::Train);
  data::LoaderOptions o;
  o.seed = 0;
  o.batch_size = batch;
  data::DataLoader loader(train, o);
  Generator gen(0);
  auto mlp = models::make_model(model, Shape{1, 28, 28}, 10, be, gen);
  SgdParams p;
  p.lr = 0.01;
  optim::Sgd sgd(mlp->parameters(), p);
  loader.start_epoch(0);
  std::vector<float> losses;
  for (int s = 0; s < steps; ++s) {
    auto b = loader.next();
    Tensor x = Tensor::from_host(b->images, b->shape, be);
    Tensor y = Tensor::from_host(b->labels, Shape{b->shape[0]}, be);
    Tensor out = mlp->forward(x);
    Tensor loss = model == "mlp" ? ops::nll_loss(out, y) : ops::cross_entropy(out, y);
    sgd.zero_grad();
    loss.backward();
    sgd.step();
    losses.push_back(float(loss.item()));
  }
  be.set_threads(before);
  return losses;
}

}  // namespace nnlab::testing
