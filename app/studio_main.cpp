// hdvila-studio: the Dear ImGui + GLFW desktop editor (DESIGN.md §8).
//
// This version opens the window with its fixed layout — a sidebar of collapsible panels (Models,
// Status, Log) beside the image area — loads and validates the model checkpoints it is given,
// shows an image passed with --image, and routes the core log into its log panel. Editing,
// generation and super-resolution panels arrive with the generation Pipeline API.
//
// Headless use (tests, docs): --screenshot out.png --frames N renders N frames, saves the window
// as PNG and exits, e.g. under `xvfb-run -a`.
#include <torch/torch.h>

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <chrono>
#include <deque>
#include <mutex>

#include <fmt/format.h>

#include "app/gl_texture.h"
#include "core/assets.h"
#include "core/checkpoint.h"
#include "core/cli.h"
#include "core/device.h"
#include "core/error.h"
#include "core/image_io.h"
#include "core/log.h"

namespace {

using namespace hdv;

struct Options {
  core::CommonOptions common;
  std::string vl_model;
  std::string generator;
  std::string image;
  std::string screenshot;
  int frames = 3;
  int width = 1280;
  int height = 800;
};

// One model slot of the Models panel.
struct ModelSlot {
  const char* label = "";
  const char* kind = "";
  std::string path;
  std::string status;  // "loaded: ..." or the error text
  bool ok = false;
};

// Log lines received from the core log sink (any thread), shown in the Log panel.
class LogPanel {
 public:
  void add(core::LogLevel level, std::string_view message) {
    std::lock_guard lock(mutex_);
    lines_.emplace_back(level, std::string(message));
    if (lines_.size() > kMaxLines) lines_.pop_front();
  }
  void draw() {
    std::lock_guard lock(mutex_);
    ImGui::BeginChild("log", ImVec2(0, 160), true);
    for (const auto& [level, text] : lines_) {
      ImVec4 colour = level >= core::LogLevel::Error     ? ImVec4(1.0f, 0.4f, 0.4f, 1.0f)
                      : level == core::LogLevel::Warning ? ImVec4(1.0f, 0.8f, 0.3f, 1.0f)
                                                         : ImVec4(0.85f, 0.85f, 0.85f, 1.0f);
      ImGui::PushStyleColor(ImGuiCol_Text, colour);
      ImGui::TextWrapped("%s", text.c_str());
      ImGui::PopStyleColor();
    }
    if (ImGui::GetScrollY() >= ImGui::GetScrollMaxY()) ImGui::SetScrollHereY(1.0f);
    ImGui::EndChild();
  }

 private:
  static constexpr size_t kMaxLines = 500;
  std::mutex mutex_;
  std::deque<std::pair<core::LogLevel, std::string>> lines_;
};

void check_model(ModelSlot& slot) {
  std::error_code ec;
  if (!std::filesystem::exists(slot.path, ec)) {
    slot.ok = false;
    slot.status = "not found (bundled models are not part of this version yet)";
    core::log_warning("{} model: {} not found", slot.label, slot.path);
    return;
  }
  try {
    core::CheckpointInfo info = core::Checkpoint::load(slot.path, slot.kind).info();
    slot.ok = true;
    slot.status = fmt::format("{} {}, step {}", info.kind, info.preset, info.step);
    core::log_info("{} model: {}", slot.label, slot.status);
  } catch (const core::Error& e) {
    slot.ok = false;
    slot.status = e.what();
    core::log_error("{}", e.what());
  }
}

void save_screenshot(const std::string& path, int width, int height) {
  std::vector<unsigned char> pixels(static_cast<size_t>(width) * height * 3);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE, pixels.data());
  at::Tensor hwc = torch::from_blob(pixels.data(), {height, width, 3}, torch::kUInt8).flip(0);  // GL rows go up
  core::save_png(path, core::from_uint8_hwc(hwc.contiguous()));
}

