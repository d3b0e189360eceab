// Command-line conventions shared by hdvila-train, hdvila-generate and hdvila-studio (STYLE.md).
//
// --help lists every flag with its default and exits 0; an unknown flag or bad value prints
// `error: --flag: ...` and exits 2; a runtime failure prints one `error: ...` line and exits 1.
// Common flags: --device auto|cpu|cuda[:N], --threads N, --verbose, --quiet.
#pragma once

#include <CLI/CLI.hpp>

#include <c10/core/Device.h>

#include <functional>
#include <string>

namespace hdv::core {

constexpr int kExitOk = 0;
constexpr int kExitRuntimeError = 1;
constexpr int kExitUsageError = 2;

struct CommonOptions {
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int threads = 0;              // LibTorch intra-op threads; 0 = all cores
  bool verbose = false;         // show debug lines
  bool quiet = false;           // only warnings and errors
};

// Adds --device, --threads, --verbose, --quiet to `app` (and thereby to its subcommands' help).
void add_common_options(CLI::App& app, CommonOptions& options);

// Applies --verbose/--quiet and --threads; resolves and logs the device.
c10::Device apply_common_options(const CommonOptions& options);

// Applies only the log level (programs that need no device yet).
void apply_log_options(const CommonOptions& options);

// Makes every option of `app` show its default in --help.
void show_defaults_in_help(CLI::App& app);

// Parses argv into `app`, then runs `body`. Returns the process exit status.
int run_cli(CLI::App& app, int argc, char** argv, const std::function<void()>& body);

// The message run_cli prints (without "error: ") for a CLI11 parse error; exposed for tests.
std::string describe_parse_error(const CLI::ParseError& error);

// Validators whose failures read "expected <what>, got \"<text>\"".
CLI::Validator positive_number();       // float > 0
CLI::Validator non_negative_number();   // finite float >= 0
CLI::Validator non_negative_integer();  // integer >= 0
CLI::Validator positive_integer();      // integer > 0
CLI::Validator integer_in(long long low, long long high);  // integer in low..high
CLI::Validator number_in(double low, double high);         // float in low..high

}  // namespace hdv::core
