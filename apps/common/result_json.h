// A run's result as JSON and back: compare_devices --json writes it, and a child job that ran
// one point of a ranks sweep (apps/common/ranks.h) hands its result to the parent with it.
#pragma once
#include <nlohmann/json.hpp>

#include "apps/common/experiment.h"

namespace nnlab::apps {

nlohmann::json run_json(const RunResult& run, bool with_profile);
// The inverse of run_json; throws std::runtime_error naming the field that is missing or wrong.
RunResult run_from_json(const nlohmann::json& j);

}  // namespace nnlab::apps
