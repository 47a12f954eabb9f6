// The registry of backends by name. It lives outside nnlab/core/ because it knows every concrete
// backend; core only knows the Backend interface. GPU backends appear only where a device
// exists; asking for one elsewhere is an error that lists what is available.
#pragma once
#include <string>
#include <vector>

#include "nnlab/core/backend.h"

namespace nnlab {

// Every backend this binary knows, available here or not, in display order.
std::vector<std::string> known_backends();
// Those usable on this machine.
std::vector<std::string> available_backends();
// Why a known backend is not available ("" when it is).
std::string unavailable_reason(const std::string& name);
// Whether a known backend runs on a GPU (cuda-sim does not), answered without creating it;
// throws std::invalid_argument for an unknown name.
bool runs_on_gpu(const std::string& name);
// The process-wide instance; throws std::invalid_argument naming the backend and listing the
// available ones when it is unknown or unavailable.
Backend& get_backend(const std::string& name);
// cuda-sim over the observed build of the kernels (nnlab/sim/observe.h), for counters and
// checks; throws std::invalid_argument saying why when this build cannot observe.
Backend& get_observed_sim_backend();

}  // namespace nnlab
