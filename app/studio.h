// The studio's document and controller: what is open, the models' state, the panels' controls and
// every user action (open, sample, invert, edit, optimise, super-resolve, undo / redo, save).
//
// Owned by the UI thread. Model work is queued on the one Worker (worker.h); only those jobs touch
// the Pipeline. A job hands its result back as a closure posted to an inbox that poll() runs on
// the UI thread, so no state here is shared between threads. Errors from any action or job are
// shown in the window (last_error, the log) — never thrown out of the studio. No GL here: the
// panels and the image view draw this state (panels.h, image_view.h).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/history.h"
#include "app/worker.h"
#include "generation/pipeline.h"

namespace hdv::app {

// One model file of the Models panel.
struct ModelSlot {
  std::string key;    // "generator", "vl_model", "directions", "oracle" (script field names)
  std::string label;  // "Generator"
  std::string path;   // "" = none (directions: beside the generator)
};

// What the loaded models are (UI copy; the Pipeline itself lives on the worker).
struct ModelInfo {
  bool loaded = false;
  std::string status = "not loaded";  // or the load error
  int64_t resolution = 0;
  int64_t num_ws = 0;
  std::vector<gen::LabelAttribute> labels;  // a conditional generator's label vocabulary (empty otherwise)
  bool has_vl = false, has_directions = false, has_oracle = false;
  std::string device;
};

struct GenerateControls {
  int seed = 0;
  float psi = 0.7f;          // truncation ψ
  bool mix = false;          // style mixing
  int mix_seed = 1;
  int crossover = 4;         // ws from this index on come from mix_seed
  std::string label;         // conditional generator: "class=dress,colour=red" ("" = all drawn from the seed)
  int invert_steps = 300;    // projector steps
  float invert_vl_weight = 0.1f;  // weight of the VL-feature term (0 = pixel loss only)
};

struct EditControls {
  std::string target;        // target prompt ("a red shirt")
  std::string neutral;       // "" = derived from the target
  float strength = 4.1f;     // α, GUI range −15..25
  float beta = 0.15f;        // disentanglement threshold β, GUI range 0.08..0.4
  bool live_preview = true;  // re-render the edit on every slider move
  int optimise_steps = 100;  // latent-optimisation steps
};

struct SRControls {
  int scale = 4;             // 4, 8 or 16
  std::string prompt;        // "" = no text term
  int candidates = 4;
  int steps = 50;            // Adam steps per candidate
  bool from_opened = false;  // the opened file is the low-resolution input (else: the current image down-scaled)
};

struct SRView {
  at::Tensor low;                 // [3, h, w] the input
  at::Tensor bicubic;             // [3, H, W]
  std::vector<at::Tensor> images; // [3, H, W] per candidate, best first
  std::vector<std::string> captions;
  int selected = 0;
  uint64_t version = 0;           // bumped on every new result (textures re-upload)
};

struct StudioOptions {
  std::vector<ModelSlot> models;  // initial paths (defaults preselected)
  std::string device = "cpu";     // "cpu", "cuda", "cuda:N"
  bool load_at_start = false;     // queue a load of `models` right away
};

class Studio {
 public:
  explicit Studio(StudioOptions options);
  ~Studio();

  // Runs the results of finished jobs (UI thread, once per frame).
  void poll();
  // No job running or queued and no result waiting.
  bool idle() const;

  // Actions. Each either changes the state at once or queues a job; failures end up in last_error.
  void open_image(const std::filesystem::path& path);
  // Files dropped on the window: a checkpoint fills the Models slot of its kind (press Load
  // models after), anything else is opened as an image.
  void open_dropped(const std::vector<std::filesystem::path>& paths);
  void load_models();
  void sample();
  void request_preview();  // live edit preview ("latest request wins")
  void apply_edit();
  void optimise_edit();
  void invert();
  void super_resolve();
  void use_sr_candidate(int index);
  void undo();
  void redo();
  void save_image(const std::filesystem::path& path);
  void cancel();

  void show_error(const std::string& message);
  void clear_error() { last_error.clear(); }

  // The image shown as "after" (the live preview when there is one) and "before" (the reference).
  const at::Tensor& shown_image() const;
  const at::Tensor& reference_image() const { return reference_; }
  uint64_t image_version() const { return image_version_; }
  const History& history() const { return history_; }
  bool has_preview() const { return preview_.defined(); }
  JobProgress progress() const { return worker_->progress(); }

  // Panel state, drawn and edited in place by the panels (immediate-mode style).
  std::vector<ModelSlot> models;
  std::string device;
  ModelInfo info;
  GenerateControls generate;
  EditControls edit;
  SRControls sr;
  SRView sr_view;
  std::filesystem::path opened_path;  // last opened image file
  at::Tensor opened;                  // [3, H, W] its pixels
  std::string last_error;             // shown in the window until the next error or dismissal
  std::string last_operation;         // "edit 72 ms"
  std::string last_message;           // last success line ("saved out.png")

 private:
  // Queues `work` on the worker; it runs there and returns the closure to run back on the UI thread.
  void submit(const std::string& kind, bool replaceable, std::function<std::function<void()>(const JobContext&)> work);
  void post(std::function<void()> done);
  void commit(HistoryEntry entry, bool new_reference);
  void changed();
  bool require_models(const char* what, bool needs_vl);
  const gen::Latent* current_latent(const char* what);

  std::unique_ptr<gen::Pipeline> pipeline_;  // worker thread only
  History history_;
  at::Tensor reference_;  // the image the current chain started from (opened or sampled)
  at::Tensor preview_;    // live edit preview of the current entry, undefined when none
  uint64_t image_version_ = 0;
  uint64_t preview_request_ = 0;  // id of the newest preview asked for

  mutable std::mutex inbox_mutex_;
  std::vector<std::function<void()>> inbox_;
  std::unique_ptr<Worker> worker_;  // last: joined first, while the rest still exists
};

// The studio's default model slots: the bundled models (which may not exist yet).
std::vector<ModelSlot> default_model_slots();

}  // namespace hdv::app
