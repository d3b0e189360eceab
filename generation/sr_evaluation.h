// Scoring text-guided super-resolution (issue 5's SR protocol): each held-out high-resolution
// image is down-scaled by `scale` (area), super-resolved once with its prompt (the true attributes
// in words) and once without, and bicubic-upscaled; each output is compared with the original by
// PSNR and read by the attribute oracle, which is asked whether it shows the image's true value of
// each scored attribute (texture above all: the detail the low-resolution input cannot show).
// The oracle only scores; it never steers.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/progress.h"
#include "generation/pipeline.h"

namespace hdv::gen {

// One held-out image with its true attribute values.
struct SRCase {
  at::Tensor image;                           // [3, R, R] in [-1, 1], R = the generator's resolution
  std::string prompt;                         // the truth in words, e.g. "a striped red t-shirt"
  std::map<std::string, std::string> truth;   // attribute -> true value (oracle value names)
  std::string source;                         // where it came from, for the per-image records
};

struct SREvaluationConfig {
  int64_t scale = 4;                      // down-scaling factor (4, 8 or 16)
  std::vector<std::string> attributes = {"texture", "colour", "class"};  // scored (oracle attribute names)
  SRConfig sr;                            // the search (steps, candidates, weights); seed per image = sr.seed + index
  int64_t keep_images = 0;                // keep the pictures of the first this many images (SREvaluation::pictures)
  void validate() const;
};

// One way of producing the high-resolution image.
struct SRMethodScore {
  std::string method;                          // "prompt", "no prompt" or "bicubic"
  int64_t images = 0;
  double mean_psnr = 0;                        // dB (peak-to-peak 2), against the original
  std::map<std::string, int64_t> hits;         // attribute -> outputs the oracle reads as the true value
  double accuracy(const std::string& attribute) const;  // hits / images
};

struct SRImageRecord {
  std::string source;
  std::map<std::string, double> psnr;                          // method -> dB
  std::map<std::string, std::map<std::string, std::string>> read;  // method -> attribute -> oracle's value
};

struct SREvaluation {
  std::vector<SRMethodScore> methods;  // prompt, no prompt, bicubic
  std::vector<SRImageRecord> images;
  std::map<std::string, int64_t> original_hits;  // attribute -> originals the oracle reads as the truth (its ceiling)
  // Per kept image, [3, R, R] each: low-resolution input (enlarged, nearest neighbour), bicubic,
  // no prompt, prompt, original.
  std::vector<std::vector<at::Tensor>> pictures;
  core::Json to_json(const SREvaluationConfig& config) const;
};

// Needs a pipeline with a VL model and an oracle; every case's image must be square at the
// generator's resolution, divisible by `scale`. Progress counts images.
SREvaluation evaluate_super_resolution(Pipeline& pipeline, const std::vector<SRCase>& cases, const SREvaluationConfig& config,
                                       const core::ProgressCallback& progress = {}, const std::atomic<bool>* cancel = nullptr);
// The same on several copies of the models side by side (generation/workers.h): the images are
// shared out, the table is the same as on one (given the same CPU threads per image). Progress is
// called under a lock, from the workers' threads.
SREvaluation evaluate_super_resolution(std::span<Pipeline> pipelines, const std::vector<SRCase>& cases,
                                       const SREvaluationConfig& config, const core::ProgressCallback& progress = {},
                                       const std::atomic<bool>* cancel = nullptr);

}  // namespace hdv::gen
