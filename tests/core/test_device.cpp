// Device resolution: spellings, and no silent fall-back when CUDA is asked for but absent.
#include <gtest/gtest.h>

#include "core/device.h"
#include "core/error.h"
#include "test_support.h"

namespace hdv::core {
namespace {

TEST(Device, CpuAndAuto) {
  EXPECT_EQ(resolve_device("cpu"), c10::Device(c10::kCPU));
  c10::Device automatic = resolve_device("auto");
  EXPECT_EQ(automatic.is_cuda(), cuda_device_count() > 0);
}

TEST(Device, MalformedSpecIsAUsageError) {
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "CPU", "cuda:-1", ""}) {
    HDV_EXPECT_THROW_MSG(resolve_device(bad), UsageError,
                         std::string("--device: expected auto, cpu, cuda or cuda:N, got \"") + bad + "\"");
  }
}

TEST(Device, CudaWithoutDevicesIsAnErrorNotAFallback) {
  if (cuda_device_count() > 0) {
    EXPECT_TRUE(resolve_device("cuda").is_cuda());
    HDV_EXPECT_THROW_MSG(resolve_device("cuda:99"), Error, "--device cuda:99: only");
  } else {
    HDV_EXPECT_THROW_MSG(resolve_device("cuda"), Error, "--device cuda: no CUDA device is visible to LibTorch");
    HDV_EXPECT_THROW_MSG(resolve_device("cuda:1"), Error, "--device cuda:1: no CUDA device is visible");
  }
}

TEST(Device, ThreadCountDefaultsToAllCores) {
  EXPECT_EQ(set_thread_count(1), 1);
  EXPECT_EQ(set_thread_count(0), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace
}  // namespace hdv::core
