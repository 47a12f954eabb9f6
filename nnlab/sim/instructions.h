// What a basic block of the observed kernels executes, for the instruction counters of
// observe.h: the simulator's own x86 code of the block (between two of GCC's coverage calls),
// disassembled with objdump once per block and classified as a GPU would execute the source
// it came from. Internal to the simulator.
//
// The rules, each for a reason that holds for any kernel:
//   - not counted: moves, loads of addresses (lea), sign extensions, pushes and pops, no-ops,
//     register zeroing, calls and returns. They are the CPU's data movement and calling
//     convention (the simulator's hooks and helpers are called), not the source's work; the
//     memory accesses, barriers and shuffles are counted apart, one instruction each.
//   - integer division and modulo: kIntegerDivisionInstructions each ("they compile to up to
//     20 instructions", CUDA C++ Programming Guide, Arithmetic Instructions).
//   - floating point: a multiply and an add of the same block fuse into one FMA, as nvcc
//     contracts them by default (-fmad=true); the simulator's ISO C++ keeps them apart.
//   - everything else (integer arithmetic, comparisons, branches, selects, conversions): one.
// A count of the source's work in the simulator's translation, not of nvcc's SASS: nvcc
// unrolls, hoists and vectorises differently, and folds into its loads' addressing the
// pointer increments GCC makes of unrolled indexing (docs/gpu_model.md names the gaps).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nnlab::sim::detail {

constexpr uint32_t kIntegerDivisionInstructions = 20;

struct BlockInstructions {
  uint32_t alu = 0;   // every counted instruction, fp32 included
  uint32_t fp32 = 0;  // of which floating point (after fusing)
};

// For the basic blocks that begin at these code addresses (the return addresses of their
// coverage calls), in order; all zero, with the reason in *unavailable, when objdump cannot
// be run. Cached per address.
std::vector<BlockInstructions> basic_block_instructions(const std::vector<uintptr_t>& code,
                                                        std::string* unavailable);

// The classification of one disassembled instruction in objdump's AT&T syntax ("addl",
// "%eax,%ebx"), for the tests.
enum class InstructionClass { NotCounted, Integer, Division, FloatMultiply, FloatAdd, FloatOther, Branch, BlockEnd };
InstructionClass classify(const std::string& mnemonic, const std::string& operands);

}  // namespace nnlab::sim::detail
