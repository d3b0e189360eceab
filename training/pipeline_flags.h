// The model-file flags of the commands that score with the generation Pipeline (edit-eval,
// sr-eval): held as strings for CLI11, turned into gen::PipelineOptions in one place.
#pragma once

#include <string>

#include "core/assets.h"
#include "generation/pipeline.h"

namespace hdv::train {

struct PipelineFlags {
  std::string generator, vl_model, oracle, directions, vocab;  // "" = the Pipeline's default
  std::string python = core::default_python();                 // the venv's Python (default vocabulary)
  bool plain_relevance = false;                                // global directions: StyleCLIP's relevance
  double ridge = gen::kDefaultWhiteningRidge;                  // global directions: whitening ridge

  gen::PipelineOptions options(c10::Device device) const {
    gen::PipelineOptions p;
    p.device = device;
    p.generator = generator;
    p.vl_model = vl_model;
    p.oracle = oracle;
    p.directions = directions;
    p.vocab = vocab;
    p.python = python;
    p.plain_relevance = plain_relevance;
    p.whitening_ridge = ridge;
    return p;
  }
};

}  // namespace hdv::train
