// hdvila-generate: headless, batch text-guided generation (sample, invert, edit, edit-optimise,
// super-resolve) from a JSONL job file or one job given by flags. See docs/cli/hdvila-generate.md.
//
// Every job line is parsed and checked before any work starts; a line that is not a valid job (bad
// JSON, an unknown or missing field) is reported at once, recorded in results.jsonl as a failed
// job and not run. A job that fails at run time (missing or unreadable image, empty prompt, a
// model it needs is absent) is recorded in results.jsonl with its error and the batch goes on;
// the exit status is 1 when any job failed. Images are written atomically; results.jsonl is rewritten (atomically)
// after every job, so it always lists exactly the jobs finished so far. With --workers N, N jobs
// run side by side, each worker on its own Pipeline (a copy of the models) and --threads / N CPU
// threads; results and the contact sheet stay in job order.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "core/assets.h"
#include "core/atomic_file.h"
#include "core/cli.h"
#include "core/contact_sheet.h"
#include "core/device.h"
#include "core/error.h"
#include "core/image_io.h"
#include "core/log.h"
#include "core/progress.h"
#include "generation/job.h"
#include "generation/pipeline.h"
#include "generation/workers.h"

namespace {

using namespace hdv;
namespace fs = std::filesystem;

struct Options {
  core::CommonOptions common;
  std::string jobs_file;
  std::string out_dir;
  std::string vl_model;
  std::string generator;
  std::string directions;
  std::string oracle;
  std::string vocab;
  std::string python = core::default_python();
  double psi = 0.7;
  int candidates = 4;
  int64_t vl_image_size = 0;
  bool plain_relevance = false;
  double ridge = gen::kDefaultWhiteningRidge;
  std::string sheet = "contact_sheet.png";
  bool dry_run = false;
  int workers = 1;  // jobs run side by side, each on its own copy of the models
  core::ProgressStyle job_progress = core::ProgressStyle::Auto;  // Lines when workers > 1 (no redrawn bars)
  gen::Job job;  // the job given by flags (with --mode)
  std::string mode;
  int64_t seed = -1;
};

// Default optimisation lengths when a job gives steps = 0.
constexpr int kInvertSteps = 500;
constexpr int kOptimiseSteps = 300;
constexpr int kSRSteps = 100;

core::Json reading_json(const std::optional<gen::AttributeReading>& reading) {
  if (!reading) return nullptr;
  core::Json json = core::Json::object();
  for (const auto& [attribute, value] : reading->values) {
    json[attribute] = {{"value", value}, {"confidence", reading->confidence.at(attribute)}};
  }
  return json;
}

// Cell size of contact-sheet tiles: the generator's resolution, at most this.
constexpr int64_t kMaxSheetCell = 256;

// One job's contact-sheet row. Tiles are reduced to the cell size as they come, so a long batch
// holds only small images; with no sheet (cell 0) nothing is kept.
struct SheetRow {
  int64_t cell = 0;
  std::vector<at::Tensor> tiles;
  void add(const at::Tensor& image) {
    if (cell > 0) tiles.push_back(core::fit_to_cell(image, cell));
  }
};

// The image a job starts from: its input inverted, or the sample of its seed.
gen::Rendered starting_point(gen::Pipeline& pipeline, const gen::Job& job, const Options& options, core::Json& result,
                             const fs::path& out, SheetRow& row) {
  if (job.input.empty()) {
    gen::Rendered sample = pipeline.sample(*job.seed, options.psi, -1, 0, job.label);
    if (!sample.labels.empty()) result["labels"] = sample.labels;
    return sample;
  }
  const at::Tensor image = core::load_image(job.input);
  row.add(image);
  gen::InvertConfig config;
  config.steps = job.invert_steps > 0 ? job.invert_steps : kInvertSteps;
  core::ConsoleProgress bar(fmt::format("{} invert", job.output), "steps", options.job_progress);
  gen::InvertOutput inverted = pipeline.invert(image, config, bar.callback());
  bar.finish();
  result["invert_psnr"] = inverted.psnr;
  core::save_png(out / (job.output + "-inverted.png"), inverted.image[0]);
  result["files"].push_back(job.output + "-inverted.png");
  row.add(inverted.image[0]);
  return inverted;
}

// Runs one job, saving its files; `row` receives the images of its contact-sheet row in the
// order of the files (the input first, when there is one).
void run_job(gen::Pipeline& pipeline, const gen::Job& job, const Options& options, core::Json& result,
             SheetRow& row) {
  const fs::path out = options.out_dir;
  const std::string base = job.output;
  result["files"] = core::Json::array();
  auto save = [&](const at::Tensor& image, const std::string& name) {
    core::save_png(out / name, image[0]);
    result["files"].push_back(name);
    row.add(image[0]);
  };
  at::Tensor primary;
  switch (job.mode) {
    case gen::JobMode::Sample: {
      gen::Rendered r = pipeline.sample(job.seed.value_or(0), options.psi, -1, 0, job.label);
      if (!r.labels.empty()) result["labels"] = r.labels;
      primary = r.image;
      save(primary, base + ".png");
      break;
    }
    case gen::JobMode::Invert: {
      gen::InvertConfig config;
      config.steps = job.steps > 0 ? job.steps : kInvertSteps;
      core::ConsoleProgress bar(fmt::format("{} invert", base), "steps", options.job_progress);
      const at::Tensor input = core::load_image(job.input);
      row.add(input);
      gen::InvertOutput r = pipeline.invert(input, config, bar.callback());
      bar.finish();
      primary = r.image;
      result["mse"] = r.mse;
      result["psnr"] = r.psnr;
      save(primary, base + ".png");
      break;
    }
    case gen::JobMode::Edit: {
      if (job.prompt.find_first_not_of(" \t") == std::string::npos) throw core::Error("prompt: empty text");
      gen::Rendered start = starting_point(pipeline, job, options, result, out, row);
      save(start.image, base + "-source.png");
      const auto t0 = std::chrono::steady_clock::now();
      gen::EditResult r = pipeline.edit(start.latent, job.prompt, job.neutral, job.strength, job.beta);
      result["edit_ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      result["channels"] = r.channels;
      result["neutral"] = r.neutral;
      primary = r.image;
      result["source_oracle"] = reading_json(pipeline.read_attributes(start.image));
      save(primary, base + ".png");
      break;
    }
    case gen::JobMode::EditOptimise: {
      if (job.prompt.find_first_not_of(" \t") == std::string::npos) throw core::Error("prompt: empty text");
      gen::Rendered start = starting_point(pipeline, job, options, result, out, row);
      save(start.image, base + "-source.png");
      gen::EditOptimiseConfig config;
      config.steps = job.steps > 0 ? job.steps : kOptimiseSteps;
      if (job.lr > 0) config.lr = job.lr;
      core::ConsoleProgress bar(fmt::format("{} edit-optimise", base), "steps", options.job_progress);
      gen::OptimiseEditResult r = pipeline.edit_optimise(start.latent, job.prompt, job.neutral, config, bar.callback());
      bar.finish();
      result["start_similarity"] = r.start_similarity;
      result["similarity"] = r.similarity;
      result["source_oracle"] = reading_json(pipeline.read_attributes(start.image));
      primary = r.image;
      save(primary, base + ".png");
      break;
    }
    case gen::JobMode::SuperResolve: {
      gen::SRConfig config;
      config.steps = job.steps > 0 ? job.steps : kSRSteps;
      if (job.lr > 0) config.lr = job.lr;
      config.candidates = options.candidates;
      config.seed = job.seed.value_or(0);
      const at::Tensor low = core::load_image(job.input);
      row.add(low);
      core::ConsoleProgress bar(fmt::format("{} sr ×{}", base, job.scale), "steps", options.job_progress);
      gen::SRResult r = pipeline.super_resolve(low, job.scale, job.prompt, config, bar.callback());
      bar.finish();
      primary = r.candidates.front().image;
      save(primary, base + ".png");
      save(r.bicubic, base + "-bicubic.png");
      result["candidates"] = core::Json::array();
      for (size_t k = 0; k < r.candidates.size(); ++k) {
        const gen::SRCandidate& c = r.candidates[k];
        const std::string name = fmt::format("{}-candidate-{}.png", base, k + 1);
        save(c.image, name);
        result["candidates"].push_back({{"file", name}, {"seed", c.seed}, {"score", c.score}, {"lr_mse", c.lr_mse},
                                        {"text_similarity", c.text_similarity}});
      }
      result["bicubic_oracle"] = reading_json(pipeline.read_attributes(r.bicubic));
      break;
    }
  }
  result["oracle"] = reading_json(pipeline.read_attributes(primary));
}

// A job that failed keeps none of the files it wrote before the failure (an edit's source image,
// say), so that every file in the output folder belongs to a job results.jsonl calls ok.
void record_failure(core::Json& result, const std::string& error, const fs::path& out_dir) {
  if (result.contains("files")) {
    for (const core::Json& name : result["files"]) {
      std::error_code ignored;  // a file that is already gone is what we want
      fs::remove(out_dir / name.get<std::string>(), ignored);
    }
    result.erase("files");
  }
  result["ok"] = false;
  result["error"] = error;
  core::log_error("{}: {}", result["job"].get<std::string>(), error);
}

int run(Options& options, const CLI::App& app) {
  core::apply_log_options(options.common);
  const bool from_flags = app.count("--mode") > 0;
  if (from_flags == !options.jobs_file.empty()) {
    throw core::UsageError("--jobs / --mode: give exactly one (a job file, or one job from flags)");
  }
  std::vector<gen::JobLine> lines;
  if (from_flags) {
    gen::Job job = options.job;
    job.where = "flags";
    job.mode = gen::parse_job_mode(options.mode, job.where);
    if (options.seed >= 0) job.seed = options.seed;
    job.output = gen::output_stem(job.output);
    if (job.output.empty()) job.output = "output";
    gen::validate_job(job);
    lines.push_back({job.where, std::move(job), ""});
  } else {
    lines = gen::read_job_file(options.jobs_file);
  }
  // Lines that are not valid jobs are reported now, recorded as failed jobs and never run.
  std::vector<size_t> runnable;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].job) {
      runnable.push_back(i);
    } else {
      core::log_error("{}", lines[i].error);
    }
  }
  const size_t invalid = lines.size() - runnable.size();
  core::log_debug("{} job(s) validated, {} line(s) invalid", runnable.size(), invalid);
  if (options.dry_run) {
    for (size_t i : runnable) {
      const gen::Job& job = *lines[i].job;
      std::printf("%s\t%s\t%s\n", job.where.c_str(), std::string(gen::job_mode_name(job.mode)).c_str(),
                  job.output.c_str());
    }
    return invalid > 0 ? 1 : 0;
  }
  // Shared by the workers, under `mutex`: results and sheet rows are kept in job-file order,
  // whatever order the jobs finish in; results.jsonl is rewritten after every job.
  std::mutex mutex;
  std::vector<std::optional<core::Json>> results(lines.size());
  auto write_results = [&] {
    std::string text;
    for (const std::optional<core::Json>& line : results) {
      // Bytes that are not UTF-8 (a file name from the command line) become U+FFFD, never an exception.
      if (line) text += line->dump(-1, ' ', false, core::Json::error_handler_t::replace) + "\n";
    }
    core::write_file_atomic(fs::path(options.out_dir) / "results.jsonl", text);
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].job) {
      results[i] = core::Json{{"job", lines[i].where}, {"ok", false}, {"error", lines[i].error}, {"seconds", 0.0}};
    }
  }
  int failed = static_cast<int>(invalid);
  auto summary = [&] {
    std::fprintf(stderr, "%zu job(s), %d failed; outputs and results.jsonl in %s\n", lines.size(), failed,
                 options.out_dir.c_str());
    return failed > 0 ? 1 : 0;
  };
  if (runnable.empty()) {
    fs::create_directories(options.out_dir);
    write_results();
    return summary();
  }
  gen::PipelineOptions pipeline_options;
  pipeline_options.device = core::apply_common_options(options.common);
  pipeline_options.generator = options.generator;
  pipeline_options.vl_model = options.vl_model;
  pipeline_options.directions = options.directions;
  pipeline_options.oracle = options.oracle;
  pipeline_options.vocab = options.vocab;
  pipeline_options.python = options.python;
  pipeline_options.vl_image_size = options.vl_image_size;
  pipeline_options.plain_relevance = options.plain_relevance;
  pipeline_options.whitening_ridge = options.ridge;
  bool needs_text = false;
  for (size_t i : runnable) {
    const gen::Job& job = *lines[i].job;
    needs_text = needs_text || job.mode == gen::JobMode::Edit || job.mode == gen::JobMode::EditOptimise ||
                 (job.mode == gen::JobMode::SuperResolve && !job.prompt.empty());
  }
  pipeline_options.require_vl = needs_text;
  // One pipeline (a copy of every model) per worker, loaded before any job runs so that a bad
  // model file fails the batch at once.
  const int workers = static_cast<int>(std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(options.workers), runnable.size())));
  std::vector<gen::Pipeline> pipelines = gen::load_pipelines(pipeline_options, workers);
  const gen::Pipeline& first = pipelines.front();
  core::log_info("models: generator {}; VL model {}; directions {}; oracle {}", first.generator_path().string(),
                 first.has_vl_model() ? first.vl_model_path().string() : "none",
                 first.has_directions() ? first.directions_path().string() : "none",
                 first.has_oracle() ? first.oracle_path().string() : "none");
  // The CPU threads are shared out: each worker's ops use threads / workers of them.
  if (workers > 1) {
    core::log_info("{} workers, {} CPU thread(s) each", workers, gen::threads_per_worker(workers));
    options.job_progress = core::log_level() > core::LogLevel::Info ? core::ProgressStyle::Silent : core::ProgressStyle::Lines;
  }
  fs::create_directories(options.out_dir);
  if (invalid > 0) write_results();

  const int64_t cell =
      options.sheet.empty() ? 0 : std::min(pipelines.front().generator().config().resolution, kMaxSheetCell);
  std::vector<std::vector<at::Tensor>> sheet_rows(lines.size());
  size_t finished = 0;
  core::ConsoleProgress overall("jobs", "jobs", workers > 1 ? options.job_progress : core::ProgressStyle::Auto);

  gen::for_each_on_workers(pipelines, static_cast<int64_t>(runnable.size()), [&](gen::Pipeline& pipeline, int64_t item) {
    const size_t i = runnable[static_cast<size_t>(item)];
    const gen::Job& job = *lines[i].job;
    core::Json result = {{"job", job.where}, {"mode", std::string(gen::job_mode_name(job.mode))}, {"output", job.output}};
    if (!job.prompt.empty()) result["prompt"] = job.prompt;
    SheetRow row{cell, {}};
    bool ok = false;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      run_job(pipeline, job, options, result, row);
      result["ok"] = ok = true;
    } catch (const gen::Cancelled&) {
      throw;
    } catch (const core::Error& e) {
      record_failure(result, e.what(), options.out_dir);
    } catch (const c10::Error& e) {
      record_failure(result, e.what_without_backtrace(), options.out_dir);
    }
    result["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mutex);
    if (ok && !row.tiles.empty()) sheet_rows[i] = std::move(row.tiles);
    failed += ok ? 0 : 1;
    results[i] = std::move(result);
    write_results();
    overall.update(static_cast<int64_t>(++finished), static_cast<int64_t>(runnable.size()));
  });
  overall.finish();
  sheet_rows.erase(std::remove_if(sheet_rows.begin(), sheet_rows.end(), [](const auto& r) { return r.empty(); }),
                   sheet_rows.end());
  if (!sheet_rows.empty()) {
    const fs::path sheet = fs::path(options.out_dir) / options.sheet;
    core::save_png(sheet, core::contact_sheet(sheet_rows, cell));
    std::fprintf(stderr, "contact sheet (one row per finished job, its files in results.jsonl order): %s\n",
                 sheet.c_str());
  }
  return summary();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"hdvila-generate: text-guided image generation, editing and super-resolution, headless and in batches",
               "hdvila-generate"};
  app.add_option("--jobs", options.jobs_file, "JSONL job file, one job per line (see docs/cli/hdvila-generate.md)");
  app.add_option("--out", options.out_dir, "Output folder for images and results.jsonl");
  app.add_option("--vl-model", options.vl_model, "VL model or CLIP checkpoint (kind vl-model or clip; default: the bundled VL model)");
  app.add_option("--generator", options.generator, "Generator checkpoint (default: the bundled model)");
  app.add_option("--directions", options.directions,
                 "Global-direction table (default: directions.safetensors beside the generator)");
  app.add_option("--oracle", options.oracle, "Attribute oracle that scores outputs (default: the bundled one, if any)");
  app.add_option("--vocab", options.vocab, "WordPiece vocab.txt (default: beside the VL model, else the venv's MiniLM)");
  app.add_option("--python", options.python, "The venv's Python, to locate the default vocabulary")
      ->capture_default_str();
  app.add_option("--psi", options.psi, "Truncation psi of sampled latents")->check(core::number_in(0.0, 1.0))->capture_default_str();
  app.add_option("--candidates", options.candidates, "Super-resolution hypotheses per job")
      ->check(core::integer_in(1, 64))
      ->capture_default_str();
  app.add_option("--ridge", options.ridge, "Global directions: ridge of the whitened relevance (>= 0; 0 whitens fully)")
      ->check(core::non_negative_number())
      ->capture_default_str();
  app.add_flag("--plain-relevance", options.plain_relevance,
               "Global directions: StyleCLIP's plain relevance instead of the whitened one");
  app.add_option("--vl-image-size", options.vl_image_size,
                 "Resize images to this size for the VL model (0 = the generator's resolution, at least 128)")
      ->check(core::integer_in(0, 4096))
      ->capture_default_str();
  app.add_option("--mode", options.mode, "One job from flags: sample, invert, edit, edit-optimise or sr");
  app.add_option("--input", options.job.input, "Input image (invert, edit, sr)");
  app.add_option("--prompt", options.job.prompt, "Target text (edit, edit-optimise, sr)");
  app.add_option("--neutral", options.job.neutral, "Neutral text for global-direction edits");
  app.add_option("--strength", options.job.strength, "Edit strength alpha")->capture_default_str();
  app.add_option("--lr", options.job.lr, "edit-optimise, sr: peak Adam learning rate (0 = the mode's default: 0.1, 0.4)")
      ->check(core::non_negative_number())->capture_default_str();
  app.add_option("--beta", options.job.beta, "Disentanglement threshold beta")->capture_default_str();
  app.add_option("--steps", options.job.steps, "Optimisation steps (0 = the mode's default)")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  app.add_option("--invert-steps", options.job.invert_steps,
                 "edit, edit-optimise from --input: inversion steps (0 = invert's default, 500)")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  app.add_option("--scale", options.job.scale, "Super-resolution factor: 4, 8 or 16")->capture_default_str();
  app.add_option("--seed", options.seed, "Latent seed")->check(core::non_negative_integer());
  app.add_option("--label", options.job.label,
                 "Conditional generator: labels of the seed's sample, e.g. class=dress,colour=red (the rest drawn "
                 "from the seed)");
  app.add_option("--output", options.job.output, "Output base name for the flag job")->capture_default_str();
  app.add_option("--sheet", options.sheet,
                 "Contact sheet file name in --out: one row per finished job (\"\" = none)")
      ->capture_default_str();
  app.add_option("--workers", options.workers,
                 "Jobs run side by side, each with its own copy of the models and --threads / N CPU threads")
      ->check(core::positive_integer())
      ->capture_default_str();
  app.add_flag("--dry-run", options.dry_run, "Validate the jobs, print them and exit");
  core::add_common_options(app, options.common);
  int status = 0;
  const int cli_status = core::run_cli(app, argc, argv, [&] {
    if (options.out_dir.empty() && !options.dry_run) throw core::UsageError("--out: required (output folder)");
    std::error_code ec;
    if (!options.out_dir.empty() && fs::exists(options.out_dir, ec) && !fs::is_directory(options.out_dir, ec)) {
      throw core::UsageError(fmt::format("--out: expected a folder, got \"{}\", which is a file", options.out_dir));
    }
    if (!gen::is_plain_name(options.sheet)) {
      throw core::UsageError(fmt::format("--sheet: expected a file name (it is written in --out), got \"{}\"", options.sheet));
    }
    status = run(options, app);
  });
  return cli_status != 0 ? cli_status : status;
}
