// Models by name, for the apps: each built for a sample shape {c, h, w} and a class count.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nnlab/core/random.h"
#include "nnlab/nn/module.h"

namespace nnlab::models {

// Every model make_model builds, in display order.
std::vector<std::string> model_names();
// Throws std::invalid_argument "unknown model 'NAME'; known: ..." unless make_model knows it.
void check_model_name(const std::string& name);
// Throws std::invalid_argument naming the model (and the known ones) or the shape problem.
std::shared_ptr<nn::Module> make_model(const std::string& name, const Shape& sample,
                                       int64_t classes, Backend& backend, Generator& gen);

}  // namespace nnlab::models
