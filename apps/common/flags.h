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
// --backend, for the apps that train on one backend at a time.
void add_backend_flag(CLI::App& app, ExperimentConfig& config);

// A parse-time check that a floating-point flag's value (each value, for a list) is finite and
// within `range`; the error names the flag and the range.
CLI::Validator finite_in(const NumberRange& range);

// Exit codes of every app: 0 success, 1 a run failed (bad data, backend error), 2 usage error.
enum ExitCode { kOk = 0, kRunFailed = 1, kUsage = 2 };

// Parses argv, then runs body(); turns every error into a message on stderr and an exit code.
int run_app(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace nnlab::apps
