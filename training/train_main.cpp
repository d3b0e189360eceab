// hdvila-train: the headless tool for data, training and model files. Subcommands are registered
// by training/cmd_*.cpp; see docs/cli/hdvila-train.md.
#include <fmt/format.h>

#include "core/cli.h"
#include "core/error.h"
#include "training/command.h"

int main(int argc, char** argv) {
  using namespace hdv;
  CLI::App app{"hdvila-train: data, training and model-file tools of hdvila", "hdvila-train"};
  app.require_subcommand(1);
  app.fallthrough();  // common flags may follow the subcommand name
  core::CommonOptions common;
  core::add_common_options(app, common);
  train::Commands commands;
  train::add_inspect_command(app, common, commands);
  train::add_convert_command(app, common, commands);
  train::add_text_commands(app, common, commands);
  train::add_model_commands(app, common, commands);
  train::add_import_command(app, common, commands);
  train::add_directions_command(app, common, commands);
  train::add_edit_eval_command(app, common, commands);
  train::add_sr_eval_command(app, common, commands);
#ifdef HDV_HAVE_VIDEO
  train::add_video_commands(app, common, commands);
  train::add_synth_command(app, common, commands);
  train::add_pretrain_commands(app, common, commands);
  train::add_oracle_command(app, common, commands);
  train::add_gan_commands(app, common, commands);
#endif
  return core::run_cli(app, argc, argv, [&] {
    for (const train::Command& command : commands) {
      if (command.app->parsed()) return command.run();
    }
    throw core::UsageError("a subcommand is required (see --help)");
  });
}
