// Mixed precision for one scope: LibTorch's autocast on one device type (ATen/autocast_mode.h),
// with the previous state restored when the scope ends.
#pragma once

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace hdv::core {

// While alive, ops on `device_type` tensors run under autocast with `dtype`: convolutions and
// matrix products in `dtype`, the other ops as LibTorch's autocast lists say. Parameters stay in
// their own dtype. enabled = false does nothing, so callers need no branch. Run backward passes
// outside the scope (as PyTorch recommends); they follow the dtypes the forward pass chose.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device_type, c10::ScalarType dtype, bool enabled = true);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_type_;
  bool enabled_;
  bool previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::ScalarType::Undefined;
};

}  // namespace hdv::core
