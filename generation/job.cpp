// Parsing and validating generation jobs (see job.h).
#include "generation/job.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/error.h"

namespace hdv::gen {
namespace {

using core::ConfigError;
using core::Json;

constexpr struct {
  JobMode mode;
  std::string_view name;
} kModes[] = {{JobMode::Sample, "sample"},
              {JobMode::Invert, "invert"},
              {JobMode::Edit, "edit"},
              {JobMode::EditOptimise, "edit-optimise"},
              {JobMode::SuperResolve, "sr"}};

}  // namespace

JobMode parse_job_mode(const std::string& text, const std::string& where) {
  for (const auto& m : kModes) {
    if (m.name == text) return m.mode;
  }
  if (where == "flags") {
    throw core::UsageError(fmt::format("--mode: expected sample, invert, edit, edit-optimise or sr, got \"{}\"", text));
  }
  throw ConfigError(fmt::format("{}: field \"mode\": expected sample, invert, edit, edit-optimise or sr, got \"{}\"",
                                where, text));
}

namespace {

// A job built from command-line flags reports its problems as flag errors (exit status 2).
constexpr std::string_view kFromFlags = "flags";

[[noreturn]] void field_error(const std::string& where, std::string_view field, const std::string& problem) {
  if (where == kFromFlags) {
    std::string flag(field);  // the job field's flag: invert_steps -> --invert-steps
    std::replace(flag.begin(), flag.end(), '_', '-');
    throw core::UsageError(fmt::format("--{}: {}", flag, problem));
  }
  throw ConfigError(fmt::format("{}: field \"{}\": {}", where, field, problem));
}

}  // namespace

std::string_view job_mode_name(JobMode mode) {
  for (const auto& m : kModes) {
    if (m.mode == mode) return m.name;
  }
  return "?";
}

bool is_plain_name(std::string_view name) {
  return name.find('/') == std::string_view::npos && name != "." && name != "..";
}

std::string output_stem(const std::string& output) {
  if (output.size() > 4) {
    std::string ext = output.substr(output.size() - 4);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".png") return output.substr(0, output.size() - 4);
  }
  return output;
}

