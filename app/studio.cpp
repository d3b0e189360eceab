// Studio: the document, its actions and the jobs they queue (see studio.h).
#include "app/studio.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include "core/assets.h"
#include "core/checkpoint.h"
#include "core/device.h"
#include "core/error.h"
#include "core/image_io.h"
#include "core/log.h"
#include "generation/directions.h"
#include "generation/generator_checkpoint.h"
#include "generation/oracle.h"
#include "generation/projector.h"
#include "generation/super_resolution.h"
#include "models/clip_checkpoint.h"
#include "models/vl_checkpoint.h"

namespace hdv::app {

namespace fs = std::filesystem;

std::vector<ModelSlot> default_model_slots() {
  const auto existing = [](const char* file) {
    return core::default_model_path(file).string();
  };
  return {
      {"generator", "Generator", existing("generator.safetensors")},
      {"vl_model", "VL model", existing("vl-model.safetensors")},
      {"directions", "Directions", ""},  // beside the generator
      {"oracle", "Oracle", existing("oracle.safetensors")},
  };
}

Studio::Studio(StudioOptions options)
    : models(std::move(options.models)), device(std::move(options.device)) {
  worker_ = std::make_unique<Worker>([this](const JobOutcome& outcome) {
    post([this, outcome] {
      if (outcome.cancelled) {
        last_message = outcome.error;
        core::log_warning("{}", outcome.error);
      } else if (!outcome.ok) {
        show_error(outcome.error);
      }
      if (outcome.kind != "preview") last_operation = fmt::format("{} {:.0f} ms", outcome.kind, outcome.seconds * 1e3);
    });
  });
  if (options.load_at_start) load_models();
}

Studio::~Studio() { worker_.reset(); }

void Studio::post(std::function<void()> done) {
  std::lock_guard lock(inbox_mutex_);
  inbox_.push_back(std::move(done));
}

void Studio::poll() {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard lock(inbox_mutex_);
    ready.swap(inbox_);
  }
  for (auto& done : ready) done();
}

bool Studio::idle() const {
  std::lock_guard lock(inbox_mutex_);
  return inbox_.empty() && !worker_->busy();
}

void Studio::submit(const std::string& kind, bool replaceable,
                    std::function<std::function<void()>(const JobContext&)> work) {
  Job job;
  job.kind = kind;
  job.replaceable = replaceable;
  job.run = [this, work = std::move(work)](const JobContext& context) {
    std::function<void()> done = work(context);
    if (done) post(std::move(done));
  };
  worker_->submit(std::move(job));
}

void Studio::show_error(const std::string& message) {
  last_error = message;
  core::log_error("{}", message);
}

void Studio::changed() {
  preview_ = at::Tensor();
  ++preview_request_;  // previews in flight are for the old image
  ++image_version_;
}

void Studio::commit(HistoryEntry entry, bool new_reference) {
  if (new_reference) reference_ = entry.image;
  core::log_info("{}", entry.label);
  history_.commit(std::move(entry));
  changed();
}

const at::Tensor& Studio::shown_image() const {
  static const at::Tensor none;
  if (preview_.defined()) return preview_;
  return history_.empty() ? none : history_.current().image;
}

bool Studio::require_models(const char* what, bool needs_vl) {
  if (!info.loaded) {
    show_error(fmt::format("{}: no generator loaded (choose the models in the Models panel)", what));
    return false;
  }
  if (needs_vl && !info.has_vl) {
    show_error(fmt::format("{}: needs a VL model (choose one in the Models panel)", what));
    return false;
  }
  return true;
}

const gen::Latent* Studio::current_latent(const char* what) {
  if (history_.empty()) {
    show_error(fmt::format("{}: nothing to edit yet (sample an image, or open one and invert it)", what));
    return nullptr;
  }
  if (!history_.current().has_latent()) {
    show_error(fmt::format("{}: the current image has no latent; press Invert first", what));
    return nullptr;
  }
  return &history_.current().latent;
}

