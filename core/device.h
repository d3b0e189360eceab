// Device and thread-count resolution for --device and --threads.
//
// The device is resolved once per program, logged, and passed down; nothing below hard-codes
// CUDA. Asking for CUDA where there is none is an error, never a silent fall-back to the CPU.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace hdv::core {

// spec: "auto" (first CUDA device if any, else CPU), "cpu", "cuda" (= cuda:0) or "cuda:N".
// Throws UsageError for a malformed spec ("--device: expected auto, cpu, cuda or cuda:N, got
// \"gpu\"") and Error when CUDA is asked for but unavailable or N is out of range.
c10::Device resolve_device(const std::string& spec);

// "cpu", or "cuda:0 (NVIDIA H100 80GB HBM3)" when the name is known.
std::string describe_device(const c10::Device& device);

// Number of CUDA devices visible to LibTorch (0 on CPU builds).
int cuda_device_count();

// Sets LibTorch's intra-op thread count. threads <= 0 means all cores (LibTorch would otherwise
// pick 1 on small machines). Returns the count in effect.
int set_thread_count(int threads);

}  // namespace hdv::core
