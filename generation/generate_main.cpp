// hdvila-generate: headless, batch text-guided generation (sample, invert, edit, edit-optimise,
// super-resolve) from a JSONL job file or one job given by flags. See docs/generate.md.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "core/assets.h"
#include "core/checkpoint.h"
#include "core/device.h"
#include "core/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "generation/job.h"

namespace {

using namespace hdv;

struct Options {
  core::CommonOptions common;
  std::string jobs_file;
  std::string out_dir;
  std::string vl_model;
  std::string generator;
  bool dry_run = false;
  gen::Job job;  // the job given by flags (with --mode)
  std::string mode;
  int64_t seed = -1;
};

// Opens a model checkpoint, or explains why the bundled default is not there.
core::CheckpointInfo check_model(const std::string& flag, const std::string& given, std::string_view default_file,
                                 std::string_view kind) {
  std::filesystem::path path = given.empty() ? core::default_model_path(default_file) : std::filesystem::path(given);
  std::error_code ec;
  if (given.empty() && !std::filesystem::exists(path, ec)) {
    throw core::Error(fmt::format(
        "{}: the bundled default {} model is not there (bundled models are not part of this version yet); "
        "pass {} PATH",
        path.string(), kind, flag));
  }
  return core::Checkpoint::load(path, kind).info();
}

void run(Options& options, const CLI::App& app) {
  core::apply_log_options(options.common);
  const bool from_flags = app.count("--mode") > 0;
  if (from_flags == !options.jobs_file.empty()) {
    throw core::UsageError("--jobs / --mode: give exactly one (a job file, or one job from flags)");
  }
  std::vector<gen::Job> jobs;
  if (from_flags) {
    gen::Job job = options.job;
    job.where = "flags";
    job.mode = gen::parse_job_mode(options.mode, job.where);
    if (options.seed >= 0) job.seed = options.seed;
    if (job.output.empty()) job.output = "output";
    gen::validate_job(job);
    jobs.push_back(std::move(job));
  } else {
    jobs = gen::read_job_file(options.jobs_file);
  }
  core::log_debug("{} job(s) validated", jobs.size());
  if (options.dry_run) {
    for (const gen::Job& job : jobs) {
      std::printf("%s\t%s\t%s\n", job.where.c_str(), std::string(gen::job_mode_name(job.mode)).c_str(),
                  job.output.c_str());
    }
    return;
  }
  c10::Device device = core::apply_common_options(options.common);
    auto generator = check_model("--generator", options.generator, "generator.safetensors", "generator");
  auto vl_model = check_model("--vl-model", options.vl_model, "vl-model.safetensors", "vl-model");
  core::log_debug("generator {} (step {}), VL model {} (step {}) on {}", generator.preset, generator.step,
                  vl_model.preset, vl_model.step, core::describe_device(device));
  throw core::Error(fmt::format("mode {}: the StyleGAN2 generator and pipeline are not part of this build yet",
                                gen::job_mode_name(jobs.front().mode)));
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"hdvila-generate: text-guided image generation, editing and super-resolution, headless and in batches",
               "hdvila-generate"};
  app.add_option("--jobs", options.jobs_file, "JSONL job file, one job per line (see docs/generate.md)");
  app.add_option("--out", options.out_dir, "Output folder for images and results.jsonl");
  app.add_option("--vl-model", options.vl_model, "VL model checkpoint (default: the bundled model)");
  app.add_option("--generator", options.generator, "Generator checkpoint (default: the bundled model)");
  app.add_option("--mode", options.mode, "One job from flags: sample, invert, edit, edit-optimise or sr");
  app.add_option("--input", options.job.input, "Input image (invert, edit, sr)");
  app.add_option("--prompt", options.job.prompt, "Target text (edit, edit-optimise, sr)");
  app.add_option("--neutral", options.job.neutral, "Neutral text for global-direction edits");
  app.add_option("--strength", options.job.strength, "Edit strength alpha")->capture_default_str();
  app.add_option("--beta", options.job.beta, "Disentanglement threshold beta")->capture_default_str();
  app.add_option("--steps", options.job.steps, "Optimisation steps (0 = the mode's default)")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  app.add_option("--scale", options.job.scale, "Super-resolution factor: 4, 8 or 16")->capture_default_str();
  app.add_option("--seed", options.seed, "Latent seed")->check(core::non_negative_integer());
  app.add_option("--output", options.job.output, "Output base name for the flag job")->capture_default_str();
  app.add_flag("--dry-run", options.dry_run, "Validate the jobs, print them and exit");
  core::add_common_options(app, options.common);
  return core::run_cli(app, argc, argv, [&] {
    if (options.out_dir.empty() && !options.dry_run) throw core::UsageError("--out: required (output folder)");
    run(options, app);
  });
}
