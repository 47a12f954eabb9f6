// compare_devices --experiment NAME: the reference notebooks' runs as named recipes. A preset
// only sets the starting values; every flag given on the command line overrides its field.
#pragma once
#include <string>
#include <vector>

#include "apps/common/experiment.h"

namespace nnlab::apps {

struct Preset {
  std::string name, description;
  void (*apply)(ExperimentConfig&);
};
const std::vector<Preset>& presets();
std::string preset_names();  // "mnist-mlp, mnist-mlp-adam, ..."

// Finds `--experiment NAME` (or `--experiment=NAME`) in argv and, before the flags are
// declared and parsed, resets config to that preset; the flags then override its fields and
// an unknown name fails their parse (add_recipe_flags checks it).
void apply_preset_from_argv(int argc, char** argv, ExperimentConfig& config);

}  // namespace nnlab::apps
