// SampleStore: a dataset's pixels (and an IDX file's bytes as read), uninitialised until filled,
// read in shuffled order one sample at a time. Stores of 2 MiB or more are backed by 2 MiB
// pages where the OS offers them (Linux transparent huge pages, on request), because a shuffled
// read lands on a new 4 KiB page almost every sample: MNIST's 47 MB span 11,500 such pages, far
// more than the TLB holds, so each sample would start with a page-table walk (on a VM a walk of
// the guest's tables and the host's). Measured on the MLP recipe (one thread, x86-64-v3 build,
// alternating runs of 2 epochs, `train --profile`): the loader's time 21 -> 15 us a step in one
// hour, 55 -> 19 us (epoch 0.363 -> 0.339 s) in another, as this VM's page walks vary.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace nnlab::data {

class SampleStore {
 public:
  SampleStore() = default;
  explicit SampleStore(size_t size);  // `size` bytes, not initialised
  uint8_t* data() { return bytes_.get(); }
  const uint8_t* data() const { return bytes_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t[], Free> bytes_;
  size_t size_ = 0;
};

}  // namespace nnlab::data