int run_studio(Options& options) {
  LogPanel log_panel;
  core::set_log_sink([&log_panel](core::LogLevel level, std::string_view message) {
    log_panel.add(level, message);
    if (level >= core::LogLevel::Warning) {
      std::fprintf(stderr, "%s: %.*s\n", std::string(core::log_level_name(level)).c_str(), int(message.size()),
                   message.data());
    }
  });
  c10::Device device = core::apply_common_options(options.common);

  glfwSetErrorCallback([](int code, const char* text) { core::log_error("GLFW error {}: {}", code, text); });
  if (!glfwInit()) throw core::Error("cannot open a window: GLFW could not initialise (no display? try xvfb-run -a)");
  const bool headless = !options.screenshot.empty();
  if (headless) glfwWindowHint(GLFW_VISIBLE, GLFW_FALSE);
  GLFWwindow* window = glfwCreateWindow(options.width, options.height, "hdvila-studio", nullptr, nullptr);
  if (window == nullptr) {
    glfwTerminate();
    throw core::Error("cannot open a window: no OpenGL 3 context (check the display and GL drivers)");
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(headless ? 0 : 1);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // layout is fixed in this version
  float scale_x = 1.0f, scale_y = 1.0f;
  glfwGetWindowContentScale(window, &scale_x, &scale_y);
  io.FontGlobalScale = std::max(1.0f, scale_x);
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 130");

  core::log_info("hdvila-studio on {} ({} CPU thread(s))", core::describe_device(device), torch::get_num_threads());
  std::vector<ModelSlot> models(2);
  models[0].label = "VL";
  models[0].kind = "vl-model";
  models[0].path = options.vl_model.empty() ? core::default_model_path("vl-model.safetensors").string() : options.vl_model;
  models[1].label = "Generator";
  models[1].kind = "generator";
  models[1].path =
      options.generator.empty() ? core::default_model_path("generator.safetensors").string() : options.generator;
  for (ModelSlot& slot : models) check_model(slot);

  app::GlTexture texture;
  std::string image_status = "no image open";
  if (!options.image.empty()) {
    try {
      at::Tensor image = core::load_image(options.image);
      texture.upload(image);
      image_status = fmt::format("{} ({}x{})", options.image, image.size(2), image.size(1));
      core::log_info("opened {}", image_status);
    } catch (const core::Error& e) {
      image_status = e.what();
      core::log_error("{}", e.what());
    }
  }

  int frame = 0;
  double last_frame_ms = 0;
  auto previous = std::chrono::steady_clock::now();
  while (!glfwWindowShouldClose(window)) {
    glfwPollEvents();
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();

    const ImVec2 display = io.DisplaySize;
    const float sidebar = std::min(380.0f * io.FontGlobalScale, display.x * 0.4f);
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(sidebar, display.y));
    ImGui::Begin("hdvila-studio", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse);
    if (ImGui::CollapsingHeader("Models", ImGuiTreeNodeFlags_DefaultOpen)) {
      for (const ModelSlot& slot : models) {
        ImGui::Text("%s model", slot.label);
        ImGui::TextWrapped("%s", slot.path.c_str());
        ImGui::PushStyleColor(ImGuiCol_Text, slot.ok ? ImVec4(0.5f, 1.0f, 0.5f, 1.0f) : ImVec4(1.0f, 0.6f, 0.4f, 1.0f));
        ImGui::TextWrapped("%s", slot.status.c_str());
        ImGui::PopStyleColor();
        ImGui::Separator();
      }
    }
    if (ImGui::CollapsingHeader("Status", ImGuiTreeNodeFlags_DefaultOpen)) {
      ImGui::Text("device: %s", core::describe_device(device).c_str());
      ImGui::Text("%.1f FPS, frame %.2f ms", io.Framerate, last_frame_ms);
      ImGui::TextWrapped("image: %s", image_status.c_str());
    }
    if (ImGui::CollapsingHeader("Log", ImGuiTreeNodeFlags_DefaultOpen)) log_panel.draw();
    ImGui::End();

    ImGui::SetNextWindowPos(ImVec2(sidebar, 0));
    ImGui::SetNextWindowSize(ImVec2(display.x - sidebar, display.y));
    ImGui::Begin("Image", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse);
    if (texture.valid()) {
      ImVec2 avail = ImGui::GetContentRegionAvail();
      float zoom = std::min(avail.x / float(texture.width()), avail.y / float(texture.height()));
      ImGui::Image(texture.id(), ImVec2(texture.width() * zoom, texture.height() * zoom));
    } else {
      ImGui::TextWrapped("Open an image with --image PATH. Editing and super-resolution arrive with the generator.");
    }
    ImGui::End();

    ImGui::Render();
    int fb_width = 0, fb_height = 0;
    glfwGetFramebufferSize(window, &fb_width, &fb_height);
    glViewport(0, 0, fb_width, fb_height);
    glClearColor(0.08f, 0.08f, 0.1f, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    ++frame;
    if (headless && frame >= options.frames) {
      save_screenshot(options.screenshot, fb_width, fb_height);
      core::log_info("screenshot {} ({}x{}) after {} frames", options.screenshot, fb_width, fb_height, frame);
      break;
    }
    glfwSwapBuffers(window);
    auto now = std::chrono::steady_clock::now();
    last_frame_ms = std::chrono::duration<double, std::milli>(now - previous).count();
    previous = now;
  }

  texture.release();
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  core::set_log_sink({});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"hdvila-studio: desktop editor for text-guided image editing and super-resolution", "hdvila-studio"};
  app.add_option("--vl-model", options.vl_model, "VL model checkpoint (default: the bundled model)");
  app.add_option("--generator", options.generator, "Generator checkpoint (default: the bundled model)");
  app.add_option("--image", options.image, "Image to open (PNG, JPEG, BMP)");
  app.add_option("--screenshot", options.screenshot, "Render --frames frames, save the window as PNG and exit");
  app.add_option("--frames", options.frames, "Frames to render before --screenshot")
      ->check(hdv::core::positive_integer())
      ->capture_default_str();
  app.add_option("--width", options.width, "Window width in pixels")->check(CLI::Range(320, 16384))->capture_default_str();
  app.add_option("--height", options.height, "Window height in pixels")->check(CLI::Range(240, 16384))->capture_default_str();
  hdv::core::add_common_options(app, options.common);
  return hdv::core::run_cli(app, argc, argv, [&] { run_studio(options); });
}
