// A minimal parallel loop for independent work items (decoding, rendering, encoding).
#pragma once

#include <cstdint>
#include <functional>

namespace hdv::core {

// Runs work(i) for i in [0, count) on `jobs` threads (the caller's thread included); items are
// taken in order from a shared counter. After the first exception no new item starts, and it is
// rethrown once every thread has stopped.
void parallel_for_each(int64_t count, int jobs, const std::function<void(int64_t)>& work);

}  // namespace hdv::core
