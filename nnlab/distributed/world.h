// The processes of a data-parallel run. A process started by an MPI launcher (mpirun, or srun
// with an MPI plugin: its environment says so) joins the MPI world in init(); a process
// started alone is a world of one and never touches MPI, so a run without MPI is unchanged.
// Each rank is one process with its own backend; on a machine with GPUs it is bound to one
// GPU chosen from its rank among the ranks on that machine.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nnlab::distributed {

struct World {
  int rank = 0, size = 1;
  int local_rank = 0, local_size = 1;  // among the ranks on this machine
  bool launched = false;               // started by an MPI launcher: MPI is initialised
  std::string launcher;                // how, e.g. "mpirun (Open MPI)"; "" when started alone
  int gpu = -1;                        // the GPU bound to this rank (-1: none)
  bool primary() const { return rank == 0; }  // prints, evaluates the total, writes files
};

// The MPI launcher that started this process, read from its environment ("" when none), and
// the number of ranks it announced (0 when it does not say).
std::string detect_launcher(int* announced_ranks);

// Joins the world (MPI_Init when launched; once per process, the first call wins). Throws
// std::runtime_error when a launcher started the process but this build has no MPI, or when
// MPI sees fewer ranks than the launcher started (srun without an MPI plugin).
const World& init(int* argc, char*** argv);
const World& world();  // a world of one before init()
void finalize();       // MPI_Finalize when init() initialised MPI

// Ends every rank of the job now with `exit_code` (MPI_Abort): a rank that failed must not
// leave the others waiting in a collective. Without MPI, exits this process.
[[noreturn]] void abort_all(int exit_code);

// The MPI library, e.g. "Open MPI v4.1.4"; "no MPI" in a build without it.
std::string mpi_version();

// Small blocking collectives on host values across every rank (losses, counts, timings,
// checkpoint metadata); in a world of one they leave the values as they are.
enum class Reduction { Sum, Max };
void all_reduce(std::vector<double>& values, Reduction op);
void broadcast(std::string& bytes, int root);  // receivers' strings are resized

}  // namespace nnlab::distributed