void validate_job(const Job& job) {
  const std::string& where = job.where;
  const bool needs_prompt = job.mode == JobMode::Edit || job.mode == JobMode::EditOptimise;
  if (needs_prompt && job.prompt.empty() && !job.prompt_given) {
    field_error(where, "prompt", fmt::format("required for mode {}", job_mode_name(job.mode)));
  }
  if ((job.mode == JobMode::Invert || job.mode == JobMode::SuperResolve) && job.input.empty()) {
    field_error(where, "input", fmt::format("required for mode {}", job_mode_name(job.mode)));
  }
  if (needs_prompt && job.input.empty() && !job.seed) {
    field_error(where, "input", fmt::format("mode {} needs an input image or a seed", job_mode_name(job.mode)));
  }
  if (job.mode == JobMode::SuperResolve && job.scale != 4 && job.scale != 8 && job.scale != 16) {
    field_error(where, "scale", fmt::format("expected 4, 8 or 16, got {}", job.scale));
  }
  if (job.steps < 0) field_error(where, "steps", fmt::format("expected integer >= 0, got {}", job.steps));
  if (job.invert_steps < 0) {
    field_error(where, "invert_steps", fmt::format("expected integer >= 0, got {}", job.invert_steps));
  }
  if (job.invert_steps > 0 && !(needs_prompt && !job.input.empty())) {
    field_error(where, "invert_steps", "only for edit and edit-optimise jobs with an input (invert jobs use steps)");
  }
  if (job.beta < 0 || job.beta >= 1) field_error(where, "beta", fmt::format("expected 0 <= beta < 1, got {}", job.beta));
  if (job.seed && *job.seed < 0) field_error(where, "seed", fmt::format("expected integer >= 0, got {}", *job.seed));
  if (!job.label.empty() && !(job.mode == JobMode::Sample || (needs_prompt && job.input.empty()))) {
    field_error(where, "label", "only for sample jobs and edits that start from a seed (it picks the sample's labels)");
  }
  const bool control = std::any_of(job.output.begin(), job.output.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
  if (!is_plain_name(job.output) || control) {
    field_error(where, "output", fmt::format("expected a file name without folders or control characters, got {}",
                                             core::Json(job.output).dump()));
  }
}

Job parse_job(const Json& json, const std::string& where) {
  if (!json.is_object()) throw ConfigError(fmt::format("{}: expected a JSON object, got {}", where, core::describe_json_value(json)));
  static const std::set<std::string> kKeys = {"mode",  "input", "prompt", "neutral", "strength", "beta",
                                              "steps", "invert_steps", "lr", "scale", "seed", "output", "label"};
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (kKeys.count(it.key()) == 0) field_error(where, it.key(), "unknown field");
  }
  auto string_field = [&](const char* key, std::string& out) {
    if (!json.contains(key)) return;
    if (!json[key].is_string()) field_error(where, key, "expected a string, got " + core::describe_json_value(json[key]));
    out = json[key].get<std::string>();
  };
  auto number_field = [&](const char* key, double& out) {
    if (!json.contains(key)) return;
    if (!json[key].is_number()) field_error(where, key, "expected a number, got " + core::describe_json_value(json[key]));
    out = json[key].get<double>();
  };
  auto int_field = [&](const char* key) -> std::optional<int64_t> {
    if (!json.contains(key)) return std::nullopt;
    if (!json[key].is_number_integer()) {
      field_error(where, key, "expected an integer, got " + core::describe_json_value(json[key]));
    }
    if (json[key].is_number_unsigned() && json[key].get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()}) {
      field_error(where, key, fmt::format("expected an integer below 2^63, got {}", json[key].get<uint64_t>()));
    }
    return json[key].get<int64_t>();
  };
  Job job;
  job.where = where;
  if (!json.contains("mode")) field_error(where, "mode", "required (sample, invert, edit, edit-optimise or sr)");
  std::string mode;
  string_field("mode", mode);
  job.mode = parse_job_mode(mode, where);
  string_field("input", job.input);
  string_field("prompt", job.prompt);
  job.prompt_given = json.contains("prompt");
  string_field("neutral", job.neutral);
  string_field("output", job.output);
  job.output = output_stem(job.output);
  string_field("label", job.label);
  number_field("strength", job.strength);
  number_field("beta", job.beta);
  number_field("lr", job.lr);
  if (job.lr < 0 || !std::isfinite(job.lr)) field_error(where, "lr", fmt::format("expected a number >= 0, got {}", job.lr));
  if (auto steps = int_field("steps")) {
    if (*steps < 0 || *steps > 1'000'000) field_error(where, "steps", fmt::format("expected 0..1000000, got {}", *steps));
    job.steps = static_cast<int>(*steps);
  }
  if (auto steps = int_field("invert_steps")) {
    if (*steps < 0 || *steps > 1'000'000) {
      field_error(where, "invert_steps", fmt::format("expected 0..1000000, got {}", *steps));
    }
    job.invert_steps = static_cast<int>(*steps);
  }
  if (auto scale = int_field("scale")) job.scale = static_cast<int>(std::clamp<int64_t>(*scale, -1, 1 << 20));
  job.seed = int_field("seed");
  validate_job(job);
  return job;
}

std::vector<JobLine> read_job_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw core::IoError(fmt::format("{}: no such file", path.string()));
  if (!in) throw core::IoError(fmt::format("{}: cannot read", path.string()));
  std::vector<JobLine> lines;
  std::map<std::string, int> output_line;  // output name -> the line that writes it
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    JobLine entry;
    entry.where = fmt::format("{}:{}", path.string(), number);
    try {
      Job job = parse_job(core::parse_json(line, entry.where), entry.where);
      if (job.output.empty()) job.output = fmt::format("job-{}", number);
      if (auto [it, fresh] = output_line.emplace(job.output, number); !fresh) {
        field_error(entry.where, "output", fmt::format("\"{}\" is already the output of line {}", job.output, it->second));
      }
      entry.job = std::move(job);
    } catch (const core::Error& e) {
      entry.error = e.what();
    }
    lines.push_back(std::move(entry));
  }
  if (lines.empty()) throw core::FormatError(fmt::format("{}: no jobs (expected one JSON object per line)", path.string()));
  return lines;
}

}  // namespace hdv::gen
