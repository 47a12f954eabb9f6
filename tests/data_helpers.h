// Helpers shared by the data tests.
#pragma once
#include <vector>

#include "nnlab/data/loader.h"

namespace nnlab::testing {

// Every batch of one epoch, in order.
inline std::vector<data::Batch> all_batches(data::DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<data::Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

}  // namespace nnlab::testing
