// CLI conventions: parse errors become `--flag: ...` messages, validators say expected/got.
#include <gtest/gtest.h>

#include "core/cli.h"

namespace hdv::core {
namespace {

std::string parse_error_of(CLI::App& app, std::vector<std::string> args) {
  std::vector<char*> argv;
  std::string program = "prog";
  argv.push_back(program.data());
  for (auto& a : args) argv.push_back(a.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return describe_parse_error(e);
  }
  return "(no error)";
}

TEST(Cli, UnknownFlagIsNamed) {
  CLI::App app;
  CommonOptions common;
  add_common_options(app, common);
  EXPECT_EQ(parse_error_of(app, {"--no-such-flag"}), "--no-such-flag: unknown flag (see --help)");
  EXPECT_EQ(parse_error_of(app, {"--bogus=3"}), "--bogus: unknown flag (see --help)");
  EXPECT_EQ(parse_error_of(app, {"--bogus", "3"}), "--bogus: unknown flag (see --help)");
  EXPECT_EQ(parse_error_of(app, {"stray"}), "unexpected argument \"stray\" (see --help)");
}

TEST(Cli, ValidatorsSayExpectedAndGot) {
  CLI::App app;
  double lr = 1;
  int steps = 1;
  app.add_option("--lr", lr)->check(positive_number());
  app.add_option("--steps", steps)->check(positive_integer());
  double ridge = 1;
  app.add_option("--ridge", ridge)->check(non_negative_number());
  EXPECT_EQ(parse_error_of(app, {"--ridge", "-0.5"}), "--ridge: expected float >= 0, got \"-0.5\"");
  EXPECT_EQ(parse_error_of(app, {"--ridge", "inf"}), "--ridge: expected float >= 0, got \"inf\"");
  EXPECT_EQ(parse_error_of(app, {"--ridge", "0"}), "(no error)");
  EXPECT_EQ(ridge, 0.0);
  EXPECT_EQ(parse_error_of(app, {"--lr", "abc"}), "--lr: expected float > 0, got \"abc\"");
  EXPECT_EQ(parse_error_of(app, {"--lr", "-1"}), "--lr: expected float > 0, got \"-1\"");
  EXPECT_EQ(parse_error_of(app, {"--steps", "0"}), "--steps: expected integer > 0, got \"0\"");
  EXPECT_EQ(parse_error_of(app, {"--steps", "2.5"}), "--steps: expected integer > 0, got \"2.5\"");
}

TEST(Cli, RangeValidatorsNameTheRange) {
  CLI::App app;
  int candidates = 4;
  double psi = 0.7;
  app.add_option("--candidates", candidates)->check(integer_in(1, 64));
  app.add_option("--psi", psi)->check(number_in(0.0, 1.0));
  EXPECT_EQ(parse_error_of(app, {"--candidates", "100"}), "--candidates: expected integer in 1..64, got \"100\"");
  EXPECT_EQ(parse_error_of(app, {"--candidates", "0"}), "--candidates: expected integer in 1..64, got \"0\"");
  EXPECT_EQ(parse_error_of(app, {"--candidates", "2x"}), "--candidates: expected integer in 1..64, got \"2x\"");
  EXPECT_EQ(parse_error_of(app, {"--psi", "1.5"}), "--psi: expected float in 0..1, got \"1.5\"");
  EXPECT_EQ(parse_error_of(app, {"--psi", "nan"}), "--psi: expected float in 0..1, got \"nan\"");
  EXPECT_EQ(parse_error_of(app, {"--candidates", "64", "--psi", "1"}), "(no error)");
  EXPECT_EQ(candidates, 64);
  EXPECT_EQ(psi, 1.0);
}

TEST(Cli, ThreadsMustBeANonNegativeInteger) {
  CLI::App app;
  CommonOptions common;
  add_common_options(app, common);
  EXPECT_EQ(parse_error_of(app, {"--threads", "many"}), "--threads: expected integer >= 0, got \"many\"");
  EXPECT_EQ(parse_error_of(app, {"--threads", "3"}), "(no error)");
  EXPECT_EQ(common.threads, 3);
}

TEST(Cli, RequiredOptionIsNamed) {
  CLI::App app;
  std::string out;
  app.add_option("--out", out)->required();
  EXPECT_EQ(parse_error_of(app, {}), "--out: required (see --help)");
}

}  // namespace
}  // namespace hdv::core
