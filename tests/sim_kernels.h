// Host wrappers of the simulator's semantic test kernels (tests/sim_kernels.cu). Included
// inside the build's namespace; pointers are device memory.
void reverse_in_block(const float* in, float* out, int blocks, int threads);
void shift_synced(const float* in, float* out, int blocks, int threads);
void shift_racy(const float* in, float* out, int blocks, int threads);  // a planted missing barrier
void block_id_in_shared(int* out, int blocks, int threads);
void shuffle_ops(const int* in, int* out);  // one warp; out holds 5 x 32 values
void atomics(int* counter, float* fsum, int* imax, float* fmax, const float* values, int blocks,
             int threads);
void divergent_barrier(int* out);
void barrier_after_return(int* out);
void warp_op_vs_barrier(int* out);
void shuffle_partial_mask(int* out);
void shuffle_after_exit(int* out);
void read_dynamic_shared(float* out, int threads, size_t bytes, bool opt_in);
void empty_kernel_with_block(int x, int y, int z);
void empty_kernel_with_grid(unsigned x, unsigned y, unsigned z);
void write_one(float* p);  // *p = 1 (on a GPU, an invalid p raises a kernel fault)
// out[0..n) = a + b, [n..2n) = a - b, [2n..3n) = a * b, [3n..4n) = fma(a, b, c), each by
// CUDA's 16-bit intrinsic (__hadd, __hsub, __hmul, __hfma) on float16 or bfloat16 bits; no
// fma for bfloat16 (cuda_bf16.h has it from sm_80 only): out[3n..4n) is left as it was.
void half_arithmetic(const uint16_t* a, const uint16_t* b, const uint16_t* c, uint16_t* out, int n,
                     bool bfloat16);
