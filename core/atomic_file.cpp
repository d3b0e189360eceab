// AtomicFile: temp file + fsync + rename (see atomic_file.h).
#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"

namespace hdv::core {
namespace {

std::atomic<int> g_temp_counter{0};

std::string errno_text() { return std::strerror(errno); }

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
  std::filesystem::path dir = path_.parent_path();
  if (dir.empty()) dir = ".";
  if (!std::filesystem::is_directory(dir)) {
    throw IoError(fmt::format("{}: cannot write: folder {} does not exist", path_.string(), dir.string()));
  }
  temp_path_ = dir / fmt::format(".{}.tmp-{}-{}", path_.filename().string(), ::getpid(), g_temp_counter++);
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (file_ == nullptr) {
    throw IoError(fmt::format("{}: cannot write: {}", path_.string(), errno_text()));
  }
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) {
    std::error_code ignored;  // best effort: the error that got us here is the one to report
    std::filesystem::remove(temp_path_, ignored);
  }
}

void AtomicFile::write(const void* data, size_t size) {
  if (size == 0) return;
  if (std::fwrite(data, 1, size, file_) != size) {
    throw IoError(fmt::format("{}: write failed: {}", path_.string(), errno_text()));
  }
}

void AtomicFile::commit() {
  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) {
    throw IoError(fmt::format("{}: flush failed: {}", path_.string(), errno_text()));
  }
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    throw IoError(fmt::format("{}: close failed: {}", path_.string(), errno_text()));
  }
  file_ = nullptr;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw IoError(fmt::format("{}: rename from temporary file failed: {}", path_.string(), errno_text()));
  }
  committed_ = true;
  std::filesystem::path dir = path_.parent_path();
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // makes the rename durable; failure here cannot lose the file's contents
    ::close(dir_fd);
  }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view contents) {
  AtomicFile file(path);
  file.write(contents);
  file.commit();
}

std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw IoError(fmt::format("{}: no such file", path.string()));
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw IoError(fmt::format("{}: is a folder, expected a file", path.string()));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot read: {}", path.string(), errno_text()));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace hdv::core