void Studio::open_image(const fs::path& path) {
  try {
    at::Tensor image = core::load_image(path);
    opened = image;
    opened_path = path;
    commit(HistoryEntry{fmt::format("open {} ({}x{})", path.string(), image.size(2), image.size(1)), image, {}}, true);
    last_message = fmt::format("opened {}", path.filename().string());
  } catch (const core::Error& e) {
    show_error(e.what());
  }
}

void Studio::open_dropped(const std::vector<fs::path>& paths) {
  for (const fs::path& path : paths) {
    if (path.extension() != ".safetensors") {
      open_image(path);
      continue;
    }
    try {
      const std::string kind = core::read_checkpoint_info(path).kind;
      const std::string key = kind == gen::kGeneratorKind        ? "generator"
                              : kind == models::kVLModelKind     ? "vl_model"
                              : kind == models::kClipKind        ? "vl_model"
                              : kind == gen::kDirectionsKind     ? "directions"
                              : kind == gen::kOracleKind         ? "oracle"
                                                                 : "";
      ModelSlot* slot = nullptr;
      for (ModelSlot& s : models) {
        if (s.key == key) slot = &s;
      }
      if (slot == nullptr) {
        show_error(fmt::format("{}: a checkpoint of kind \"{}\"; the studio loads generator, vl-model, clip, "
                               "directions and oracle checkpoints", path.string(), kind));
        continue;
      }
      slot->path = path.string();
      last_message = fmt::format("{}: {} (press Load models)", slot->label, path.filename().string());
      core::log_info("{}", last_message);
    } catch (const core::Error& e) {
      show_error(e.what());
    }
  }
}

void Studio::load_models() {
  gen::PipelineOptions options;
  for (const ModelSlot& slot : models) {
    if (slot.key == "generator") options.generator = slot.path;
    if (slot.key == "vl_model") options.vl_model = slot.path;
    if (slot.key == "directions") options.directions = slot.path;
    if (slot.key == "oracle") options.oracle = slot.path;
  }
  options.python = core::default_python();
  options.require_vl = false;
  // A default model that is not there is simply not loaded; a file the user named must load.
  const auto missing = [](const fs::path& p) {
    std::error_code ec;
    return !p.empty() && !fs::exists(p, ec);
  };
  if (options.generator.empty()) {
    show_error("models: choose a generator checkpoint");
    return;
  }
  if (options.vl_model == core::default_model_path("vl-model.safetensors") && missing(options.vl_model)) options.vl_model.clear();
  if (options.oracle == core::default_model_path("oracle.safetensors") && missing(options.oracle)) options.oracle.clear();
  const std::string device_spec = device;
  info.status = "loading...";
  submit("load models", false, [this, options, device_spec](const JobContext&) mutable -> std::function<void()> {
    options.device = core::resolve_device(device_spec);
    pipeline_.reset();  // free the old models first (memory)
    std::string failure;
    try {
      pipeline_ = std::make_unique<gen::Pipeline>(options);
    } catch (const core::Error& e) {
      failure = e.what();
    } catch (const c10::Error& e) {
      failure = e.what_without_backtrace();
    }
    if (!failure.empty()) {
      return [this, failure] {
        info = ModelInfo{};
        info.status = "not loaded: " + failure;
        show_error(failure);
      };
    }
    ModelInfo loaded;
    loaded.loaded = true;
    loaded.resolution = pipeline_->generator().config().resolution;
    loaded.num_ws = pipeline_->generator().config().num_ws();
    loaded.labels = pipeline_->label_vocabulary();
    loaded.has_vl = pipeline_->has_vl_model();
    loaded.has_directions = pipeline_->has_directions();
    loaded.has_oracle = pipeline_->has_oracle();
    loaded.device = core::describe_device(pipeline_->device());
    loaded.status = fmt::format("loaded: {} px generator{}{}{}", loaded.resolution, loaded.has_vl ? ", VL model" : "",
                                loaded.has_directions ? ", directions" : "", loaded.has_oracle ? ", oracle" : "");
    return [this, loaded] {
      info = loaded;
      core::log_info("models {}", info.status);
      last_message = info.status;
    };
  });
}

