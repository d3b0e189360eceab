// Device and thread-count resolution (see device.h).
#include "core/device.h"

#include <torch/torch.h>

#include <thread>

#include <fmt/format.h>

#include "core/error.h"

namespace hdv::core {

int cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }

c10::Device resolve_device(const std::string& spec) {
  if (spec == "cpu") return c10::Device(c10::kCPU);
  if (spec == "auto") {
    return cuda_device_count() > 0 ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  }
  int index = -1;
  if (spec == "cuda") {
    index = 0;
  } else if (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 && spec.size() <= 8 &&
             spec.find_first_not_of("0123456789", 5) == std::string::npos) {
    index = std::stoi(spec.substr(5));
  } else {
    throw UsageError(fmt::format("--device: expected auto, cpu, cuda or cuda:N, got \"{}\"", spec));
  }
  int count = cuda_device_count();
  if (count == 0) {
    throw Error(fmt::format(
        "--device {}: no CUDA device is visible to LibTorch on this machine (use --device cpu or auto)",
        spec));
  }
  if (index >= count) {
    throw Error(fmt::format("--device {}: only {} CUDA device(s) visible (cuda:0..cuda:{})", spec,
                            count, count - 1));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string describe_device(const c10::Device& device) { return device.str(); }

int set_thread_count(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return torch::get_num_threads();
}

}  // namespace hdv::core
