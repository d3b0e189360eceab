// Panels: the sidebar's collapsible panels (see panels.h).
#include "app/panels.h"

#include <torch/torch.h>

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include <unistd.h>

#include "core/device.h"
#include "core/error.h"
#include "generation/labels.h"
#include "generation/pipeline.h"

namespace hdv::app {

namespace {

const std::vector<std::string> kImageExtensions = {".png", ".jpg", ".jpeg", ".bmp"};
const std::vector<std::string> kCheckpointExtensions = {".safetensors"};

void help_marker(const char* text) {
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", text);
}

}  // namespace

double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return static_cast<double>(pages_resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

void Panels::choose_image_to_open() {
  browser_.open(FileBrowser::Mode::Open, "Open image", kImageExtensions, [this](const std::filesystem::path& p) {
    studio_.open_image(p);
  });
}

void Panels::choose_save_path() {
  browser_.open(FileBrowser::Mode::Save, "Save PNG", {".png"}, [this](const std::filesystem::path& p) {
    studio_.save_image(p);
  }, "edited.png");
}

void Panels::progress_line(const char* kind) {
  const JobProgress p = studio_.progress();
  if (p.kind != kind) return;
  const float fraction = p.total > 0 ? static_cast<float>(p.step) / static_cast<float>(p.total) : 0.0f;
  const std::string overlay = p.total > 0 ? fmt::format("{}/{} ({:.1f} s)", p.step, p.total, p.seconds) : "working...";
  ImGui::ProgressBar(fraction, ImVec2(-80, 0), overlay.c_str());
  ImGui::SameLine();
  if (ImGui::Button(fmt::format("Cancel##{}", kind).c_str())) studio_.cancel();
}

void Panels::draw() {
  ImGui::PushItemWidth(ImGui::GetWindowWidth() * 0.55f);
  models_panel();
  generate_panel();
  edit_panel();
  sr_panel();
  history_panel();
  status_panel();
  if (ImGui::CollapsingHeader("Log", ImGuiTreeNodeFlags_DefaultOpen)) log_.draw(160 * ImGui::GetIO().FontGlobalScale);
  ImGui::PopItemWidth();
}

void Panels::models_panel() {
  if (!ImGui::CollapsingHeader("Models", ImGuiTreeNodeFlags_DefaultOpen)) return;
  for (ModelSlot& slot : studio_.models) {
    ImGui::PushID(slot.key.c_str());
    ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - 110 * ImGui::GetIO().FontGlobalScale);
    ImGui::InputTextWithHint("##path", slot.key == "directions" ? "(beside the generator)" : "(none)", &slot.path);
    ImGui::SameLine();
    if (ImGui::Button("...")) {
      browser_.open(FileBrowser::Mode::Open, "Choose " + slot.label, kCheckpointExtensions,
                    [&slot](const std::filesystem::path& p) { slot.path = p.string(); });
    }
    ImGui::SameLine();
    ImGui::TextUnformatted(slot.label.c_str());
    ImGui::PopID();
  }
  if (!cuda_checked_) {
    cuda_ = core::cuda_device_count() > 0;
    cuda_checked_ = true;
  }
  ImGui::SetNextItemWidth(120);
  if (ImGui::BeginCombo("device", studio_.device.c_str())) {
    if (ImGui::Selectable("cpu", studio_.device == "cpu")) studio_.device = "cpu";
    if (cuda_ && ImGui::Selectable("cuda", studio_.device == "cuda")) studio_.device = "cuda";
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  if (ImGui::Button("Load models")) studio_.load_models();
  const ModelInfo& info = studio_.info;
  ImGui::PushStyleColor(ImGuiCol_Text, info.loaded ? ImVec4(0.5f, 1.0f, 0.5f, 1.0f) : ImVec4(1.0f, 0.6f, 0.4f, 1.0f));
  ImGui::TextWrapped("%s", info.status.c_str());
  ImGui::PopStyleColor();
  if (info.loaded) {
    ImGui::Text("generator %lld px, %lld ws; on %s", static_cast<long long>(info.resolution),
                static_cast<long long>(info.num_ws), info.device.c_str());
    ImGui::Text("VL model: %s  directions: %s  oracle: %s", info.has_vl ? "yes" : "no", info.has_directions ? "yes" : "no",
                info.has_oracle ? "yes" : "no");
  }
}

// A conditional generator's labels: one combo per attribute, "(from seed)" or a value; the choice
// is kept as the label text the Pipeline parses ("class=dress,colour=red").
void Panels::label_combos() {
  const auto& vocabulary = studio_.info.labels;
  if (vocabulary.empty()) return;
  GenerateControls& g = studio_.generate;
  std::vector<int64_t> choice(vocabulary.size(), -1);
  try {
    choice = gen::parse_label_spec(vocabulary, g.label);
  } catch (const core::Error&) {
    g.label.clear();  // words of another generator's vocabulary
  }
  bool changed = false;
  for (size_t a = 0; a < vocabulary.size(); ++a) {
    const auto& attribute = vocabulary[a];
    const char* shown = choice[a] < 0 ? "(from seed)" : attribute.values[size_t(choice[a])].c_str();
    ImGui::SetNextItemWidth(140);
    if (ImGui::BeginCombo(attribute.name.c_str(), shown)) {
      if (ImGui::Selectable("(from seed)", choice[a] < 0)) {
        choice[a] = -1;
        changed = true;
      }
      for (size_t k = 0; k < attribute.values.size(); ++k) {
        if (ImGui::Selectable(attribute.values[k].c_str(), choice[a] == int64_t(k))) {
          choice[a] = int64_t(k);
          changed = true;
        }
      }
      ImGui::EndCombo();
    }
  }
  if (!changed) return;
  std::string spec;
  for (size_t a = 0; a < vocabulary.size(); ++a) {
    if (choice[a] < 0) continue;
    spec += (spec.empty() ? "" : ",") + vocabulary[a].name + "=" + vocabulary[a].values[size_t(choice[a])];
  }
  g.label = spec;
}

void Panels::generate_panel() {
  if (!ImGui::CollapsingHeader("Generate", ImGuiTreeNodeFlags_DefaultOpen)) return;
  GenerateControls& g = studio_.generate;
  ImGui::SetNextItemWidth(140);
  ImGui::InputInt("seed", &g.seed);
  g.seed = std::max(0, g.seed);
  ImGui::SliderFloat("truncation psi", &g.psi, 0.0f, 1.0f, "%.2f");
  ImGui::Checkbox("style mixing", &g.mix);
  if (g.mix) {
    ImGui::SetNextItemWidth(140);
    ImGui::InputInt("mix seed", &g.mix_seed);
    g.mix_seed = std::max(0, g.mix_seed);
    ImGui::SliderInt("crossover", &g.crossover, 0, std::max<int>(1, static_cast<int>(studio_.info.num_ws)));
  }
  label_combos();
  if (ImGui::Button("Sample")) studio_.sample();
  progress_line("sample");
  ImGui::Separator();
  if (ImGui::Button("Open image...")) choose_image_to_open();
  ImGui::SameLine();
  ImGui::TextWrapped("%s", studio_.opened_path.empty() ? "(none)" : studio_.opened_path.filename().string().c_str());
  ImGui::SetNextItemWidth(140);
  ImGui::InputInt("invert steps", &g.invert_steps, 50);
  g.invert_steps = std::clamp(g.invert_steps, 1, 5000);
  ImGui::SliderFloat("VL feature weight", &g.invert_vl_weight, 0.0f, 1.0f, "%.2f");
  help_marker("Weight of the VL-embedding term of the inversion loss (0 = pixels only).");
  if (ImGui::Button("Invert")) studio_.invert();
  help_marker("Projects the opened image into the generator's latent space (pixel + VL-feature loss); "
              "the reconstruction is shown beside the original (image area: compare).");
  progress_line("invert");
}

void Panels::edit_panel() {
  if (!ImGui::CollapsingHeader("Edit", ImGuiTreeNodeFlags_DefaultOpen)) return;
  EditControls& e = studio_.edit;
  bool changed = false;
  changed |= ImGui::InputTextWithHint("target", "a red shirt", &e.target);
  const std::string derived = "(derived: " + (e.target.empty() ? std::string("a shirt") : gen::derive_neutral(e.target)) + ")";
  changed |= ImGui::InputTextWithHint("neutral", derived.c_str(), &e.neutral);
  changed |= ImGui::SliderFloat("strength alpha", &e.strength, -15.0f, 25.0f, "%.2f");
  changed |= ImGui::SliderFloat("disentangle beta", &e.beta, 0.08f, 0.4f, "%.3f");
  ImGui::Checkbox("live preview", &e.live_preview);
  if (changed && e.live_preview) studio_.request_preview();
  if (ImGui::Button("Apply edit")) studio_.apply_edit();
  help_marker("Global direction (StyleCLIP): the prompt pair becomes a StyleSpace direction; alpha scales it, "
              "beta drops channels with low relevance.");
  ImGui::SameLine();
  if (ImGui::Button("Optimise")) studio_.optimise_edit();
  ImGui::SameLine();
  ImGui::SetNextItemWidth(100);
  ImGui::InputInt("steps", &e.optimise_steps, 10);
  e.optimise_steps = std::clamp(e.optimise_steps, 1, 5000);
  progress_line("optimise");
  ImGui::BeginDisabled(!studio_.history().can_undo());
  if (ImGui::Button("Undo")) studio_.undo();
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(!studio_.history().can_redo());
  if (ImGui::Button("Redo")) studio_.redo();
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::Button("Save PNG...")) choose_save_path();
}

void Panels::sr_panel() {
  if (sr_version_ != studio_.sr_view.version) ImGui::SetNextItemOpen(true);  // show new candidates
  sr_version_ = studio_.sr_view.version;
  if (!ImGui::CollapsingHeader("Super-resolve")) return;
  SRControls& s = studio_.sr;
  ImGui::TextUnformatted("scale");
  for (int scale : {4, 8, 16}) {
    ImGui::SameLine();
    ImGui::RadioButton(fmt::format("x{}", scale).c_str(), &s.scale, scale);
  }
  int source = s.from_opened ? 1 : 0;
  ImGui::RadioButton("current image, down-scaled", &source, 0);
  ImGui::SameLine();
  ImGui::RadioButton("opened image", &source, 1);
  s.from_opened = source == 1;
  ImGui::InputTextWithHint("prompt##sr", "(no text term)", &s.prompt);
  ImGui::SetNextItemWidth(100);
  ImGui::InputInt("candidates", &s.candidates);
  s.candidates = std::clamp(s.candidates, 1, 16);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(100);
  ImGui::InputInt("steps##sr", &s.steps, 10);
  s.steps = std::clamp(s.steps, 1, 5000);
  if (ImGui::Button("Super-resolve")) studio_.super_resolve();
  progress_line("super-resolve");
  SRView& view = studio_.sr_view;
  if (view.images.empty()) return;
  ImGui::Text("candidate #%d selected (image area, Super-resolution tab)", view.selected + 1);
  if (ImGui::Button("Use selected")) studio_.use_sr_candidate(view.selected);
  ImGui::SameLine();
  if (ImGui::Button("Use and save...")) {
    studio_.use_sr_candidate(view.selected);
    choose_save_path();
  }
}

void Panels::history_panel() {
  if (!ImGui::CollapsingHeader("History")) return;
  const History& history = studio_.history();
  ImGui::BeginChild("history", ImVec2(0, 120 * ImGui::GetIO().FontGlobalScale), true);
  for (size_t i = 0; i < history.entries().size(); ++i) {
    const bool current = i == history.current_index();
    ImGui::TextColored(current ? ImVec4(1, 1, 1, 1) : ImVec4(0.6f, 0.6f, 0.6f, 1), "%s %zu. %s", current ? ">" : " ", i + 1,
                       history.entries()[i].label.c_str());
  }
  ImGui::EndChild();
}

void Panels::status_panel() {
  if (!ImGui::CollapsingHeader("Status", ImGuiTreeNodeFlags_DefaultOpen)) return;
  ImGui::Text("%.1f FPS   memory %.0f MiB", ImGui::GetIO().Framerate, resident_mib());
  ImGui::Text("device: %s", studio_.info.loaded ? studio_.info.device.c_str() : studio_.device.c_str());
  ImGui::Text("last operation: %s", studio_.last_operation.empty() ? "-" : studio_.last_operation.c_str());
  const JobProgress p = studio_.progress();
  ImGui::Text("worker: %s", p.kind.empty() ? (studio_.idle() ? "idle" : "queued") : p.kind.c_str());
  if (!studio_.last_message.empty()) ImGui::TextWrapped("%s", studio_.last_message.c_str());
  if (!studio_.last_error.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.4f, 0.4f, 1.0f));
    ImGui::TextWrapped("error: %s", studio_.last_error.c_str());
    ImGui::PopStyleColor();
    if (ImGui::SmallButton("Dismiss")) studio_.clear_error();
  }
}

}  // namespace hdv::app