void Studio::sample() {
  if (!require_models("sample", false)) return;
  const GenerateControls c = generate;
  submit("sample", false, [this, c](const JobContext&) -> std::function<void()> {
    gen::Rendered r = pipeline_->sample(c.seed, c.psi, c.mix ? c.mix_seed : -1, c.crossover, c.label);
    std::string label = fmt::format("sample seed {} psi {:.2f}", c.seed, c.psi);
    if (!r.labels.empty()) label += " " + r.labels;
    if (c.mix) label += fmt::format(" mixed with seed {} from layer {}", c.mix_seed, c.crossover);
    return [this, r, label] { commit(HistoryEntry{label, r.image[0], r.latent}, true); };
  });
}

void Studio::request_preview() {
  if (!info.loaded || !info.has_vl || !info.has_directions || edit.target.find_first_not_of(" \t") == std::string::npos) return;
  if (history_.empty() || !history_.current().has_latent()) return;
  const gen::Latent latent = history_.current().latent;
  const EditControls c = edit;
  const uint64_t id = ++preview_request_;
  submit("preview", true, [this, latent, c, id](const JobContext&) -> std::function<void()> {
    gen::EditResult r = pipeline_->edit(latent, c.target, c.neutral, c.strength, c.beta);
    return [this, image = r.image[0], id] {
      if (id != preview_request_) return;  // an older request, or the image changed meanwhile
      preview_ = image;
      ++image_version_;
    };
  });
}

void Studio::apply_edit() {
  if (!require_models("edit", true)) return;
  if (!info.has_directions) {
    show_error("edit: no direction table loaded (compute one with `hdvila-train directions`, then choose it in Models)");
    return;
  }
  if (edit.target.find_first_not_of(" \t") == std::string::npos) {
    show_error("edit: the target prompt is empty");
    return;
  }
  const gen::Latent* latent = current_latent("edit");
  if (latent == nullptr) return;
  const EditControls c = edit;
  submit("edit", false, [this, latent = *latent, c](const JobContext&) -> std::function<void()> {
    gen::EditResult r = pipeline_->edit(latent, c.target, c.neutral, c.strength, c.beta);
    std::string label = fmt::format("edit \"{}\" (neutral \"{}\") alpha {:.2f} beta {:.3f}: {} channels", c.target, r.neutral,
                                    c.strength, c.beta, r.channels);
    return [this, r, label] { commit(HistoryEntry{label, r.image[0], r.latent}, false); };
  });
}

void Studio::optimise_edit() {
  if (!require_models("optimise", true)) return;
  if (edit.target.find_first_not_of(" \t") == std::string::npos) {
    show_error("optimise: the target prompt is empty");
    return;
  }
  const gen::Latent* latent = current_latent("optimise");
  if (latent == nullptr) return;
  const EditControls c = edit;
  submit("optimise", false, [this, latent = *latent, c](const JobContext& context) -> std::function<void()> {
    gen::EditOptimiseConfig config;
    config.steps = c.optimise_steps;
    gen::OptimiseEditResult r = pipeline_->edit_optimise(latent, c.target, c.neutral, config, context.progress, context.cancel);
    std::string label = fmt::format("optimise \"{}\" {} steps: similarity {:.3f} -> {:.3f}", c.target, c.optimise_steps,
                                    r.start_similarity, r.similarity);
    return [this, r, label] { commit(HistoryEntry{label, r.image[0], r.latent}, false); };
  });
}

