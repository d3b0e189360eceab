// The Pipeline API: load the models once, then sample / invert / edit / edit_optimise /
// super_resolve, with progress callbacks and cancellation. Shared by hdvila-generate and the
// studio (docs/design.md §7).
//
// Models: the generator (required), the VL model (for anything steered by text), its global
// direction table (for `edit`; the file beside the generator by default) and the attribute
// oracle (optional: only scores outputs). Every model path defaults to the bundled model in
// assets/models/.
//
// Prompt embeddings are cached (up to 256 prompts), so repeated edits with the same prompts — the
// studio's live preview while a slider moves — cost only the StyleSpace edit and one synthesis.
//
// An image being worked on is a Latent: its W+ and, after an inversion, the noise maps that
// reproduce it. Every operation returns images as [1, C, R, R] in [-1, 1] on the CPU.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.h"
#include "generation/directions.h"
#include "generation/edit_optimise.h"
#include "generation/generator.h"
#include "generation/projector.h"
#include "generation/super_resolution.h"
#include "generation/vl_guide.h"

namespace hdv::gen {

struct PipelineOptions {
  std::filesystem::path generator;   // "" = assets/models/generator.safetensors
  std::filesystem::path vl_model;    // "" = assets/models/vl-model.safetensors; required for text
  std::filesystem::path directions;  // "" = directions.safetensors beside the generator (if present)
  std::filesystem::path oracle;      // "" = assets/models/oracle.safetensors (if present)
  std::filesystem::path vocab;       // "" = vocab.txt beside the VL model, else the venv's MiniLM one
  std::string python;                // the venv's interpreter (to find the default vocabulary)
  bool require_vl = true;            // fail on load when the VL model is missing
  int64_t vl_image_size = 0;         // images are resized to this for the VL model; 0 =
                                     // default_vl_image_size (the generator's resolution, at least 128)
  bool plain_relevance = false;      // edit: StyleCLIP's relevance instead of the whitened one
  double whitening_ridge = kDefaultWhiteningRidge;  // edit: ridge of the whitened relevance (directions.h)
  c10::Device device = c10::Device(c10::kCPU);
};

struct Latent {
  at::Tensor ws;                   // [1, num_ws, w_dim]
  std::vector<at::Tensor> noise;   // per conv layer [1, 1, r, r]; empty = the stored noise
};

struct Rendered {
  at::Tensor image;  // [1, C, R, R] in [-1, 1], CPU
  Latent latent;
  std::string labels;  // sample of a conditional generator: the labels it was drawn with ("class=dress,...")
};

struct EditResult : Rendered {
  int64_t channels = 0;  // StyleSpace channels the edit touched
  std::string neutral;   // the neutral prompt used
};

struct OptimiseEditResult : Rendered {
  double start_similarity = 0, similarity = 0;
};

struct InvertOutput : Rendered {
  double mse = 0, psnr = 0;
};

// Oracle reading of an image: attribute -> value, and its confidence.
struct AttributeReading {
  std::map<std::string, std::string> values;
  std::map<std::string, double> confidence;
};

class Pipeline {
 public:
  // Loads and validates every model; errors name the file (see each loader).
  explicit Pipeline(const PipelineOptions& options);
  ~Pipeline();
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;

  // z from `seed`, truncation psi; with mix_seed >= 0, ws from `crossover` on come from mix_seed.
  // A conditional generator maps z with labels: those `label` names ("class=dress,colour=red",
  // generation/labels.h; UsageError for unknown words), the others drawn from the seed. Labels only
  // pick the sample: what is returned is its W+, which edits move as for any generator.
  Rendered sample(int64_t seed, double psi = 0.7, int64_t mix_seed = -1, int64_t crossover = 0,
                  const std::string& label = "");
  // The generator's label vocabulary (empty when unconditional).
  const std::vector<LabelAttribute>& label_vocabulary() const;
  Rendered render(const Latent& latent);
  InvertOutput invert(const at::Tensor& image, const InvertConfig& config, const core::ProgressCallback& progress = {},
                      const std::atomic<bool>* cancel = nullptr);
  // Global-direction edit; `neutral` "" = derived from the prompt (see derive_neutral).
  EditResult edit(const Latent& latent, const std::string& prompt, const std::string& neutral, double alpha, double beta);
  // `neutral` is used by config.direction_lambda > 0 only; "" = derived from the prompt.
  OptimiseEditResult edit_optimise(const Latent& latent, const std::string& prompt, const std::string& neutral,
                                   const EditOptimiseConfig& config,
                                   const core::ProgressCallback& progress = {}, const std::atomic<bool>* cancel = nullptr);
  // prompt "" = no text term.
  SRResult super_resolve(const at::Tensor& low, int64_t scale, const std::string& prompt, const SRConfig& config,
                         const core::ProgressCallback& progress = {}, const std::atomic<bool>* cancel = nullptr);
  // The oracle's reading, when an oracle is loaded.
  std::optional<AttributeReading> read_attributes(const at::Tensor& image);

  // The values the oracle reads for `attribute` ("colour" -> red, orange, ...); empty without an
  // oracle or for an attribute it does not read.
  std::vector<std::string> oracle_values(const std::string& attribute) const;

  bool has_vl_model() const;
  bool has_directions() const;
  bool has_oracle() const;
  GeneratorImpl& generator();
  const std::filesystem::path& generator_path() const;
  const std::filesystem::path& vl_model_path() const;
  const std::filesystem::path& directions_path() const;
  const std::filesystem::path& oracle_path() const;
  c10::Device device() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The neutral prompt for an edit without one: the prompt's article and last word
// ("a red shirt" -> "a shirt", "striped sandal" -> "sandal").
std::string derive_neutral(const std::string& prompt);

// The neutral prompt of an edit in `mode`: `neutral` when given, else derived from `prompt`.
// Throws core::Error when the derived one is the prompt itself (one word, or text without spaces
// such as Chinese), which could give no direction.
std::string neutral_prompt(const std::string& prompt, const std::string& neutral, std::string_view mode);

}  // namespace hdv::gen
