#include "nnlab/distributed/world.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "nnlab/config.h"
#include "nnlab/core/backend.h"
#include "nnlab/distributed/transports.h"

#if NNLAB_HAVE_MPI
#include <mpi.h>
#endif

namespace nnlab::distributed {
namespace {
World g_world;
#if NNLAB_HAVE_MPI
bool g_initialised = false;  // by us: finalize() undoes it
#endif

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}
int env_int(const char* name) {
  const char* v = env(name);
  return v ? std::atoi(v) : 0;
}
}  // namespace

std::string detect_launcher(int* announced_ranks) {
  *announced_ranks = 0;
  if (env("OMPI_COMM_WORLD_SIZE")) {
    *announced_ranks = env_int("OMPI_COMM_WORLD_SIZE");
    return "mpirun (Open MPI)";
  }
  // srun with an MPI plugin, or another launcher speaking PMIx or PMI.
  if (env("SLURM_STEP_NUM_TASKS")) *announced_ranks = env_int("SLURM_STEP_NUM_TASKS");
  if (env("PMIX_RANK")) return "a PMIx launcher (srun --mpi=pmix, prterun)";
  if (env("PMI_RANK")) {
    if (env("PMI_SIZE")) *announced_ranks = env_int("PMI_SIZE");
    return "a PMI launcher (srun --mpi=pmi2, mpiexec)";
  }
  // srun without an MPI plugin still starts the tasks; init() then says what is missing.
  if (env("SLURM_PROCID") && *announced_ranks > 1) return "srun";
  *announced_ranks = 0;
  return "";
}

const World& world() {
  return g_world;
}

#if NNLAB_HAVE_MPI
const World& init(int* argc, char*** argv) {
  if (g_world.launched) return g_world;
  int announced = 0;
  std::string launcher = detect_launcher(&announced);
  if (launcher.empty()) return g_world;
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    int provided = 0;
    // Only the training thread calls MPI (the loader's workers never do), which FUNNELED
    // allows; progress comes from MPI_Test calls on that thread
    // (nnlab/distributed/data_parallel.h).
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    g_initialised = true;
  }
  World w;
  w.launched = true;
  w.launcher = launcher;
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &w.size);
  if (announced > 0 && w.size != announced) {
    std::string message = launcher + " started " + std::to_string(announced) +
                          " tasks but MPI sees a world of " + std::to_string(w.size) +
                          ": each would train alone. Under Slurm, launch with srun --mpi=pmix "
                          "(srun --mpi=list shows the plugins) or with mpirun";
    if (g_initialised) MPI_Finalize();
    g_initialised = false;
    throw std::runtime_error(message);
  }
  MPI_Comm local;  // the ranks that share this machine's memory
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w.rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &w.local_rank);
  MPI_Comm_size(local, &w.local_size);
  MPI_Comm_free(&local);
#if NNLAB_HAVE_CUDA
  w.gpu = bind_local_gpu(w.local_rank);
#endif
  g_world = w;
  return g_world;
}

void finalize() {
  if (!g_initialised) return;
  g_initialised = false;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void abort_all(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  int initialised = 0, finalized = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalized);
  if (initialised && !finalized) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

std::string mpi_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string v(text, size_t(length));
  size_t end = v.find_first_of(",\n");  // "Open MPI v4.1.4, package: ..."
  return v.substr(0, end);
}

void all_reduce(std::vector<double>& values, Reduction op) {
  if (!g_world.launched || values.empty()) return;
  MPI_Allreduce(MPI_IN_PLACE, values.data(), int(values.size()), MPI_DOUBLE,
                op == Reduction::Sum ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD);
}

void broadcast(std::string& bytes, int root) {
  if (!g_world.launched) return;
  unsigned long long size = bytes.size();
  MPI_Bcast(&size, 1, MPI_UNSIGNED_LONG_LONG, root, MPI_COMM_WORLD);
  bytes.resize(size_t(size));
  if (size > 0) MPI_Bcast(bytes.data(), int(size), MPI_CHAR, root, MPI_COMM_WORLD);
}

std::unique_ptr<Communicator> make_communicator(Backend& backend) {
#if NNLAB_HAVE_NCCL
  if (backend.is_gpu()) return make_nccl_communicator(backend);
#endif
  return make_mpi_communicator(backend);
}

#else  // a build without MPI: a world of one, and a clear error where several were started

const World& init(int*, char***) {
  int announced = 0;
  std::string launcher = detect_launcher(&announced);
  if (!launcher.empty())
    throw std::runtime_error(
        launcher + " started this process as one of " +
        (announced > 0 ? std::to_string(announced) : std::string("several")) +
        " ranks, but this build of nnlab has no MPI, so each would train "
        "alone: install libopenmpi-dev and rebuild (NNLAB_MPI=ON requires it)");
  return g_world;
}
void finalize() {}
void abort_all(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::exit(exit_code);
}
std::string mpi_version() {
  return "no MPI";
}
void all_reduce(std::vector<double>&, Reduction) {}
void broadcast(std::string&, int) {}
std::unique_ptr<Communicator> make_communicator(Backend&) {
  throw std::runtime_error(
      "this build of nnlab has no MPI: data-parallel training needs it "
      "(install libopenmpi-dev and rebuild)");
}
#endif

}  // namespace nnlab::distributed
