// CLI conventions: common flags, error mapping, validators (see cli.h).
#include "core/cli.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <sstream>

#include <fmt/format.h>

#include "core/device.h"
#include "core/error.h"
#include "core/log.h"

namespace hdv::core {
namespace {

void print_error(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::fflush(stderr);
}

// Everything after `marker` in `text`, or empty.
std::string after(const std::string& text, const std::string& marker) {
  auto pos = text.find(marker);
  return pos == std::string::npos ? std::string() : text.substr(pos + marker.size());
}

bool parse_integer(const std::string& text, long long& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtoll(text.c_str(), &end, 10);
  return errno == 0 && end != nullptr && *end == '\0';
}

}  // namespace

void add_common_options(CLI::App& app, CommonOptions& options) {
  app.add_option("--device", options.device, "Compute device: auto, cpu, cuda or cuda:N")
      ->capture_default_str();
  app.add_option("--threads", options.threads, "CPU threads for LibTorch (0 = all cores)")
      ->check(non_negative_integer())
      ->capture_default_str();
  auto* verbose = app.add_flag("-v,--verbose", options.verbose, "Show debug messages");
  auto* quiet = app.add_flag("-q,--quiet", options.quiet, "Show only warnings and errors");
  verbose->excludes(quiet);
}

void apply_log_options(const CommonOptions& options) {
  if (options.verbose) set_log_level(LogLevel::Debug);
  if (options.quiet) set_log_level(LogLevel::Warning);
}

c10::Device apply_common_options(const CommonOptions& options) {
  apply_log_options(options);
  c10::Device device = resolve_device(options.device);
  int threads = set_thread_count(options.threads);
  log_debug("device {} with {} CPU thread(s)", describe_device(device), threads);
  return device;
}

void show_defaults_in_help(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    if (option->get_expected_min() > 0 && option->get_default_str().empty()) option->capture_default_str();
  }
  for (CLI::App* sub : app.get_subcommands({})) show_defaults_in_help(*sub);
}

std::string describe_parse_error(const CLI::ParseError& error) {
  const std::string what = error.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    // CLI11 lists the extras, not always in command-line order ("--bogus 3" gives "3 --bogus"):
    // an unknown flag explains its value too, so it is named first.
    std::istringstream extras(after(what, "expected: "));
    std::string first, token;
    while (extras >> token) {
      if (token.size() > 1 && token[0] == '-') {
        return fmt::format("{}: unknown flag (see --help)", token.substr(0, token.find('=')));
      }
      if (first.empty()) first = token;
    }
    return fmt::format("unexpected argument \"{}\" (see --help)", first);
  }
  if (dynamic_cast<const CLI::ConversionError*>(&error) != nullptr) {
    // "Could not convert: --threads = abc"
    std::string rest = after(what, "Could not convert: ");
    auto eq = rest.find(" = ");
    if (eq != std::string::npos) {
      return fmt::format("{}: invalid value \"{}\"", rest.substr(0, eq), rest.substr(eq + 3));
    }
    return what;
  }
  if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr) {
    auto pos = what.find(" is required");
    if (pos != std::string::npos) return fmt::format("{}: required (see --help)", what.substr(0, pos));
  }
  return what;
}

int run_cli(CLI::App& app, int argc, char** argv, const std::function<void()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error(describe_parse_error(e));
    return kExitUsageError;
  }
  try {
    body();
    return kExitOk;
  } catch (const UsageError& e) {
    print_error(e.what());
    return kExitUsageError;
  } catch (const c10::Error& e) {
    print_error(e.what_without_backtrace());
    return kExitRuntimeError;
  } catch (const std::bad_alloc&) {
    print_error("out of memory");
    return kExitRuntimeError;
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitRuntimeError;
  }
}

CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        double value = std::strtod(text.c_str(), &end);
        if (text.empty() || end == nullptr || *end != '\0' || !(value > 0)) {
          return fmt::format("expected float > 0, got \"{}\"", text);
        }
        return {};
      },
      "FLOAT>0");
}

CLI::Validator non_negative_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        double value = std::strtod(text.c_str(), &end);
        if (text.empty() || end == nullptr || *end != '\0' || !(value >= 0) || !std::isfinite(value)) {
          return fmt::format("expected float >= 0, got \"{}\"", text);
        }
        return {};
      },
      "FLOAT>=0");
}

CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        long long value = 0;
        if (!parse_integer(text, value) || value < 0) return fmt::format("expected integer >= 0, got \"{}\"", text);
        return {};
      },
      "INT>=0");
}

CLI::Validator positive_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        long long value = 0;
        if (!parse_integer(text, value) || value <= 0) return fmt::format("expected integer > 0, got \"{}\"", text);
        return {};
      },
      "INT>0");
}

CLI::Validator integer_in(long long low, long long high) {
  return CLI::Validator(
      [low, high](std::string& text) -> std::string {
        long long value = 0;
        if (!parse_integer(text, value) || value < low || value > high) {
          return fmt::format("expected integer in {}..{}, got \"{}\"", low, high, text);
        }
        return {};
      },
      fmt::format("INT in {}..{}", low, high));
}

CLI::Validator number_in(double low, double high) {
  return CLI::Validator(
      [low, high](std::string& text) -> std::string {
        char* end = nullptr;
        double value = std::strtod(text.c_str(), &end);
        if (text.empty() || end == nullptr || *end != '\0' || !(value >= low && value <= high)) {
          return fmt::format("expected float in {}..{}, got \"{}\"", low, high, text);
        }
        return {};
      },
      fmt::format("FLOAT in {}..{}", low, high));
}

}  // namespace hdv::core