void Studio::invert() {
  if (!require_models("invert", false)) return;
  if (!opened.defined()) {
    show_error("invert: open an image first (File > Open, or drop a file on the window)");
    return;
  }
  const at::Tensor image = opened;
  const int steps = generate.invert_steps;
  const double vl_weight = generate.invert_vl_weight;
  submit("invert", false, [this, image, steps, vl_weight](const JobContext& context) -> std::function<void()> {
    gen::InvertConfig config;
    config.steps = steps;
    config.vl_weight = vl_weight;
    gen::InvertOutput r = pipeline_->invert(image, config, context.progress, context.cancel);
    std::string label = fmt::format("invert {} steps: PSNR {:.2f} dB", steps, r.psnr);
    return [this, r, label] { commit(HistoryEntry{label, r.image[0], r.latent}, false); };
  });
}

void Studio::super_resolve() {
  if (!require_models("super-resolve", !sr.prompt.empty())) return;
  at::Tensor source;
  if (sr.from_opened) {
    if (!opened.defined()) {
      show_error("super-resolve: open a low-resolution image first");
      return;
    }
    source = opened;
  } else {
    if (history_.empty()) {
      show_error("super-resolve: no current image to down-scale (sample or open one)");
      return;
    }
    source = history_.current().image;
  }
  const SRControls c = sr;
  submit("super-resolve", false, [this, source, c](const JobContext& context) -> std::function<void()> {
    const int64_t resolution = pipeline_->generator().config().resolution;
    if (resolution % c.scale != 0) {
      throw core::Error(fmt::format("super-resolve: x{} does not divide the generator's {} px", c.scale, resolution));
    }
    // The low-resolution input: the opened file fitted to resolution/scale, or the current image
    // down-scaled — as shown, i.e. clamped (the generator's raw output overshoots [-1, 1], and an
    // input outside the pixel range could not be matched by any image).
    const at::Tensor shown = source.clamp(-1, 1);
    at::Tensor low = c.from_opened ? gen::fit_image(shown, resolution / c.scale)
                                   : gen::downscale(gen::fit_image(shown, resolution), c.scale);
    gen::SRConfig config;
    config.steps = c.steps;
    config.candidates = c.candidates;
    gen::SRResult r = pipeline_->super_resolve(low, c.scale, c.prompt, config, context.progress, context.cancel);
    SRView view;
    view.low = low[0];
    view.bicubic = r.bicubic[0];
    for (const gen::SRCandidate& candidate : r.candidates) {
      view.images.push_back(candidate.image[0]);
      view.captions.push_back(fmt::format("seed {} score {:.4f}{}", candidate.seed, candidate.score,
                                          c.prompt.empty() ? "" : fmt::format(" text {:.3f}", candidate.text_similarity)));
    }
    return [this, view = std::move(view)]() mutable {
      view.version = sr_view.version + 1;
      sr_view = std::move(view);
      last_message = fmt::format("super-resolution: {} candidates", sr_view.images.size());
      core::log_info("{}", last_message);
    };
  });
}

void Studio::use_sr_candidate(int index) {
  if (index < 0 || index >= static_cast<int>(sr_view.images.size())) {
    show_error(fmt::format("super-resolve: no candidate {}", index + 1));
    return;
  }
  sr_view.selected = index;
  commit(HistoryEntry{fmt::format("super-resolution x{} candidate {} ({})", sr.scale, index + 1, sr_view.captions[index]),
                      sr_view.images[index], {}},
         false);
}

void Studio::undo() {
  if (history_.undo()) {
    changed();
    last_message = "undo: " + history_.current().label;
  }
}

void Studio::redo() {
  if (history_.redo()) {
    changed();
    last_message = "redo: " + history_.current().label;
  }
}

void Studio::save_image(const fs::path& path) {
  const at::Tensor& image = shown_image();
  if (!image.defined()) {
    show_error(fmt::format("save {}: no image to save", path.string()));
    return;
  }
  try {
    core::save_png(path, image);
    last_message = fmt::format("saved {}", path.string());
    core::log_info("{}", last_message);
  } catch (const core::Error& e) {
    show_error(e.what());
  }
}

void Studio::cancel() {
  worker_->cancel();
  last_message = "cancelling...";
}

}  // namespace hdv::app
