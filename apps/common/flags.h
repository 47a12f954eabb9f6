// Command-line flags shared by the apps, and their common main() wrapper.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

#include "apps/common/experiment.h"
#include "apps/common/presets.h"

namespace nnlab::apps {

// The recipe flags (--experiment, --model, --data, --epochs, ...); --backend is added by the
// apps that take one. Call apply_preset_from_argv (apps/common/presets.h) first.
void add_recipe_flags(CLI::App& app, ExperimentConfig& config);

// Exit codes of every app: 0 success, 1 a run failed (bad data, backend error), 2 usage error.
enum ExitCode { kOk = 0, kRunFailed = 1, kUsage = 2 };

// Parses argv, then runs body(); turns every error into a message on stderr and an exit code.
int run_app(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace nnlab::apps
