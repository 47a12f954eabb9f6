// Host wrappers of the kernels whose memory counters can be worked out by hand, and of the
// kernels with (and without) the bugs compute-sanitizer's tools find (tests/observe_kernels.cu).
// Included inside the build's namespace; pointers are device memory.
// One warp: out[i] = in[offset + i * stride] for i < 32.
void strided_copy(const float* in, float* out, int stride, int offset);
void float4_copy(const float* in, float* out);  // one warp, 32 float4 (512 bytes)
void broadcast(const float* in, float* out);     // one warp: out[i] = in[0], and s[0] of shared
void half_warp_copy(const float* in, float* out);  // lanes 0..15 of one warp copy, 16..31 idle
// A 32x32 tile in shared memory written by rows and read by columns: 32x32 floats (every
// column in one bank) or 32x33 (the padding spreads a column over all banks).
void transpose_tile(const float* in, float* out, bool padded);
void count_atomically(int* counter, int blocks, int threads);  // atomicAdd(counter, 1) per thread

// Bugs, each with its fix: `buggy` false runs the correct version.
void copy_n(const float* in, float* out, int n, bool buggy);      // buggy: i <= n, one past the end
void float4_at(const float* in, float* out, int offset_floats);   // offset 1: misaligned float4
void shared_neighbour(float* out, bool buggy);                    // buggy: lane 31 reads s[32] of s[32]
void dynamic_shared_neighbour(float* out, bool buggy);            // the same in dynamic shared memory
void warp_exchange(const float* in, float* out, bool buggy);      // buggy: no __syncwarp between
void read_input(const float* in, float* out, int n);              // reads in: initcheck's subject
void block_local_handoff(float* scratch, float* out, bool buggy); // buggy: no __syncthreads
