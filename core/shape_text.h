// "[2, 3, 4]": tensor shapes as error messages and listings print them.
#pragma once

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>

namespace hdv::core {

std::string shape_text(c10::IntArrayRef shape);

}  // namespace hdv::core
