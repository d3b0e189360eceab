// Shape formatting (see shape_text.h).
#include "core/shape_text.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace hdv::core {

std::string shape_text(c10::IntArrayRef shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace hdv::core
