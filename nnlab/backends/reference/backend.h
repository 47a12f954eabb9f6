// The reference backend: plain single-threaded loops in float32 and float64, written for
// clarity; reductions accumulate in double. It is the oracle every other backend is
// tested against, and float64 gradient checks run on it.
#pragma once
#include "nnlab/backends/host/host_backend.h"

namespace nnlab::reference {

class ReferenceBackend : public host::HostBackend {
 public:
  std::string name() const override { return "reference"; }
  std::string device() const override { return "CPU, plain loops, 1 thread"; }
#include "nnlab/core/op_overrides.inc"
};

}  // namespace nnlab::reference
