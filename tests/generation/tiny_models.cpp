// Tiny random pipeline models for tests (see tiny_models.h).
#include "tests/generation/tiny_models.h"

#include <torch/torch.h>

#include <fstream>
#include <string>
#include <vector>

#include "generation/directions.h"
#include "generation/generator_checkpoint.h"
#include "generation/oracle.h"
#include "models/presets.h"
#include "models/tokenizer.h"
#include "models/vl_checkpoint.h"

namespace hdv::gen {

PipelineOptions write_tiny_models(const test::TempDir& dir) {
  torch::manual_seed(11);
  Generator generator(generator_preset("stylegan2-tiny"));
  save_generator(dir / "generator.safetensors", *generator, "stylegan2-tiny");
  models::VLModel vl(models::vl_preset("hdvila-tiny"));
  models::save_vl_model(dir / "vl.safetensors", *vl, "hdvila-tiny");
  const std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "blue",
                                           "green", "shirt", "bag", "video", "of", "you", "can", "see",
                                           "there", "is", "."};
  {
    std::ofstream vocab(dir / "vocab.txt");
    for (const std::string& t : tokens) vocab << t << "\n";
  }
  VLGuideConfig guide_config;
  guide_config.image_size = 64;
  VLGuide guide(vl, models::Tokenizer(dir / "vocab.txt"), c10::Device(c10::kCPU), guide_config);
  DirectionsConfig directions;
  directions.images = 1;
  directions.stats_samples = 32;
  directions.batch = 64;
  save_directions(dir / "directions.safetensors", compute_directions(*generator, guide, directions));
  OracleConfig oracle_config;
  oracle_config.resolution = 16;
  oracle_config.width = 4;
  oracle_config.stages = 2;
  oracle_config.attributes = {{"class", {"shirt", "bag"}}, {"colour", {"red", "blue", "green"}}};
  AttributeOracle oracle(oracle_config);
  save_oracle(dir / "oracle.safetensors", *oracle);
  PipelineOptions options;
  options.generator = dir / "generator.safetensors";
  options.vl_model = dir / "vl.safetensors";
  options.oracle = dir / "oracle.safetensors";
  return options;
}

ScopedThreads::ScopedThreads(int threads) : saved_(torch::get_num_threads()) { torch::set_num_threads(threads); }
ScopedThreads::~ScopedThreads() { torch::set_num_threads(saved_); }

}  // namespace hdv::gen
