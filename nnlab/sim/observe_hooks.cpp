// The hooks GCC's -fsanitize=thread and -fsanitize-coverage=trace-pc instrumentation calls
// from the observed build of the kernels, defined here instead of by the sanitizers' runtimes
// (never linked): loads, stores and basic blocks go to the observer of the block this OS
// thread runs, with the code address they come from; outside an observed block they return
// at once. Atomics in instrumented host
// code (the observed backend's) are plain atomics. This file itself is not instrumented.
#include "nnlab/sim/observer.h"

namespace {
using nnlab::sim::AccessOp;
using nnlab::sim::detail::t_observer;

inline void hook(void* p, unsigned size, AccessOp op, void* code) {
  if (nnlab::sim::detail::BlockObserver* o = t_observer)
    o->record(reinterpret_cast<uintptr_t>(p), size, op, reinterpret_cast<uintptr_t>(code));
}
// A range (an aggregate copy) as the widest accesses a GPU would make of it.
inline void hook_range(void* p, unsigned long size, AccessOp op, void* code) {
  if (!t_observer) return;
  auto* bytes = static_cast<char*>(p);
  for (unsigned long at = 0; at < size; at += 16) hook(bytes + at, unsigned(size - at < 16 ? size - at : 16), op, code);
}
}  // namespace

extern "C" {
#define NNLAB_SIM_ACCESS_HOOKS(n)                                                                                     \
  void __tsan_read##n(void* p) { hook(p, n, AccessOp::Load, __builtin_return_address(0)); }                           \
  void __tsan_write##n(void* p) { hook(p, n, AccessOp::Store, __builtin_return_address(0)); }                         \
  void __tsan_unaligned_read##n(void* p) { hook(p, n, AccessOp::Load, __builtin_return_address(0)); }                 \
  void __tsan_unaligned_write##n(void* p) { hook(p, n, AccessOp::Store, __builtin_return_address(0)); }
NNLAB_SIM_ACCESS_HOOKS(1)
NNLAB_SIM_ACCESS_HOOKS(2)
NNLAB_SIM_ACCESS_HOOKS(4)
NNLAB_SIM_ACCESS_HOOKS(8)
NNLAB_SIM_ACCESS_HOOKS(16)
#undef NNLAB_SIM_ACCESS_HOOKS

// GCC's -fsanitize-coverage=trace-pc calls this at the top of every basic block of the
// observed build: the block begins at the return address.
void __sanitizer_cov_trace_pc() {
  if (nnlab::sim::detail::BlockObserver* o = t_observer)
    o->record_block(reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
}

void __tsan_read_range(void* p, unsigned long size) { hook_range(p, size, AccessOp::Load, __builtin_return_address(0)); }
void __tsan_write_range(void* p, unsigned long size) { hook_range(p, size, AccessOp::Store, __builtin_return_address(0)); }
void __tsan_init() {}
void __tsan_func_entry(void*) {}
void __tsan_func_exit() {}
void __tsan_vptr_update(void**, void*) {}
void __tsan_vptr_read(void**) {}

// ThreadSanitizer's atomic interface (memory orders ignored: sequentially consistent).
#define NNLAB_SIM_ATOMICS(bits, type)                                                                        \
  type __tsan_atomic##bits##_load(const volatile type* a, int) { return __atomic_load_n(a, __ATOMIC_SEQ_CST); } \
  void __tsan_atomic##bits##_store(volatile type* a, type v, int) { __atomic_store_n(a, v, __ATOMIC_SEQ_CST); } \
  type __tsan_atomic##bits##_exchange(volatile type* a, type v, int) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); } \
  type __tsan_atomic##bits##_fetch_add(volatile type* a, type v, int) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); } \
  type __tsan_atomic##bits##_fetch_sub(volatile type* a, type v, int) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); } \
  type __tsan_atomic##bits##_fetch_and(volatile type* a, type v, int) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); } \
  type __tsan_atomic##bits##_fetch_or(volatile type* a, type v, int) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); } \
  type __tsan_atomic##bits##_fetch_xor(volatile type* a, type v, int) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); } \
  type __tsan_atomic##bits##_fetch_nand(volatile type* a, type v, int) { return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST); } \
  int __tsan_atomic##bits##_compare_exchange_strong(volatile type* a, type* c, type v, int, int) {          \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                  \
  }                                                                                                          \
  int __tsan_atomic##bits##_compare_exchange_weak(volatile type* a, type* c, type v, int, int) {            \
    return __atomic_compare_exchange_n(a, c, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                   \
  }                                                                                                          \
  type __tsan_atomic##bits##_compare_exchange_val(volatile type* a, type c, type v, int, int) {             \
    __atomic_compare_exchange_n(a, &c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                        \
    return c;                                                                                                \
  }
NNLAB_SIM_ATOMICS(8, char)
NNLAB_SIM_ATOMICS(16, short)
NNLAB_SIM_ATOMICS(32, int)
NNLAB_SIM_ATOMICS(64, long long)
#undef NNLAB_SIM_ATOMICS
void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
}
