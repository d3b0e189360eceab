// c10d process groups, bucketed all-reduce and peer-loss reporting (see distributed.h).
#include <torch/torch.h>
// ProcessGroupGloo.hpp declares its class only when the build defines these (LibTorch's own build
// does); the Gloo headers come from Debian's libgloo-dev, the implementation from libtorch_cpu.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#ifndef USE_DISTRIBUTED
#define USE_DISTRIBUTED 1
#endif
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/log.h"
#include "training/distributed.h"

extern char** environ;

namespace hdv::train {

#ifdef HDV_HAVE_NCCL
// distributed_nccl.cpp (CUDA builds only).
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world,
                                                    std::chrono::milliseconds timeout, int device);
#endif

namespace {

int parse_env_int(const std::map<std::string, std::string>& env, const std::string& name, int minimum) {
  const std::string& text = env.at(name);
  size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < minimum) {
    throw core::UsageError(fmt::format("environment variable {}: expected an integer >= {}, got \"{}\"", name, minimum, text));
  }
  return value;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The part of a c10/Gloo message a user can act on: its first line, without the C++ source
// location ("[.../pair.cc:545] ") and the generic hint that follows the first sentence.
std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.front() == '[') {
    auto close = line.find("] ");
    if (close != std::string::npos) line = line.substr(close + 2);
  }
  if (auto hint = line.find(". This is typically"); hint != std::string::npos) line = line.substr(0, hint + 1);
  return line.size() > 400 ? line.substr(0, 400) + "..." : line;
}

constexpr auto kHeartbeatInterval = std::chrono::milliseconds(1000);

}  // namespace

DistributedEnv distributed_env_from(const std::map<std::string, std::string>& env) {
  DistributedEnv out;
  auto has = [&](const char* name) { return env.count(name) > 0 && !env.at(name).empty(); };
  if (has("RANK") || has("WORLD_SIZE")) {
    if (!has("RANK") || !has("WORLD_SIZE")) {
      throw core::UsageError("environment: RANK and WORLD_SIZE must be set together (torchrun sets both)");
    }
    out.source = "torchrun";
    out.rank = parse_env_int(env, "RANK", 0);
    out.world_size = parse_env_int(env, "WORLD_SIZE", 1);
    if (has("LOCAL_RANK")) out.local_rank = parse_env_int(env, "LOCAL_RANK", 0);
  } else if (has("SLURM_PROCID") && has("SLURM_NTASKS")) {
    out.source = "slurm";
    out.rank = parse_env_int(env, "SLURM_PROCID", 0);
    out.world_size = parse_env_int(env, "SLURM_NTASKS", 1);
    if (has("SLURM_LOCALID")) out.local_rank = parse_env_int(env, "SLURM_LOCALID", 0);
    if (out.world_size > 1 && !has("MASTER_ADDR")) {
      throw core::UsageError(
          "environment variable MASTER_ADDR is not set: under Slurm export MASTER_ADDR=$(scontrol show hostnames "
          "\"$SLURM_JOB_NODELIST\" | head -n 1) (see docs/distributed.md)");
    }
  }
  if (out.rank >= out.world_size) {
    throw core::UsageError(fmt::format("environment: rank {} is not below the world size {}", out.rank, out.world_size));
  }
  if (has("MASTER_ADDR")) out.master_addr = env.at("MASTER_ADDR");
  if (has("MASTER_PORT")) {
    out.master_port = parse_env_int(env, "MASTER_PORT", 1);
    if (out.master_port > 65535) {
      throw core::UsageError(fmt::format("environment variable MASTER_PORT: expected a port 1..65535, got {}", out.master_port));
    }
  }
  return out;
}

DistributedEnv distributed_env() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string text = *entry;
    auto eq = text.find('=');
    if (eq != std::string::npos) env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return distributed_env_from(env);
}

struct Distributed::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> group;
  std::thread heartbeat;
  std::mutex mutex;
  std::condition_variable stop_signal;
  bool stopping = false;
};

