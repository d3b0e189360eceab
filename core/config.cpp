// JSON parsing/writing helpers behind config.h.
#include "core/config.h"

#include <fmt/format.h>

#include "core/atomic_file.h"

namespace hdv::core {

std::string describe_json_value(const Json& value) {
  constexpr size_t kMaxShown = 40;
  auto shorten = [&](std::string text) {
    return text.size() > kMaxShown ? text.substr(0, kMaxShown) + "..." : text;
  };
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return value.get<bool>() ? "boolean true" : "boolean false";
    case Json::value_t::string: return "string " + shorten(value.dump());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer " + value.dump();
    case Json::value_t::number_float: return "number " + value.dump();
    case Json::value_t::array: return fmt::format("an array of {}", value.size());
    case Json::value_t::object: return "an object";
    default: return "a binary value";
  }
}

namespace detail {

void throw_type_error(std::string_view source, const std::string& key, std::string_view expected,
                      const Json& found) {
  throw ConfigError(fmt::format("{}: key \"{}\": expected {}, got {}", source, key, expected,
                                describe_json_value(found)));
}

}  // namespace detail

Json parse_json(std::string_view text, std::string_view source) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based; turn it into line:column for people.
    size_t byte = e.byte == 0 ? 0 : e.byte - 1;
    size_t line = 1, column = 1;
    for (size_t i = 0; i < byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string what = e.what();
    auto pos = what.find("parse error");
    auto colon = what.find(": ", pos == std::string::npos ? 0 : pos);
    std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
    throw FormatError(fmt::format("{}: invalid JSON at line {}, column {}: {}", source, line, column, reason));
  } catch (const nlohmann::json::exception& e) {
    // Well-formed text the parser still refuses, such as a number beyond double (1e400).
    std::string what = e.what();
    const auto bracket = what.find("] ");
    throw FormatError(fmt::format("{}: invalid JSON: {}", source, bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }
}

Json read_json_file(const std::filesystem::path& path) {
  return parse_json(read_file(path), path.string());
}

void write_json_file(const std::filesystem::path& path, const Json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

namespace {

void collect_differences(const Json& stored, const Json& current, const Json* defaults, const std::string& prefix,
                         const JsonDifferenceOptions& options, std::vector<std::string>& differences) {
  for (auto it = current.begin(); it != current.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (options.may_differ && options.may_differ(key)) continue;
    const Json* fallback = defaults && defaults->is_object() && defaults->contains(it.key()) ? &defaults->at(it.key())
                                                                                            : nullptr;
    if (!stored.contains(it.key())) {
      if (fallback && *fallback == *it) continue;  // a key added later; its default is what the file's run used
      differences.push_back(fmt::format("{} (absent from the {})", key, options.stored_name));
    } else if (it->is_object() && stored.at(it.key()).is_object()) {
      collect_differences(stored.at(it.key()), *it, fallback, key, options, differences);
    } else if (stored.at(it.key()) != *it) {
      differences.push_back(fmt::format("{}: {} {}, {} {}", key, options.stored_name, stored.at(it.key()).dump(),
                                        options.current_name, it->dump()));
    }
  }
}

}  // namespace

std::vector<std::string> json_differences(const Json& stored, const Json& current,
                                          const JsonDifferenceOptions& options) {
  std::vector<std::string> differences;
  collect_differences(stored, current, options.defaults, "", options, differences);
  return differences;
}

}  // namespace hdv::core
