// Generation jobs: what hdvila-generate (and the studio's batch mode) is asked to do.
//
// A job file is JSONL, one job per line:
//   {"mode": "edit", "input": "shirt.png", "prompt": "a red shirt", "neutral": "a shirt",
//    "strength": 4.1, "output": "red"}
// Modes and the fields each needs:
//   sample         seed; optional label ("class=dress,colour=red": a conditional generator's
//                  labels; the others are drawn from the seed)
//   invert         input
//   edit           prompt, and input or seed; optional neutral, strength, beta, invert_steps
//   edit-optimise  prompt, and input or seed; optional steps, lr, invert_steps
//   sr             input; optional prompt, scale (4, 8 or 16), steps
// Every line is validated before any work starts: unknown keys, wrong types, missing or
// meaningless fields are errors naming file:line and the field. A line with such an error is not
// run; hdvila-generate records it as a failed job and runs the others.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace hdv::gen {

enum class JobMode { Sample, Invert, Edit, EditOptimise, SuperResolve };

std::string_view job_mode_name(JobMode mode);  // "sample", "invert", "edit", "edit-optimise", "sr"

struct Job {
  JobMode mode = JobMode::Sample;
  std::string input;                 // image path (invert, sr; edit from an image)
  std::string prompt;                // target text
  std::string neutral;               // neutral text for global directions ("" = derived from prompt)
  double strength = 4.1;             // alpha: edit strength (StyleCLIP default)
  double beta = 0.15;                // disentanglement threshold for global directions
  int steps = 0;                     // optimisation steps (0 = the mode's default)
  int invert_steps = 0;              // edit, edit-optimise from an input: inversion steps (0 = invert's default)
  double lr = 0;                     // edit-optimise, sr: peak Adam learning rate (0 = the mode's default)
  int scale = 8;                     // super-resolution factor: 4, 8 or 16
  std::optional<int64_t> seed;       // latent seed (sample; edit without input)
  std::string label;                 // conditional generators: labels of the seed's sample ("" = drawn
                                     // from the seed); sample, and edits that start from a seed
  std::string output;                // output base name (default: job-<line>); a ".png" the user
                                     // wrote is dropped ("s11.png" -> "s11"), so files are s11.png,
                                     // s11-source.png, ...
  std::string where;                 // "jobs.jsonl:3", or "flags" (errors then name --flags)
  bool prompt_given = false;         // the job file has a "prompt" key (an empty one fails at run time)
};

// "edit" -> JobMode::Edit; throws ConfigError (UsageError when where == "flags") for other text.
JobMode parse_job_mode(const std::string& text, const std::string& where);

// True when `name` names a file inside a folder rather than a path: no '/', not "." or "..".
// Output names (a job's `output`, --sheet) must be such names, so nothing is written outside --out.
bool is_plain_name(std::string_view name);

// An output name as users write it -> its base: a trailing ".png" (any case) is dropped.
std::string output_stem(const std::string& output);

// Checks the fields `job` needs for its mode; throws core::ConfigError naming job.where.
void validate_job(const Job& job);

// Parses one JSON object into a validated Job.
Job parse_job(const core::Json& json, const std::string& where);

// One line of a job file: the job it holds, or why it holds none.
struct JobLine {
  std::string where;       // "jobs.jsonl:3"
  std::optional<Job> job;  // empty when the line is not a valid job
  std::string error;       // then: the problem, naming `where` and the field
};

// Reads a JSONL job file (blank lines and lines starting with '#' are skipped) and validates every
// line. A line that is not a valid job (bad JSON, an unknown, missing or mistyped field, an output
// name an earlier line already uses) comes back with its error, so that a batch can record it as a
// failed job and run the others. Throws IoError when the file cannot be read, FormatError when it
// has no job lines at all.
std::vector<JobLine> read_job_file(const std::filesystem::path& path);

}  // namespace hdv::gen
