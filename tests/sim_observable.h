// Whether this build can observe cuda-sim's memory accesses (not under AddressSanitizer, whose
// instrumentation the observed build's would collide with): a test that needs them returns at
// once when not, the skip said with the reason.
#pragma once
#include <doctest/doctest.h>

#include <string>

#include "nnlab/sim/observe.h"

namespace nnlab::testing {

inline bool sim_observable() {
  std::string why = sim::observation_unavailable_reason();
  if (!why.empty()) MESSAGE("skipping: cuda-sim cannot observe memory accesses in this build: " << why);
  return why.empty();
}

}  // namespace nnlab::testing
