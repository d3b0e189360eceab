// Distributed training on LibTorch's c10d (docs/design.md §5): a TCPStore rendezvous and a
// ProcessGroupGloo (CPU) or ProcessGroupNCCL (GPU), initialised from the torchrun environment
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or Slurm's (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID; MASTER_ADDR/MASTER_PORT still name the rendezvous). World size 1
// runs the same code over an in-process store.
//
// On top of the process group: bucketed gradient all-reduce, all-gather in rank order,
// broadcast, and a heartbeat per rank in the store so that a collective that fails or times out
// names the peer that stopped answering instead of hanging.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hdv::train {

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "single process";  // "torchrun", "slurm" or "single process"
};

// Reads the launcher's variables from `env` (the process environment when empty). Throws
// core::UsageError naming the variable when one is malformed or inconsistent.
DistributedEnv distributed_env_from(const std::map<std::string, std::string>& env);
DistributedEnv distributed_env();

struct DistributedOptions {
  std::string backend = "auto";                // "gloo", "nccl" or "auto" (nccl on CUDA, else gloo)
  std::chrono::seconds timeout{300};           // collectives and rendezvous; a dead peer -> error
  int64_t bucket_bytes = 25 * 1024 * 1024;     // gradient all-reduce bucket size
};

class Distributed {
 public:
  // Joins the group (blocks until every rank has arrived, or throws after options.timeout).
  Distributed(const DistributedEnv& env, const DistributedOptions& options, bool cuda);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }
  const std::string& backend() const { return backend_; }

  // Sums the gradients of `parameters` over ranks in buckets of about options.bucket_bytes
  // (parameters without a gradient contribute zeros so every rank sends the same buckets).
  void all_reduce_gradients(const std::vector<at::Tensor>& parameters);
  // Sums `tensor` over ranks in place.
  void all_reduce_sum(at::Tensor& tensor);
  // tensor [N, ...] on each rank (same N everywhere) -> [world * N, ...] in rank order.
  at::Tensor all_gather(const at::Tensor& tensor);
  // Copies root's `tensor` into every rank's (in place).
  void broadcast(at::Tensor& tensor, int root = 0);
  void barrier();

 private:
  // Runs a collective; a failure or time-out becomes core::Error naming the unresponsive ranks.
  template <class F>
  void guarded(const char* what, F&& collective);
  std::string describe_lost_peers();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  DistributedEnv env_;
  DistributedOptions options_;
  std::string backend_;
};

}  // namespace hdv::train