Distributed::Distributed(const DistributedEnv& env, const DistributedOptions& options, bool cuda)
    : impl_(std::make_unique<Impl>()), env_(env), options_(options) {
  backend_ = options.backend == "auto" ? (cuda ? "nccl" : "gloo") : options.backend;
  if (backend_ != "gloo" && backend_ != "nccl") {
    throw core::UsageError(fmt::format("--backend: expected auto, gloo or nccl, got \"{}\"", options.backend));
  }
  if (backend_ == "nccl" && !cuda) throw core::UsageError("--backend nccl needs a CUDA device (use gloo on CPU)");
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);

  if (env.world_size == 1) {
    impl_->store = c10::make_intrusive<c10d::HashStore>();
  } else {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(env.master_port);
    // Under torchrun the elastic agent already serves the store on MASTER_PORT.
    const char* agent_store = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    const bool agent_serves = agent_store != nullptr && std::string(agent_store) == "True";
    store_options.isServer = env.rank == 0 && !agent_serves;
    store_options.numWorkers = env.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    core::log_info("distributed: rank {} of {} ({}), rendezvous at {}:{}", env.rank, env.world_size, env.source,
                   env.master_addr, env.master_port);
    try {
      impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    } catch (const std::exception& e) {
      throw core::Error(fmt::format("distributed: rank {} could not join the rendezvous at {}:{} within {} s: {}",
                                    env.rank, env.master_addr, env.master_port, options.timeout.count(),
                                    first_line(e.what())));
    }
  }

  try {
    if (backend_ == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      if (interface && *interface) {
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
      } else if (env.world_size == 1 || env.master_addr == "127.0.0.1" || env.master_addr == "localhost") {
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env.rank, env.world_size, gloo_options);
    } else {
#ifdef HDV_HAVE_NCCL
      impl_->group = make_nccl_backend(impl_->store, env.rank, env.world_size, timeout, env.local_rank);
#else
      throw core::UsageError("--backend nccl: this build has no NCCL (configure with a CUDA LibTorch)");
#endif
    }
  } catch (const core::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw core::Error(fmt::format("distributed: rank {} could not create the {} process group: {}", env.rank, backend_,
                                  first_line(e.what())));
  }

  if (env.world_size > 1) {
    impl_->store->set(fmt::format("hdv/heartbeat/{}", env.rank), std::to_string(now_ms()));
    impl_->heartbeat = std::thread([this] {
      std::unique_lock lock(impl_->mutex);
      while (!impl_->stop_signal.wait_for(lock, kHeartbeatInterval, [this] { return impl_->stopping; })) {
        try {
          impl_->store->set(fmt::format("hdv/heartbeat/{}", env_.rank), std::to_string(now_ms()));
        } catch (const std::exception&) {
          return;  // the store is gone (rank 0 exited); collectives report it
        }
      }
    });
  }
}

Distributed::~Distributed() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->stop_signal.notify_all();
  if (impl_->heartbeat.joinable()) impl_->heartbeat.join();
}

