// Subcommands of hdvila-train: each one registers its flags on a CLI11 subcommand and an action
// that runs after parsing (so errors reach run_cli and become exit statuses, never stack dumps).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/cli.h"

namespace hdv::train {

struct Command {
  CLI::App* app = nullptr;
  std::function<void()> run;
};

using Commands = std::vector<Command>;

// The set-up's venv interpreter: $HDV_VENV/bin/python, else ~/.cache/hdvila/venv/bin/python.
std::string default_python();

// Each adds one subcommand to `app`; `common` receives --device/--threads/--verbose/--quiet.
void add_inspect_command(CLI::App& app, core::CommonOptions& common, Commands& commands);
void add_convert_command(CLI::App& app, core::CommonOptions& common, Commands& commands);
void add_video_commands(CLI::App& app, core::CommonOptions& common, Commands& commands);
void add_text_commands(CLI::App& app, core::CommonOptions& common, Commands& commands);
void add_model_commands(CLI::App& app, core::CommonOptions& common, Commands& commands);
void add_import_command(CLI::App& app, core::CommonOptions& common, Commands& commands);
// synth (SynthVid)
void add_synth_command(CLI::App& app, core::CommonOptions& common, Commands& commands);
// edit-eval (oracle-scored text edits)
void add_edit_eval_command(CLI::App& app, core::CommonOptions& common, Commands& commands);
// sr-eval: super-resolution scored by PSNR and the oracle (prompt vs no prompt vs bicubic).
void add_sr_eval_command(CLI::App& app, core::CommonOptions& common, Commands& commands);
// directions (global-direction tables of generators)
void add_directions_command(CLI::App& app, core::CommonOptions& common, Commands& commands);
// pretrain, eval, stage-probes
void add_pretrain_commands(CLI::App& app, core::CommonOptions& common, Commands& commands);
// oracle (the attribute oracle, trained on SynthVid keyframes)
void add_oracle_command(CLI::App& app, core::CommonOptions& common, Commands& commands);
// gan, gan-fd (StyleGAN2 training, VL-FD)
void add_gan_commands(CLI::App& app, core::CommonOptions& common, Commands& commands);

}  // namespace hdv::train
