// Global directions in StyleSpace (see directions.h).
#include "generation/directions.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "core/checkpoint.h"
#include "core/error.h"
#include "generation/labels.h"
#include "core/shape_text.h"
#include "generation/workers.h"

namespace hdv::gen {
namespace {

// The W+ of `count` fixed samples (seeded), truncated by psi: [count, num_ws, w_dim].
at::Tensor sample_ws(GeneratorImpl& generator, int64_t count, double psi, int64_t seed) {
  auto cpu = torch::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
  at::Tensor z = torch::randn({count, generator.config().z_dim}, cpu, torch::kFloat);
  const c10::Device device = generator.mapping->w_avg.device();
  // Conditional: labels drawn uniformly after the z draws (so an unconditional table is unchanged).
  at::Tensor c = generator.config().conditional() ? random_labels(generator.config().labels, count, cpu).to(device)
                                                  : at::Tensor();
  return generator.truncate(generator.broadcast(generator.map(z.to(device), c)), psi);
}

}  // namespace

void DirectionsConfig::validate() const {
  auto fail = [](const std::string& what) { throw core::ConfigError("directions config: " + what); };
  if (images < 1) fail(fmt::format("images={} must be >= 1", images));
  if (!(sigma > 0)) fail(fmt::format("sigma={} must be > 0", sigma));
  if (!(psi > 0 && psi <= 1)) fail(fmt::format("psi={} must be in (0, 1]", psi));
  if (stats_samples < 2) fail(fmt::format("stats_samples={} must be >= 2", stats_samples));
  if (batch < 2) fail(fmt::format("batch={} must be >= 2 (a + and a − render)", batch));
  if (seed < 0) fail(fmt::format("seed={} must be >= 0", seed));
}

DirectionTable compute_directions(GeneratorImpl& generator, VLGuide& guide, const DirectionsConfig& config,
                                  DirectionTable table, const std::function<void(const DirectionTable&)>& save_partial,
                                  const core::ProgressCallback& progress, const std::atomic<bool>* cancel,
                                  double save_every_seconds) {
  const DirectionsWorker worker{&generator, &guide};
  return compute_directions(std::span<const DirectionsWorker>(&worker, 1), config, std::move(table), save_partial, progress,
                            cancel, save_every_seconds);
}

DirectionTable compute_directions(std::span<const DirectionsWorker> workers, const DirectionsConfig& config,
                                  DirectionTable table, const std::function<void(const DirectionTable&)>& save_partial,
                                  const core::ProgressCallback& progress, const std::atomic<bool>* cancel,
                                  double save_every_seconds) {
  config.validate();
  if (workers.empty()) throw core::Error("directions: no worker");
  const DirectionsWorker& first = workers.front();
  GeneratorImpl& generator = *first.generator;
  VLGuide& guide = *first.guide;
  torch::NoGradGuard no_grad;
  const auto& layers = generator.style_layers();
  const auto start = std::chrono::steady_clock::now();
  int64_t total_channels = 0, measured_channels = 0;
  for (const StyleLayer& layer : layers) {
    if (!layer.torgb) measured_channels += layer.channels;
    total_channels += layer.channels;
  }
  if (table.relevance.defined()) {
    if (core::config_to_json(table.config) != core::config_to_json(config)) {
      throw core::ConfigError("directions: the partial table was computed with other settings; start afresh");
    }
  } else {
    // Statistics of S over many samples, in chunks to bound memory.
    table.config = config;
    table.generator_config = core::config_to_json(generator.config());
    std::vector<at::Tensor> sum(layers.size()), sum_sq(layers.size());
    for (int64_t done = 0; done < config.stats_samples; done += 256) {
      const int64_t n = std::min<int64_t>(256, config.stats_samples - done);
      const auto styles = generator.styles(sample_ws(generator, n, config.psi, config.seed + 1 + done));
      for (size_t l = 0; l < layers.size(); ++l) {
        at::Tensor s = styles[l].to(torch::kDouble);
        sum[l] = sum[l].defined() ? sum[l] + s.sum(0) : s.sum(0);
        sum_sq[l] = sum_sq[l].defined() ? sum_sq[l] + s.square().sum(0) : s.square().sum(0);
      }
    }
    int64_t offset = 0;
    for (size_t l = 0; l < layers.size(); ++l) {
      const double n = static_cast<double>(config.stats_samples);
      at::Tensor mean = sum[l] / n;
      at::Tensor var = ((sum_sq[l] - n * mean.square()) / (n - 1)).clamp_min(0);
      table.mean.push_back(mean.to(torch::kFloat).cpu());
      table.std.push_back(var.sqrt().to(torch::kFloat).cpu());
      table.offsets.push_back(offset);
      offset += layers[l].channels;
    }
    table.relevance = torch::zeros({total_channels, guide.embed_dim()});
  }

  // The measured samples: their styles, once.
  const at::Tensor ws = sample_ws(generator, config.images, config.psi, config.seed);
  const std::vector<at::Tensor> base = generator.styles(ws);
  int64_t done_channels = table.completed_channels;
  for (int64_t l = 0; l < table.completed_layers; ++l) {
    if (!layers[static_cast<size_t>(l)].torgb) done_channels += layers[static_cast<size_t>(l)].channels;
  }
  const int64_t per_pass = std::max<int64_t>(1, config.batch / 2);  // channels per forward pass
  // Chunks are measured in rounds of one chunk per worker; a round's rows are final (each row is
  // its own unit-length mean), so the table after any round is a state to resume from.
  const int64_t round = static_cast<int64_t>(workers.size());
  auto last_save = std::chrono::steady_clock::now();
  std::mutex progress_mutex;
  for (size_t l = static_cast<size_t>(table.completed_layers); l < layers.size(); ++l) {
    const StyleLayer& layer = layers[l];
    if (!layer.torgb) {
      const c10::Device device = base[l].device();
      const at::Tensor mean = table.mean[l].to(device), std = table.std[l].to(device);
      // One item per chunk of channels, measured over every image in order by one worker, so the
      // rows do not depend on the number of workers.
      const int64_t chunks = (layer.channels + per_pass - 1) / per_pass;
      for (int64_t first = table.completed_channels / per_pass; first < chunks; first += round) {
        const int64_t count = std::min(round, chunks - first);
        at::Tensor rows = torch::zeros({std::min(count * per_pass, layer.channels - first * per_pass), guide.embed_dim()});
        try {
          for_each_on_workers(workers, count, [&](const DirectionsWorker& worker, int64_t item) {
            torch::NoGradGuard no_grad_here;  // grad mode is per thread
            const int64_t c0 = (first + item) * per_pass;
            const int64_t n = std::min(per_pass, layer.channels - c0);
            const at::Tensor channels =
                torch::arange(c0, c0 + n, torch::TensorOptions().dtype(torch::kLong).device(device));
            const at::Tensor indices = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(device));
            const at::Tensor plus = mean.index({channels}) + config.sigma * std.index({channels});
            const at::Tensor minus = mean.index({channels}) - config.sigma * std.index({channels});
            at::Tensor sums =
                torch::zeros({n, worker.guide->embed_dim()}, torch::TensorOptions().device(worker.guide->device()));
            for (int64_t image = 0; image < config.images; ++image) {
              check_cancel(cancel);
              // Rows [0, n): channel c0+i at mean + sigma·σ; rows [n, 2n): at mean − sigma·σ.
              std::vector<at::Tensor> styles;
              for (size_t k = 0; k < base.size(); ++k) {
                styles.push_back(base[k].slice(0, image, image + 1).expand({2 * n, -1}));
              }
              at::Tensor edited = base[l].slice(0, image, image + 1).repeat({2 * n, 1});
              edited.index_put_({indices, channels}, plus);
              edited.index_put_({indices + n, channels}, minus);
              styles[l] = edited;
              at::Tensor images = worker.generator->synthesize_from_styles(styles, NoiseMode::Const);
              at::Tensor embeddings = worker.guide->embed_images(images);  // [2n, D]
              at::Tensor diff = embeddings.slice(0, 0, n) - embeddings.slice(0, n);
              sums.add_(diff / diff.norm(2, 1, true).clamp_min(1e-12));
            }
            std::lock_guard<std::mutex> lock(progress_mutex);
            rows.slice(0, c0 - first * per_pass, c0 - first * per_pass + n)
                .copy_((sums / sums.norm(2, 1, true).clamp_min(1e-12)).cpu());
            done_channels += n;
            if (progress) {
              progress(done_channels, measured_channels,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            }
          });
        } catch (const Cancelled&) {
          if (save_partial) save_partial(table);  // the state after the last finished round
          throw;
        }
        const int64_t row0 = table.offsets[l] + first * per_pass;
        table.relevance.slice(0, row0, row0 + rows.size(0)).copy_(rows);
        table.completed_channels = first * per_pass + rows.size(0);
        const auto now = std::chrono::steady_clock::now();
        if (save_partial && save_every_seconds > 0 && table.completed_channels < layer.channels &&
            std::chrono::duration<double>(now - last_save).count() >= save_every_seconds) {
          save_partial(table);
          last_save = now;
        }
      }
    }
    table.completed_layers = static_cast<int64_t>(l) + 1;
    table.completed_channels = 0;
    if (save_partial) {
      save_partial(table);
      last_save = std::chrono::steady_clock::now();
    }
  }
  return table;
}

void save_directions(const std::filesystem::path& path, const DirectionTable& table) {
  core::NamedTensors tensors;
  tensors.emplace_back("relevance", table.relevance.contiguous());
  for (size_t l = 0; l < table.mean.size(); ++l) {
    tensors.emplace_back(fmt::format("mean.{}", l), table.mean[l].contiguous());
    tensors.emplace_back(fmt::format("std.{}", l), table.std[l].contiguous());
  }
  core::CheckpointInfo info;
  info.kind = kDirectionsKind;
  info.config = core::Json::object();
  info.config["directions"] = core::config_to_json(table.config);
  info.config["generator"] = table.generator_config;
  info.config["offsets"] = table.offsets;
  info.config["completed_layers"] = table.completed_layers;
  info.config["completed_channels"] = table.completed_channels;
  info.step = table.completed_layers;
  core::save_checkpoint(path, tensors, info);
}

DirectionTable load_directions(const std::filesystem::path& path, const GeneratorImpl& generator) {
  const core::Checkpoint checkpoint = core::Checkpoint::load(path, kDirectionsKind);
  const core::Json& config = checkpoint.info().config;
  const std::string source = path.string();
  for (const char* key : {"directions", "generator", "offsets", "completed_layers"}) {
    if (!config.is_object() || !config.contains(key)) {
      throw core::FormatError(fmt::format("{}: directions metadata lacks \"{}\"", source, key));
    }
  }
  DirectionTable table;
  core::config_from_json(config["directions"], table.config, source + " directions config");
  // Read through GeneratorConfig, so that keys added since the table was written (absent there)
  // compare as their defaults.
  GeneratorConfig stored;
  core::config_from_json(config["generator"], stored, source + " generator config");
  table.generator_config = core::config_to_json(stored);
  if (table.generator_config != core::config_to_json(generator.config())) {
    throw core::FormatError(fmt::format("{}: computed for another generator geometry ({}), not this one ({})", source,
                                        table.generator_config.dump(), core::config_to_json(generator.config()).dump()));
  }
  table.offsets = config["offsets"].get<std::vector<int64_t>>();
  table.completed_layers = config["completed_layers"].get<int64_t>();
  table.completed_channels = config.value("completed_channels", int64_t{0});  // absent in tables before 0.5
  const auto& layers = generator.style_layers();
  const bool layer_in_progress = table.completed_layers < static_cast<int64_t>(layers.size());
  if (table.completed_layers < 0 || table.completed_layers > static_cast<int64_t>(layers.size()) ||
      table.completed_channels < 0 ||
      table.completed_channels > (layer_in_progress ? layers[static_cast<size_t>(table.completed_layers)].channels : 0)) {
    throw core::FormatError(fmt::format("{}: completed_layers {} / completed_channels {} do not fit the generator's {} "
                                        "style layers",
                                        source, table.completed_layers, table.completed_channels, layers.size()));
  }
  int64_t total = 0;
  core::ExpectedShapes expected;
  for (size_t l = 0; l < layers.size(); ++l) {
    expected.emplace_back(fmt::format("mean.{}", l), std::vector<int64_t>{layers[l].channels});
    expected.emplace_back(fmt::format("std.{}", l), std::vector<int64_t>{layers[l].channels});
    total += layers[l].channels;
  }
  if (!checkpoint.file().contains("relevance")) throw core::FormatError(fmt::format("{}: missing \"relevance\"", source));
  const std::vector<int64_t>& shape = checkpoint.file().entry("relevance").shape;
  expected.emplace_back("relevance", std::vector<int64_t>{total, shape.size() == 2 ? shape[1] : -1});
  checkpoint.check_tensors(expected);
  if (table.offsets.size() != layers.size()) {
    throw core::FormatError(fmt::format("{}: {} layer offsets, expected {}", source, table.offsets.size(), layers.size()));
  }
  table.relevance = checkpoint.tensor("relevance").to(torch::kFloat).clone();
  for (size_t l = 0; l < layers.size(); ++l) {
    table.mean.push_back(checkpoint.tensor(fmt::format("mean.{}", l)).to(torch::kFloat).clone());
    table.std.push_back(checkpoint.tensor(fmt::format("std.{}", l)).to(torch::kFloat).clone());
  }
  return table;
}

void whiten_directions(DirectionTable& table, double ridge) {
  if (!(ridge >= 0) || !std::isfinite(ridge)) {
    throw core::ConfigError(fmt::format("directions: whitening ridge={} must be a finite number >= 0", ridge));
  }
  if (!table.relevance.defined() || table.relevance.dim() != 2) throw core::Error("directions: whitening needs a table");
  torch::NoGradGuard no_grad;
  const at::Tensor rows = table.relevance.to(torch::kDouble);
  const at::Tensor measured = rows.norm(2, 1) > 0.5;  // unit rows; toRGB rows are zero
  const at::Tensor r = rows.index({measured});
  if (r.size(0) == 0) throw core::Error("directions: whitening needs measured rows; the table has none");
  const at::Tensor second_moment = r.t().mm(r) / static_cast<double>(r.size(0));
  const auto [eigenvalues, eigenvectors] = torch::linalg_eigh(second_moment);
  const double mean_eigenvalue = eigenvalues.mean().item<double>();
  // A floor keeps full whitening (ridge 0) finite when Σ is singular.
  const at::Tensor scale = (eigenvalues.clamp_min(0) + std::max(ridge, 1e-6) * mean_eigenvalue).rsqrt();
  const at::Tensor w = eigenvectors.mm(torch::diag(scale)).mm(eigenvectors.t());
  at::Tensor whitened = rows.mm(w);
  whitened = whitened / whitened.norm(2, 1, true).clamp_min(1e-12) * measured.unsqueeze(1).to(torch::kDouble);
  table.whitening = w.to(torch::kFloat);
  table.whitened_relevance = whitened.to(torch::kFloat);
}

at::Tensor text_direction(const at::Tensor& target, const at::Tensor& neutral) {
  at::Tensor d = target - neutral;
  const double norm = d.norm().item<double>();
  if (norm < 1e-8) throw core::Error("edit: the target and neutral prompts have the same embedding; nothing to edit");
  return d / norm;
}

GlobalEdit edit_with_directions(const DirectionTable& table, const std::vector<at::Tensor>& styles,
                                const at::Tensor& delta_t, double alpha, double beta) {
  if (styles.size() != table.mean.size()) {
    throw core::Error(fmt::format("edit: {} style layers, the direction table has {}", styles.size(), table.mean.size()));
  }
  if (delta_t.dim() != 1 || delta_t.size(0) != table.relevance.size(1)) {
    throw core::Error(fmt::format("edit: text direction has shape {}, expected [{}]", core::shape_text(delta_t.sizes()),
                                  table.relevance.size(1)));
  }
  torch::NoGradGuard no_grad;
  const at::Tensor dt = delta_t.to(table.relevance.device()).to(torch::kFloat);
  at::Tensor relevance;
  if (table.whitening.defined()) {
    at::Tensor whitened_dt = torch::mv(table.whitening, dt);
    whitened_dt = whitened_dt / whitened_dt.norm().clamp_min(1e-12);
    relevance = torch::mv(table.whitened_relevance, whitened_dt);
  } else {
    relevance = torch::mv(table.relevance, dt);
  }
  relevance = torch::where(relevance.abs() >= beta, relevance, torch::zeros_like(relevance));
  GlobalEdit edit;
  edit.channels = relevance.ne(0).sum().item<int64_t>();
  const double peak = relevance.abs().max().item<double>();
  if (peak > 0) relevance = relevance / peak;
  for (size_t l = 0; l < styles.size(); ++l) {
    const int64_t n = table.mean[l].size(0);
    at::Tensor ds = relevance.slice(0, table.offsets[l], table.offsets[l] + n) * table.std[l];
    edit.styles.push_back(styles[l] + alpha * ds.to(styles[l].device()).unsqueeze(0));
  }
  return edit;
}

}  // namespace hdv::gen
