#include "models/zoo.h"

#include <stdexcept>

#include "models/mlp.h"

namespace nnlab::models {

std::vector<std::string> model_names() {
  return {"mlp"};
}

std::shared_ptr<nn::Module> make_model(const std::string& name, const Shape& sample,
                                       int64_t classes, Backend& backend, Generator& gen) {
  if (name == "mlp") return make_mlp(sample.numel(), {128}, classes, backend, gen);
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown model '" + name + "'; known: " + known);
}

}  // namespace nnlab::models
