// Points of compare_devices (--ranks 1,2) and sweep (--vary ranks=1,2) that need several
// ranks run as jobs of their own: this same program started again by an MPI launcher
// (--launcher, "mpirun -np {ranks}" by default; "srun -n {ranks}" in a Slurm allocation) with
// the same arguments plus --run-point I --point-result FILE. The job runs point I alone, on
// every rank, and rank 0 writes its RunResult there as JSON for the parent, which then reports
// it beside the others. A user runs the sweep itself as any other app, without mpirun; the
// parent waits idle while a job runs, so it takes no core from it. Points of one rank run in
// the parent: a run without MPI, the baseline of the scaling efficiency.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "apps/common/experiment.h"

namespace nnlab::apps {

struct RankJobs {
  std::string launcher = "mpirun -np {ranks}";
  int run_point = -1;        // in a job: the point it runs
  std::string point_result;  // in a job: where rank 0 writes that point's result
  bool in_job() const { return run_point >= 0; }
};
void add_rank_job_flags(CLI::App& app, RankJobs& jobs);

// Whether `c` asks for a number of ranks other than this process's world has.
bool needs_own_job(const ExperimentConfig& c);

// Starts the job for point `point` (configured as `c`) and returns rank 0's result. Throws
// std::runtime_error when the launcher cannot be started or the job fails (its ranks have
// printed why), std::invalid_argument when this process is itself one rank of several.
RunResult run_as_job(const RankJobs& jobs, const ExperimentConfig& c, int point, int argc,
                     char** argv);

// In a job: checks that the world has the ranks the point asks for (a usage error otherwise).
void check_job_world(const ExperimentConfig& c);
// In a job: rank 0 writes the point's result for the parent.
void hand_back(const RankJobs& jobs, const RunResult& result);

// Images/s of `ranks` ranks against `ranks` times that of one: 1.0 is perfect scaling.
double scaling_efficiency(double images_per_second, int ranks, double one_rank_images_per_second);

}  // namespace nnlab::apps
