// hdvila-train directions: precomputes a generator's global-direction table with the VL model
// (generation/directions.h; StyleCLIP's channel relevance in StyleSpace).
//
//   hdvila-train directions --generator G --vl-model V --out directions.safetensors [--images 100] [--workers N] [--resume]
//
// The table is written (atomically) after every style layer, every --save-every-minutes within a
// layer (a 1024-px generator's layer takes hours on a CPU) and on SIGINT/SIGTERM, so an interrupted
// run continues with --resume from the last finished round of channels. Progress counts measured
// channels.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "core/assets.h"
#include "core/config.h"
#include "core/device.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "generation/directions.h"
#include "generation/generator_checkpoint.h"
#include "generation/workers.h"
#include "models/tokenizer.h"
#include "models/vl_checkpoint.h"
#include "training/command.h"
#include "training/run_folder.h"

namespace hdv::train {

void add_directions_command(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  struct Options {
    std::string generator, vl_model, out, vocab;
    std::string python = core::default_python();
    bool resume = false;
    double save_every_minutes = 10;
    int64_t image_size = 0;
    int workers = 1;
    gen::DirectionsConfig config;
  };
  auto options = std::make_shared<Options>();
  gen::DirectionsConfig& c = options->config;
  CLI::App* sub = app.add_subcommand("directions", "Precompute a generator's global-direction table (StyleSpace channel relevance)");
  sub->add_option("--generator", options->generator, "Generator checkpoint")->required();
  sub->add_option("--vl-model", options->vl_model, "VL model or CLIP checkpoint (kind vl-model or clip)")->required();
  sub->add_option("--out", options->out, "Output table (.safetensors; also the partial table --resume continues)")->required();
  sub->add_option("--images", c.images, "Samples each channel is measured on")->check(core::positive_integer())->capture_default_str();
  sub->add_option("--sigma", c.sigma, "Channel set to mean ± sigma·std")->check(core::positive_number())->capture_default_str();
  sub->add_option("--psi", c.psi, "Truncation of the samples")->check(core::number_in(0.01, 1.0))->capture_default_str();
  sub->add_option("--stats-samples", c.stats_samples, "W samples behind the style statistics")
      ->check(core::integer_in(2, 10'000'000))
      ->capture_default_str();
  sub->add_option("--batch", c.batch, "Images per forward pass")->check(core::integer_in(2, 4096))->capture_default_str();
  sub->add_option("--seed", c.seed, "Seed of the samples")->check(core::non_negative_integer())->capture_default_str();
  sub->add_option("--image-size", options->image_size, "Resize images to this size for the VL model (0 = the generator's resolution, at least 128)")
      ->check(core::integer_in(0, 4096))
      ->capture_default_str();
  sub->add_option("--vocab", options->vocab, "WordPiece vocab.txt (default: beside the VL model, else the venv's MiniLM)");
  sub->add_option("--python", options->python, "The venv's Python, to locate the default vocabulary")->capture_default_str();
  sub->add_flag("--resume", options->resume, "Continue the partial table at --out");
  sub->add_option("--save-every-minutes", options->save_every_minutes,
                  "Also write the partial table within a layer at this interval (it is always written after each "
                  "layer and on SIGINT/SIGTERM)")
      ->check(core::positive_number())
      ->capture_default_str();
  sub->add_option("--workers", options->workers,
                  "Channels measured side by side, each worker on its own copy of the models and threads/N CPU threads")
      ->check(core::positive_integer())
      ->capture_default_str();
  commands.push_back({sub, [options, &common] {
    core::apply_log_options(common);
    const c10::Device device = core::apply_common_options(common);
    // One copy of the generator and VL model per worker, all loaded before the first measurement.
    std::vector<gen::Generator> generators;
    std::vector<gen::VLGuide> guides;
    std::vector<gen::DirectionsWorker> workers;
    for (int w = 0; w < options->workers; ++w) {
      generators.push_back(gen::load_generator(options->generator));
      generators.back()->to(device);
      gen::VLGuideConfig guide_config;
      guide_config.image_size = options->image_size > 0 ? options->image_size
                                                         : gen::default_vl_image_size(generators.back()->config().resolution);
      guides.push_back(gen::load_vl_guide(options->vl_model, options->vocab, options->python, device, guide_config));
    }
    for (int w = 0; w < options->workers; ++w) workers.push_back({generators[size_t(w)].get(), &guides[size_t(w)]});
    if (options->workers > 1) {
      core::log_info("{} workers, {} CPU thread(s) each", options->workers, gen::threads_per_worker(options->workers));
    }
    gen::Generator& generator = generators.front();
    gen::DirectionTable partial;
    std::error_code ec;
    if (options->resume) {
      if (!std::filesystem::exists(options->out, ec)) {
        throw core::IoError(fmt::format("{}: no partial table to resume (drop --resume to start)", options->out));
      }
      partial = gen::load_directions(options->out, *generator);
      if (core::config_to_json(partial.config) != core::config_to_json(options->config)) {
        throw core::UsageError(fmt::format("--resume: {} was computed with {}, the flags say {}", options->out,
                                           core::config_to_json(partial.config).dump(),
                                           core::config_to_json(options->config).dump()));
      }
      core::log_info("resuming {} at layer {} of {}, channel {}", options->out, partial.completed_layers,
                     generator->style_layers().size(), partial.completed_channels);
    } else if (std::filesystem::exists(options->out, ec)) {
      throw core::IoError(fmt::format("{}: exists (pass --resume to continue it, or remove it)", options->out));
    }
    core::log_info("directions config: {}", core::config_to_json(options->config).dump());
    core::ConsoleProgress progress("measuring channels", "channels");
    // SIGINT/SIGTERM: the run stops after writing the state of its last finished round.
    StopSignals signals;
    std::atomic<bool> stop{false}, finished{false};
    std::thread watcher([&] {
      while (!finished.load() && StopSignals::received() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (StopSignals::received() != 0) stop.store(true);
    });
    gen::DirectionTable table;
    gen::DirectionTable saved;  // what the file holds
    try {
      table = gen::compute_directions(
          workers, options->config, std::move(partial),
          [&](const gen::DirectionTable& t) {
            gen::save_directions(options->out, t);
            saved.completed_layers = t.completed_layers;
            saved.completed_channels = t.completed_channels;
          },
          progress.callback(), &stop, options->save_every_minutes * 60);
    } catch (const gen::Cancelled&) {
      finished.store(true);
      watcher.join();
      progress.finish();
      throw core::Error(fmt::format("stopped by signal {}: {} holds {} finished style layers and {} channels of the "
                                    "next; continue with the same flags and --resume",
                                    StopSignals::received(), options->out, saved.completed_layers,
                                    saved.completed_channels));
    } catch (...) {
      finished.store(true);
      watcher.join();
      throw;
    }
    finished.store(true);
    watcher.join();
    progress.finish();
    gen::save_directions(options->out, table);
    std::printf("wrote %s: %lld channels × %lld\n", options->out.c_str(), static_cast<long long>(table.relevance.size(0)),
                static_cast<long long>(table.relevance.size(1)));
  }});
}

}  // namespace hdv::train
