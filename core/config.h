// Config structs <-> JSON.
//
// A config struct lists its fields once, in a member template, and gets strict JSON in and out:
//
//   struct BertConfig {
//     int hidden = 384;   // width of every token vector
//     int layers = 6;     // Transformer blocks
//     template <class V> void fields(V& v) { v("hidden", hidden); v("layers", layers); }
//     void validate() const;   // throws ConfigError naming the field
//   };
//
// Reading rejects unknown keys and wrong types, naming the key with its full path
// ("run.json: key \"text.hiden\": unknown key"); keys that are absent keep their defaults.
// Supported field types: bool, integers, floating point, std::string, std::vector<T>, nested
// config structs, and Json (free-form, copied as is).
#pragma once

#include <nlohmann/json.hpp>

#include <concepts>
#include <filesystem>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace hdv::core {

using Json = nlohmann::ordered_json;

// "string \"abc\"", "number 3.5", "array", "object", "boolean true", "null" — for error messages.
std::string describe_json_value(const Json& value);

// Parses JSON text; errors name `source` and the line and column.
Json parse_json(std::string_view text, std::string_view source);
// Reads and parses a JSON file; errors name the path.
Json read_json_file(const std::filesystem::path& path);
// Writes JSON (2-space indent) atomically.
void write_json_file(const std::filesystem::path& path, const Json& value);

// How json_differences names the two sides and which keys it skips.
struct JsonDifferenceOptions {
  std::string stored_name = "checkpoint";  // the recorded side, e.g. "checkpoint" or "file"
  std::string current_name = "now";        // the side being checked against it, e.g. "now" or "run"
  std::function<bool(const std::string&)> may_differ;  // dotted key paths allowed to differ
  const Json* defaults = nullptr;  // a key absent from `stored` whose current value equals this is fine
};

// Every key of `current` whose value `stored` lacks or holds differently, as
// "key: checkpoint 3, now 4" or "key (absent from the checkpoint)", in `current`'s key order;
// nested objects are compared key by key ("loader.workers: checkpoint 2, now 4").
// Used to refuse a resume or an initialisation whose settings do not match the file's.
std::vector<std::string> json_differences(const Json& stored, const Json& current,
                                          const JsonDifferenceOptions& options = {});

namespace detail {

struct FieldProbe {
  template <class F>
  void operator()(const char*, F&) {}
};

}  // namespace detail

template <class T>
concept ConfigStruct = requires(T& t, detail::FieldProbe& v) { t.fields(v); };

class JsonReader;

namespace detail {

[[noreturn]] void throw_type_error(std::string_view source, const std::string& key,
                                   std::string_view expected, const Json& found);

template <class T>
void read_value(const Json& value, std::string_view source, const std::string& key, T& out);

}  // namespace detail

// Visitor that fills fields from a JSON object and remembers which keys it consumed.
class JsonReader {
 public:
  JsonReader(const Json& object, std::string_view source, std::string prefix)
      : object_(object), source_(source), prefix_(std::move(prefix)) {}

  template <class F>
  void operator()(const char* key, F& field) {
    known_.insert(key);
    auto it = object_.find(key);
    if (it == object_.end()) return;
    detail::read_value(*it, source_, prefix_ + key, field);
  }

  // Throws ConfigError for the first key that no field claimed.
  void finish() const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (known_.count(it.key()) == 0) {
        throw ConfigError(std::string(source_) + ": key \"" + prefix_ + it.key() + "\": unknown key");
      }
    }
  }

 private:
  const Json& object_;
  std::string_view source_;
  std::string prefix_;
  std::set<std::string> known_;
};

// Visitor that writes fields into a JSON object.
class JsonWriter {
 public:
  explicit JsonWriter(Json& object) : object_(object) {}
  template <class F>
  void operator()(const char* key, const F& field);

 private:
  Json& object_;
};

namespace detail {

template <class T>
struct IsVector : std::false_type {};
template <class T, class A>
struct IsVector<std::vector<T, A>> : std::true_type {};

template <class T>
void read_value(const Json& value, std::string_view source, const std::string& key, T& out) {
  if constexpr (std::is_same_v<T, Json>) {
    out = value;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) throw_type_error(source, key, "true or false", value);
    out = value.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!value.is_number_integer()) throw_type_error(source, key, "an integer", value);
    if (value.is_number_unsigned()) {
      auto v = value.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        throw_type_error(source, key, "an integer in range", value);
      }
      out = static_cast<T>(v);
    } else {
      auto v = value.get<int64_t>();
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          (v > 0 && static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max()))) {
        throw_type_error(source, key, "an integer in range", value);
      }
      out = static_cast<T>(v);
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!value.is_number()) throw_type_error(source, key, "a number", value);
    out = value.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) throw_type_error(source, key, "a string", value);
    out = value.get<std::string>();
  } else if constexpr (IsVector<T>::value) {
    if (!value.is_array()) throw_type_error(source, key, "an array", value);
    T result;
    result.resize(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
      read_value(value[i], source, key + "[" + std::to_string(i) + "]", result[i]);
    }
    out = std::move(result);
  } else if constexpr (ConfigStruct<T>) {
    if (!value.is_object()) throw_type_error(source, key, "an object", value);
    JsonReader reader(value, source, key + ".");
    out.fields(reader);
    reader.finish();
  } else {
    static_assert(sizeof(T) == 0, "unsupported config field type");
  }
}

template <class T>
Json write_value(const T& value) {
  if constexpr (ConfigStruct<T>) {
    Json object = Json::object();
    JsonWriter writer(object);
    const_cast<T&>(value).fields(writer);  // fields() only reads through the writer
    return object;
  } else if constexpr (IsVector<T>::value) {
    Json array = Json::array();
    for (const auto& item : value) array.push_back(write_value(item));
    return array;
  } else {
    return Json(value);
  }
}

}  // namespace detail

template <class F>
void JsonWriter::operator()(const char* key, const F& field) {
  object_[key] = detail::write_value(field);
}

// Fills `config` from a JSON object (absent keys keep their current values). `source` names where
// the JSON came from, for messages ("run.json", "checkpoint model.safetensors").
template <ConfigStruct T>
void config_from_json(const Json& json, T& config, std::string_view source) {
  if (!json.is_object()) detail::throw_type_error(source, "(top level)", "an object", json);
  JsonReader reader(json, source, "");
  config.fields(reader);
  reader.finish();
}

template <ConfigStruct T>
Json config_to_json(const T& config) {
  return detail::write_value(config);
}

// Reads a config file over the defaults in `config`, then validates it.
template <ConfigStruct T>
void load_config_file(const std::filesystem::path& path, T& config) {
  config_from_json(read_json_file(path), config, path.string());
  config.validate();
}

}  // namespace hdv::core
