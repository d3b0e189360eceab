// Error types shared by every hdvila library.
//
// Library code throws; each program's main() catches once (core/cli.h) and turns the error into
// one `error:` line and an exit status: UsageError -> 2 (bad flag or value), everything else -> 1.
// Messages name what is wrong and where: the file, flag, field or tensor, what was expected and
// what was found.
#pragma once

#include <stdexcept>
#include <string>

namespace hdv::core {

// Base of every error we raise on purpose. Runtime failure: exit status 1.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// The user asked for something invalid on the command line. Exit status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// A configuration value or key is invalid (JSON config files, validate()).
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A file exists but its contents are not what its format promises (safetensors, image, video,
// metadata lines). The message names the file.
class FormatError : public Error {
 public:
  using Error::Error;
};

// The operating system refused a file operation (missing file, permission, disk full).
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace hdv::core