std::string Distributed::describe_lost_peers() {
  if (env_.world_size == 1) return "no peers";
  // A live peer's heartbeat advances every second: watch them for a few intervals and name the
  // ranks whose heartbeat stands still.
  auto read_heartbeats = [&] {
    std::vector<int64_t> beats(size_t(env_.world_size), 0);
    for (int r = 0; r < env_.world_size; ++r) {
      if (r == env_.rank) continue;
      std::vector<uint8_t> value = impl_->store->get(fmt::format("hdv/heartbeat/{}", r));
      beats[size_t(r)] = std::stoll(std::string(value.begin(), value.end()));
    }
    return beats;
  };
  std::vector<int> lost;
  try {
    impl_->store->setTimeout(std::chrono::milliseconds(2000));
    const std::vector<int64_t> first = read_heartbeats();
    std::vector<bool> alive(size_t(env_.world_size), false);
    alive[size_t(env_.rank)] = true;
    const auto deadline = std::chrono::steady_clock::now() + 3 * kHeartbeatInterval;
    while (std::chrono::steady_clock::now() < deadline &&
           std::find(alive.begin(), alive.end(), false) != alive.end()) {
      std::this_thread::sleep_for(kHeartbeatInterval / 4);
      const std::vector<int64_t> now = read_heartbeats();
      for (size_t r = 0; r < now.size(); ++r) alive[r] = alive[r] || now[r] != first[r];
    }
    for (int r = 0; r < env_.world_size; ++r) {
      if (!alive[size_t(r)]) lost.push_back(r);
    }
  } catch (const std::exception&) {
    return env_.rank == 0 ? "the rendezvous store stopped answering"
                          : fmt::format("lost peer rank 0 (it hosts the rendezvous store at {}:{} and stopped answering)",
                                        env_.master_addr, env_.master_port);
  }
  if (lost.empty()) return "every peer still sends heartbeats (one may be stuck)";
  return fmt::format("lost peer rank{} {} (no heartbeat for {} s)", lost.size() > 1 ? "s" : "", fmt::join(lost, ", "),
                     3 * kHeartbeatInterval.count() / 1000);
}

template <class F>
void Distributed::guarded(const char* what, F&& collective) {
  try {
    collective();
  } catch (const std::exception& e) {
    std::string cause = first_line(e.what());
    throw core::Error(fmt::format("distributed {} failed on rank {} of {}: {} ({})", what, env_.rank, env_.world_size,
                                  describe_lost_peers(), cause));
  }
}

void Distributed::all_reduce_gradients(const std::vector<at::Tensor>& parameters) {
  if (env_.world_size == 1) return;  // a sum over one rank is the identity
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : parameters) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  size_t begin = 0;
  while (begin < grads.size()) {
    size_t end = begin;
    int64_t bytes = 0;
    while (end < grads.size() && (end == begin || (bytes + grads[end].nbytes() <= size_t(options_.bucket_bytes) &&
                                                   grads[end].scalar_type() == grads[begin].scalar_type()))) {
      bytes += grads[end].nbytes();
      ++end;
    }
    std::vector<at::Tensor> flat_parts;
    for (size_t i = begin; i < end; ++i) flat_parts.push_back(grads[i].reshape(-1));
    std::vector<at::Tensor> bucket{torch::cat(flat_parts)};
    guarded("gradient all-reduce", [&] { impl_->group->allreduce(bucket)->wait(); });
    int64_t offset = 0;
    for (size_t i = begin; i < end; ++i) {
      int64_t n = grads[i].numel();
      grads[i].copy_(bucket[0].narrow(0, offset, n).view_as(grads[i]));
      offset += n;
    }
    begin = end;
  }
}

void Distributed::all_reduce_sum(at::Tensor& tensor) {
  if (env_.world_size == 1) return;
  std::vector<at::Tensor> tensors{tensor};
  guarded("all-reduce", [&] { impl_->group->allreduce(tensors)->wait(); });
}

at::Tensor Distributed::all_gather(const at::Tensor& tensor) {
  if (env_.world_size == 1) return tensor;
  at::Tensor input = tensor.contiguous();
  std::vector<at::Tensor> inputs{input};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < env_.world_size; ++r) outputs[0].push_back(torch::empty_like(input));
  guarded("all-gather", [&] { impl_->group->allgather(outputs, inputs)->wait(); });
  return torch::cat(outputs[0], 0);
}

void Distributed::broadcast(at::Tensor& tensor, int root) {
  if (env_.world_size == 1) return;
  std::vector<at::Tensor> tensors{tensor};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  guarded("broadcast", [&] { impl_->group->broadcast(tensors, options)->wait(); });
}

void Distributed::barrier() {
  if (env_.world_size == 1) return;
  guarded("barrier", [&] { impl_->group->barrier()->wait(); });
}

}  // namespace hdv::train
