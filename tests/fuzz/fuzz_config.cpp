// Fuzz target: config JSON (core/config.h) for every config kind the programs read from a file or
// from a checkpoint's metadata: the VL model, CLIP, pre-training runs, GAN and oracle training,
// the generator, global directions, the oracle, SynthVid and the studio's settings.
//
// The input is the JSON text; parse_json reads it and config_from_json fills each kind in turn
// (validate() is called for Settings only: the other kinds' validate() lives beside their torch
// modules, which this target does not link). Every error must name the source.
#include "app/settings.h"
#include "core/config.h"
#include "generation/directions.h"
#include "generation/generator.h"
#include "generation/oracle.h"
#include "models/clip_model.h"
#include "models/vl_model.h"
#include "tests/fuzz/fuzz_target.h"
#include "training/gan_trainer.h"
#include "training/oracle_trainer.h"
#include "training/synthvid.h"
#include "training/trainer.h"

namespace {

// kValidate: call validate() too (only for kinds whose validate() this target links).
template <class T, bool kValidate = false>
void read_kind(const hdv::core::Json& json, std::string_view source) {
  hdv::fuzz::expect_clean(
      [&] {
        T config;
        hdv::core::config_from_json(json, config, source);
        // The written form must read back (what a checkpoint's metadata relies on).
        T again;
        hdv::core::config_from_json(hdv::core::config_to_json(config), again, source);
        if constexpr (kValidate) config.validate();
      },
      [&](const hdv::core::Error& e) {
        // validate() messages name the field, not the file (the caller adds the file).
        if (!kValidate) hdv::fuzz::check_names_input(e, source);
      });
}

}  // namespace

HDV_FUZZ_TARGET(config) {
  using namespace hdv;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  core::Json json;
  bool parsed = false;
  fuzz::expect_clean(
      [&] {
        json = core::parse_json(text, "run.json");
        parsed = true;
      },
      [&](const core::Error& e) { fuzz::check_names_input(e, "run.json"); });
  if (!parsed) return 0;
  read_kind<models::VLConfig>(json, "run.json");
  read_kind<models::ClipConfig>(json, "run.json");
  read_kind<train::PretrainConfig>(json, "run.json");
  read_kind<train::GanConfig>(json, "run.json");
  read_kind<train::OracleTrainConfig>(json, "run.json");
  read_kind<train::SynthVidConfig>(json, "run.json");
  read_kind<gen::GeneratorConfig>(json, "run.json");
  read_kind<gen::DirectionsConfig>(json, "run.json");
  read_kind<gen::OracleConfig>(json, "run.json");
  read_kind<app::Settings, true>(json, "run.json");
  return 0;
}
