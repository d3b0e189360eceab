// Generation job files: per-mode required fields, types and unknown keys, named by file:line.
#include <gtest/gtest.h>

#include "core/error.h"
#include "generation/job.h"
#include "../core/test_support.h"

namespace hdv::gen {
namespace {

using core::ConfigError;
using core::Json;

TEST(Job, ParsesEveryMode) {
  test::TempDir dir;
  test::write_bytes(dir / "jobs.jsonl",
                    "# demo jobs\n"
                    R"({"mode": "sample", "seed": 3})" "\n"
                    "\n"
                    R"({"mode": "edit", "input": "a.png", "prompt": "a red shirt", "strength": 5, "invert_steps": 120})" "\n"
                    R"({"mode": "edit-optimise", "seed": 1, "prompt": "a blue bag", "steps": 50, "lr": 0.05, "output": "bag"})" "\n"
                    R"({"mode": "sr", "input": "small.png", "scale": 16, "prompt": "a striped sandal"})" "\n"
                    R"({"mode": "invert", "input": "b.png"})" "\n");
  std::vector<JobLine> lines = read_job_file(dir / "jobs.jsonl");
  ASSERT_EQ(lines.size(), 5u);
  std::vector<Job> jobs;
  for (const JobLine& line : lines) {
    ASSERT_TRUE(line.job.has_value()) << line.where << ": " << line.error;
    EXPECT_EQ(line.job->where, line.where);
    jobs.push_back(*line.job);
  }
  EXPECT_EQ(lines[0].where, (dir / "jobs.jsonl").string() + ":2");
  EXPECT_EQ(jobs[0].mode, JobMode::Sample);
  EXPECT_EQ(*jobs[0].seed, 3);
  EXPECT_EQ(jobs[0].output, "job-2");
  EXPECT_EQ(jobs[1].mode, JobMode::Edit);
  EXPECT_DOUBLE_EQ(jobs[1].strength, 5.0);
  EXPECT_DOUBLE_EQ(jobs[1].beta, 0.15);
  EXPECT_EQ(jobs[1].invert_steps, 120);
  EXPECT_EQ(jobs[2].invert_steps, 0);  // invert's default
  EXPECT_EQ(jobs[2].output, "bag");
  EXPECT_EQ(jobs[2].steps, 50);
  EXPECT_DOUBLE_EQ(jobs[2].lr, 0.05);
  EXPECT_DOUBLE_EQ(jobs[0].lr, 0.0);  // the mode's default
  EXPECT_EQ(jobs[3].scale, 16);
  EXPECT_EQ(jobs[4].mode, JobMode::Invert);
}

TEST(Job, ErrorsNameFileLineAndField) {
  test::TempDir dir;
  struct Case {
    std::string line;
    std::string expected;
  };
  std::vector<Case> cases = {
      {R"({"mode": "paint"})", ":1: field \"mode\": expected sample, invert, edit, edit-optimise or sr, got \"paint\""},
      {R"({"seed": 1})", ":1: field \"mode\": required"},
      {R"({"mode": "edit", "input": "a.png"})", ":1: field \"prompt\": required for mode edit"},
      {R"({"mode": "edit", "prompt": "red"})", ":1: field \"input\": mode edit needs an input image or a seed"},
      {R"({"mode": "sr", "input": "a.png", "scale": 5})", ":1: field \"scale\": expected 4, 8 or 16, got 5"},
      {R"({"mode": "sr", "prompt": "x"})", ":1: field \"input\": required for mode sr"},
      {R"({"mode": "sample", "seed": "7"})", ":1: field \"seed\": expected an integer, got string \"7\""},
      {R"({"mode": "sample", "colour": "red"})", ":1: field \"colour\": unknown field"},
      {R"({"mode": "sample", "output": "../escape"})", ":1: field \"output\": expected a file name without folders"},
      {R"({"mode": "sample", "output": "a\u0000b"})",
       ":1: field \"output\": expected a file name without folders or control characters, got \"a\\u0000b\""},
      {R"({"mode": "sample", "seed": 18446744073709551615})",
       ":1: field \"seed\": expected an integer below 2^63, got 18446744073709551615"},
      {R"({"mode": "edit", "seed": 1, "prompt": "x", "strength": 1e400})", ":1: invalid JSON: number overflow parsing '1e400'"},
      {R"({"mode": "sample", "seed": -2})", ":1: field \"seed\": expected integer >= 0, got -2"},
      {R"({"mode": "edit-optimise", "seed": 1, "prompt": "x", "lr": -1})", ":1: field \"lr\": expected a number >= 0, got -1"},
      {R"({"mode": "sr", "input": "a.png", "lr": "fast"})", ":1: field \"lr\": expected a number, got string \"fast\""},
      {R"({"mode": "edit", "input": "a.png", "prompt": "x", "invert_steps": -5})",
       ":1: field \"invert_steps\": expected 0..1000000, got -5"},
      {R"({"mode": "edit-optimise", "seed": 1, "prompt": "x", "invert_steps": 100})",
       ":1: field \"invert_steps\": only for edit and edit-optimise jobs with an input (invert jobs use steps)"},
      {R"({"mode": "invert", "input": "a.png", "invert_steps": 100})",
       ":1: field \"invert_steps\": only for edit and edit-optimise jobs with an input"},
      {R"({"mode": "invert", "input": "a.png", "label": "colour=red"})",
       ":1: field \"label\": only for sample jobs and edits that start from a seed"},
      {R"({"mode": "edit", "input": "a.png", "prompt": "x", "label": "colour=red"})",
       ":1: field \"label\": only for sample jobs and edits that start from a seed"},
      {R"({"mode": "sample", "label": 3})", ":1: field \"label\": expected a string, got integer 3"},
      {R"(["sample"])", ":1: expected a JSON object, got an array of 1"},
      {R"({"mode": "sample",)", ":1: invalid JSON at line 1, column 19"},
  };
  for (const Case& c : cases) {
    test::write_bytes(dir / "jobs.jsonl", c.line + "\n");
    std::string expected = (dir / "jobs.jsonl").string() + c.expected;
    std::vector<JobLine> lines = read_job_file(dir / "jobs.jsonl");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_FALSE(lines[0].job.has_value()) << "no error for " << c.line;
    EXPECT_NE(lines[0].error.find(expected), std::string::npos) << lines[0].error << "\nexpected: " << expected;
  }
}

// A broken line does not hide the others: each line comes back with its job or its own error.
TEST(Job, BrokenLinesComeBackBesideTheValidOnes) {
  test::TempDir dir;
  test::write_bytes(dir / "jobs.jsonl",
                    R"({"mode": "sample", "seed": 1, "output": "a"})" "\n"
                    R"({"mode": "sample", "seed": )" "\n"
                    R"({"mode": "sr", "input": "missing.png", "scale": 4})" "\n"
                    R"({"mode": "sample", "seed": 2, "output": "a"})" "\r\n"
                    R"({"mode": "sample", "seed": 3, "output": "job-3"})" "\n");
  std::vector<JobLine> lines = read_job_file(dir / "jobs.jsonl");
  const std::string file = (dir / "jobs.jsonl").string();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(lines[0].job.has_value());
  EXPECT_FALSE(lines[1].job.has_value());
  EXPECT_EQ(lines[1].where, file + ":2");
  EXPECT_NE(lines[1].error.find(file + ":2: invalid JSON"), std::string::npos) << lines[1].error;
  ASSERT_TRUE(lines[2].job.has_value());  // a missing input is a run-time failure, not a parse error
  EXPECT_EQ(lines[2].job->output, "job-3");
  EXPECT_FALSE(lines[3].job.has_value());
  EXPECT_EQ(lines[3].error, file + ":4: field \"output\": \"a\" is already the output of line 1");
  EXPECT_FALSE(lines[4].job.has_value());
  EXPECT_EQ(lines[4].error, file + ":5: field \"output\": \"job-3\" is already the output of line 3");
}

TEST(Job, FlagJobsReportFlagNames) {
  Job job;
  job.where = "flags";
  job.mode = JobMode::SuperResolve;
  job.input = "x.png";
  job.scale = 3;
  HDV_EXPECT_THROW_MSG(validate_job(job), core::UsageError, "--scale: expected 4, 8 or 16, got 3");
  HDV_EXPECT_THROW_MSG(parse_job_mode("blend", "flags"), core::UsageError, "--mode: expected sample, invert, edit");
  job.mode = JobMode::Invert;
  job.scale = 8;
  job.invert_steps = 50;
  HDV_EXPECT_THROW_MSG(validate_job(job), core::UsageError, "--invert-steps: only for edit and edit-optimise jobs");
}

TEST(Job, OutputNamesAsUsersWriteThem) {
  test::TempDir dir;
  test::write_bytes(dir / "jobs.jsonl", R"({"mode": "sample", "seed": 11, "output": "s11.png"})" "\n"
                                        R"({"mode": "sample", "seed": 12, "output": "S12.PNG", "label": "colour=red"})" "\n"
                                        R"({"mode": "sample", "seed": 13, "output": "s13.jpg"})" "\n"
                                        R"({"mode": "sample", "seed": 14, "output": "s11"})" "\n");
  std::vector<JobLine> lines = read_job_file(dir / "jobs.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].job->output, "s11");  // files: s11.png, and companions from the stem
  EXPECT_EQ(lines[1].job->output, "S12");
  EXPECT_EQ(lines[1].job->label, "colour=red");
  EXPECT_EQ(lines[2].job->output, "s13.jpg");  // only a PNG extension is the program's own
  // "s11" and "s11.png" name the same files.
  EXPECT_NE(lines[3].error.find("field \"output\": \"s11\" is already the output of line 1"), std::string::npos)
      << lines[3].error;
  EXPECT_EQ(output_stem("a.png"), "a");
  EXPECT_EQ(output_stem(".png"), ".png");
  EXPECT_EQ(output_stem("a.png.png"), "a.png");
}

TEST(Job, EmptyFileIsAnError) {
  test::TempDir dir;
  test::write_bytes(dir / "jobs.jsonl", "\n# nothing\n");
  HDV_EXPECT_THROW_MSG(read_job_file(dir / "jobs.jsonl"), core::FormatError, "no jobs (expected one JSON object per line)");
  HDV_EXPECT_THROW_MSG(read_job_file(dir / "absent.jsonl"), core::IoError, "absent.jsonl: no such file");
}

}  // namespace
}  // namespace hdv::gen
