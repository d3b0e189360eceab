// Writing files so that an interrupted run never leaves a half-written file that looks complete:
// data goes to a temporary name in the same folder, is flushed and fsync'ed, then renamed over the
// final name (docs/design.md §9).
#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string_view>

namespace hdv::core {

class AtomicFile {
 public:
  // Opens "<dir>/.<name>.tmp-<pid>-<n>" for writing; throws IoError naming `path` on failure.
  explicit AtomicFile(std::filesystem::path path);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Flush, fsync, rename onto the final path, fsync the folder.
  void commit();

  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temp_path() const { return temp_path_; }

 private:
  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// Whole-file convenience: write `contents` to `path` atomically.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

// Reads a whole file; throws IoError naming the path.
std::string read_file(const std::filesystem::path& path);

}  // namespace hdv::core
