// Config structs <-> JSON: defaults, nesting, unknown keys and wrong types named by key.
#include <gtest/gtest.h>

#include "core/config.h"
#include "core/error.h"
#include "test_support.h"

namespace hdv::core {
namespace {

struct AttentionConfig {
  int heads = 12;        // attention heads
  double dropout = 0.1;  // probability
  template <class V>
  void fields(V& v) {
    v("heads", heads);
    v("dropout", dropout);
  }
};

struct ModelConfig {
  std::string name = "tiny";
  int hidden = 384;
  bool bias = true;
  std::vector<int> channels = {64, 128};
  AttentionConfig attention;
  template <class V>
  void fields(V& v) {
    v("name", name);
    v("hidden", hidden);
    v("bias", bias);
    v("channels", channels);
    v("attention", attention);
  }
  void validate() const {
    if (hidden % attention.heads != 0) {
      throw ConfigError("hidden=" + std::to_string(hidden) + " must be divisible by attention.heads=" +
                        std::to_string(attention.heads));
    }
  }
};

TEST(Config, AbsentKeysKeepDefaults) {
  ModelConfig config;
  config_from_json(Json::parse(R"({"hidden": 768, "attention": {"heads": 8}})"), config, "run.json");
  EXPECT_EQ(config.hidden, 768);
  EXPECT_EQ(config.attention.heads, 8);
  EXPECT_DOUBLE_EQ(config.attention.dropout, 0.1);
  EXPECT_EQ(config.name, "tiny");
}

TEST(Config, RoundTripsThroughJson) {
  ModelConfig config;
  config.name = "wide";
  config.channels = {1, 2, 3};
  config.attention.dropout = 0.25;
  Json json = config_to_json(config);
  EXPECT_EQ(json.dump(), R"({"name":"wide","hidden":384,"bias":true,"channels":[1,2,3],"attention":{"heads":12,"dropout":0.25}})");
  ModelConfig back;
  config_from_json(json, back, "json");
  EXPECT_EQ(back.channels, (std::vector<int>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(back.attention.dropout, 0.25);
}

TEST(Config, UnknownKeyIsNamedWithItsPath) {
  ModelConfig config;
  HDV_EXPECT_THROW_MSG(config_from_json(Json::parse(R"({"attention": {"haeds": 8}})"), config, "run.json"),
                       ConfigError, "run.json: key \"attention.haeds\": unknown key");
}

TEST(Config, WrongTypesAreNamed) {
  ModelConfig config;
  HDV_EXPECT_THROW_MSG(config_from_json(Json::parse(R"({"hidden": "wide"})"), config, "run.json"), ConfigError,
                       "run.json: key \"hidden\": expected an integer, got string \"wide\"");
  HDV_EXPECT_THROW_MSG(config_from_json(Json::parse(R"({"hidden": 3.5})"), config, "run.json"), ConfigError,
                       "key \"hidden\": expected an integer, got number 3.5");
  HDV_EXPECT_THROW_MSG(config_from_json(Json::parse(R"({"bias": 1})"), config, "c"), ConfigError,
                       "key \"bias\": expected true or false, got integer 1");
  HDV_EXPECT_THROW_MSG(config_from_json(Json::parse(R"({"channels": [1, "x"]})"), config, "c"), ConfigError,
                       "key \"channels[1]\": expected an integer, got string \"x\"");
  HDV_EXPECT_THROW_MSG(config_from_json(Json::parse(R"({"attention": 4})"), config, "c"), ConfigError,
                       "key \"attention\": expected an object, got integer 4");
  HDV_EXPECT_THROW_MSG(config_from_json(Json::parse(R"({"hidden": 99999999999})"), config, "c"), ConfigError,
                       "key \"hidden\": expected an integer in range, got integer 99999999999");
}

TEST(Config, ValidateNamesTheField) {
  test::TempDir dir;
  write_json_file(dir / "run.json", Json::parse(R"({"hidden": 100, "attention": {"heads": 12}})"));
  ModelConfig config;
  HDV_EXPECT_THROW_MSG(load_config_file(dir / "run.json", config), ConfigError,
                       "hidden=100 must be divisible by attention.heads=12");
}

TEST(Config, InvalidJsonFileGivesLineAndColumn) {
  test::TempDir dir;
  test::write_bytes(dir / "bad.json", "{\n  \"hidden\": 12,\n  oops\n}\n");
  ModelConfig config;
  HDV_EXPECT_THROW_MSG(load_config_file(dir / "bad.json", config), FormatError, "bad.json: invalid JSON at line 3, column 3");
}

TEST(Config, NumberBeyondDoubleIsAFormatError) {
  HDV_EXPECT_THROW_MSG(parse_json(R"({"strength": 1e400})", "jobs.jsonl:4"), FormatError,
                       "jobs.jsonl:4: invalid JSON: number overflow parsing '1e400'");
}

TEST(Config, MissingFileIsAnIoError) {
  ModelConfig config;
  HDV_EXPECT_THROW_MSG(load_config_file("/nonexistent/run.json", config), IoError, "/nonexistent/run.json: no such file");
}

TEST(Config, JsonDifferencesNameEachChangedKeyWithItsPath) {
  const Json stored = parse_json(R"({"lr": 0.1, "steps": 10, "loader": {"workers": 2, "depth": 4}, "seed": 1})", "stored");
  const Json current =
      parse_json(R"({"lr": 0.2, "steps": 20, "loader": {"workers": 2, "depth": 8}, "seed": 1, "mode": "cmcl"})", "now");
  const std::vector<std::string> expected = {"lr: checkpoint 0.1, now 0.2", "steps: checkpoint 10, now 20",
                                             "loader.depth: checkpoint 4, now 8", "mode (absent from the checkpoint)"};
  EXPECT_EQ(json_differences(stored, current), expected);
  EXPECT_TRUE(json_differences(current, current).empty());

  // Skipped keys, defaults for keys the stored side lacks, and the sides' names.
  const Json defaults = parse_json(R"({"mode": "cmcl"})", "defaults");
  JsonDifferenceOptions options{.stored_name = "file", .current_name = "run",
                                .may_differ = [](const std::string& key) { return key == "steps" || key == "loader.depth"; },
                                .defaults = &defaults};
  EXPECT_EQ(json_differences(stored, current, options), std::vector<std::string>{"lr: file 0.1, run 0.2"});
  Json other_mode = current;
  other_mode["mode"] = "mlm";
  EXPECT_EQ(json_differences(stored, other_mode, options),
            (std::vector<std::string>{"lr: file 0.1, run 0.2", "mode (absent from the file)"}));
}

}  // namespace
}  // namespace hdv::core
