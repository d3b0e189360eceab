// c10d wrapper (training/distributed.h): launcher environments, and real Gloo collectives between
// two ranks running as threads of this process over a TCPStore on localhost. The two-process
// runs (torchrun, a killed peer) are in test_distributed.sh.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <future>
#include <random>

#include "core/error.h"
#include "tests/core/test_support.h"
#include "training/distributed.h"

namespace hdv::train {
namespace {

TEST(DistributedEnv, ReadsTorchrunVariables) {
  DistributedEnv env = distributed_env_from(
      {{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29400"}});
  EXPECT_EQ(env.source, "torchrun");
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.master_addr, "node7");
  EXPECT_EQ(env.master_port, 29400);
}

TEST(DistributedEnv, FallsBackToSlurmAndAsksForMasterAddr) {
  DistributedEnv env = distributed_env_from(
      {{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "1"}, {"MASTER_ADDR", "10.0.0.2"}});
  EXPECT_EQ(env.source, "slurm");
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 16);
  EXPECT_EQ(env.local_rank, 1);
  HDV_EXPECT_THROW_MSG(distributed_env_from({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}), core::UsageError,
                       "environment variable MASTER_ADDR is not set: under Slurm export MASTER_ADDR=");
}

TEST(DistributedEnv, RejectsInconsistentValues) {
  HDV_EXPECT_THROW_MSG(distributed_env_from({{"RANK", "2"}, {"WORLD_SIZE", "2"}}), core::UsageError,
                       "rank 2 is not below the world size 2");
  HDV_EXPECT_THROW_MSG(distributed_env_from({{"RANK", "x"}, {"WORLD_SIZE", "2"}}), core::UsageError,
                       "environment variable RANK: expected an integer >= 0, got \"x\"");
  HDV_EXPECT_THROW_MSG(distributed_env_from({{"RANK", "0"}}), core::UsageError,
                       "RANK and WORLD_SIZE must be set together");
  DistributedEnv single = distributed_env_from({});
  EXPECT_EQ(single.world_size, 1);
  EXPECT_EQ(single.source, "single process");
}

int free_port() {
  std::random_device device;
  return 20000 + int(device() % 20000);
}

TEST(Distributed, TwoGlooRanksGatherInRankOrderAndSumGradientsInBuckets) {
  const int port = free_port();
  DistributedOptions options;
  options.backend = "gloo";
  options.timeout = std::chrono::seconds(60);
  options.bucket_bytes = 16;  // forces several buckets: 4 floats each
  auto rank_main = [&](int rank) {
    DistributedEnv env;
    env.rank = rank;
    env.world_size = 2;
    env.master_addr = "127.0.0.1";
    env.master_port = port;
    env.source = "test";
    Distributed dist(env, options, false);
    at::Tensor gathered = dist.all_gather(torch::full({2, 3}, float(rank + 1)));
    at::Tensor a = torch::zeros({3, 2}).set_requires_grad(true), b = torch::zeros({5}).set_requires_grad(true);
    a.mutable_grad() = torch::full({3, 2}, float(rank + 1));
    if (rank == 1) b.mutable_grad() = torch::arange(5, torch::kFloat32);  // rank 0 has none: zeros
    dist.all_reduce_gradients({a, b});
    at::Tensor scalar = torch::tensor({double(rank) + 0.5}, torch::kFloat64);
    dist.all_reduce_sum(scalar);
    dist.barrier();
    return std::vector<at::Tensor>{gathered, a.grad().clone(), b.grad().clone(), scalar};
  };
  auto rank1 = std::async(std::launch::async, rank_main, 1);
  std::vector<at::Tensor> r0 = rank_main(0);
  std::vector<at::Tensor> r1 = rank1.get();
  for (const auto& result : {r0, r1}) {
    ASSERT_EQ(result[0].sizes(), (std::vector<int64_t>{4, 3}));
    EXPECT_TRUE(result[0].narrow(0, 0, 2).eq(1.0f).all().item<bool>());
    EXPECT_TRUE(result[0].narrow(0, 2, 2).eq(2.0f).all().item<bool>());
    EXPECT_TRUE(result[1].eq(3.0f).all().item<bool>());
    EXPECT_TRUE(result[2].equal(torch::arange(5, torch::kFloat32)));
    EXPECT_DOUBLE_EQ(result[3].item<double>(), 2.0);
  }
}

TEST(Distributed, WorldSizeOneRunsTheSameCalls) {
  DistributedOptions options;
  Distributed dist(DistributedEnv{}, options, false);
  EXPECT_EQ(dist.backend(), "gloo");
  at::Tensor x = torch::arange(6, torch::kFloat32).reshape({2, 3});
  EXPECT_TRUE(dist.all_gather(x).equal(x));
  at::Tensor y = x.clone();
  dist.all_reduce_sum(y);
  EXPECT_TRUE(y.equal(x));
  dist.barrier();
  HDV_EXPECT_THROW_MSG(Distributed(DistributedEnv{}, DistributedOptions{"nccl"}, false), core::UsageError,
                       "--backend nccl needs a CUDA device");
}

}  // namespace
}  // namespace hdv::train
