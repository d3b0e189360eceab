// hdvila-studio: the Dear ImGui + GLFW desktop editor (docs/design.md §8, docs/studio.md).
//
// A fixed layout (ImGui 1.86 has no docking; as StyleGAN3's visualizer): a resizable sidebar of
// collapsible panels (panels.h) beside the image area (image_view.h). All model work runs on one
// worker thread (worker.h) behind the Studio (studio.h); this file only opens the window, routes
// the log, drag-and-drop and shortcuts, and runs the frame loop.
//
// Headless use (tests, docs), e.g. under `xvfb-run -a`:
//   --screenshot out.png --frames N   render N frames (and until the worker is idle), save, exit
//   --script actions.json             run scripted actions (script.h), then exit; status 1 if an
//                                      expect_* action failed
#include <torch/torch.h>

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "app/file_browser.h"
#include "app/frame_log.h"
#include "app/image_view.h"
#include "app/log_panel.h"
#include "app/panels.h"
#include "app/screenshot.h"
#include "app/script.h"
#include "app/script_runner.h"
#include "app/settings.h"
#include "app/shortcuts.h"
#include "app/sr_grid.h"
#include "app/studio.h"
#include "core/cli.h"
#include "core/device.h"
#include "core/error.h"
#include "core/log.h"

namespace {

using namespace hdv;

struct Options {
  core::CommonOptions common;
  std::string vl_model, generator, directions, oracle;
  std::string image;
  std::string screenshot;
  std::string script;
  std::string settings;
  std::string frame_log;
  int frames = 3;
  int width = 1280;
  int height = 800;
};

// Longest a --screenshot run waits for queued model work before saving anyway.
constexpr double kScreenshotWaitSeconds = 600;

// Ctrl+C / SIGTERM close the window like its close button (settings are saved).
std::atomic<bool> g_quit_requested{false};
extern "C" void on_quit_signal(int) { g_quit_requested = true; }

void on_drop(GLFWwindow* window, int count, const char** paths) {
  auto* studio = static_cast<app::Studio*>(glfwGetWindowUserPointer(window));
  if (studio == nullptr) return;
  std::vector<std::filesystem::path> dropped(paths, paths + count);
  studio->open_dropped(dropped);
}

int run_studio(Options& options, bool width_given, bool height_given) {
  // Parse the script before anything opens: a malformed one is a usage error (exit 2).
  std::optional<app::ScriptRunner> script;
  if (!options.script.empty()) script.emplace(app::read_script(options.script));
  const bool headless = !options.screenshot.empty() || script.has_value();

  app::LogPanel log_panel;
  // Headless runs also log to stderr like the CLI programs (tests read it); a window only warnings.
  core::set_log_sink([&log_panel, headless](core::LogLevel level, std::string_view message) {
    log_panel.add(level, message);
    if (level >= core::LogLevel::Warning) {
      std::fprintf(stderr, "%s: %.*s\n", std::string(core::log_level_name(level)).c_str(), int(message.size()),
                   message.data());
    } else if (headless) {
      std::fprintf(stderr, "%.*s\n", int(message.size()), message.data());
    }
  });
  const c10::Device device = core::apply_common_options(options.common);

  const std::optional<std::filesystem::path> settings_file = app::settings_path(options.settings, headless);
  app::Settings settings;
  if (settings_file) {
    try {
      settings = app::load_settings(*settings_file);
    } catch (const core::Error& e) {
      core::log_warning("{} (using the default settings)", e.what());
    }
  }
  if (width_given || headless) settings.window_width = options.width;
  if (height_given || headless) settings.window_height = options.height;

  glfwSetErrorCallback([](int code, const char* text) { core::log_error("GLFW error {}: {}", code, text); });
  if (!glfwInit()) throw core::Error("cannot open a window: GLFW could not initialise (no display? try xvfb-run -a)");
  if (headless) glfwWindowHint(GLFW_VISIBLE, GLFW_FALSE);
  GLFWwindow* window =
      glfwCreateWindow(settings.window_width, settings.window_height, "hdvila-studio", nullptr, nullptr);
  if (window == nullptr) {
    glfwTerminate();
    throw core::Error("cannot open a window: no OpenGL 3 context (check the display and GL drivers)");
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(headless ? 0 : 1);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // the layout is fixed; our own settings file keeps the sidebar width
  float scale_x = 1.0f, scale_y = 1.0f;
  glfwGetWindowContentScale(window, &scale_x, &scale_y);
  const float scale = std::max(1.0f, scale_x);
  io.FontGlobalScale = scale;
  ImGui::StyleColorsDark();
  ImGui::GetStyle().ScaleAllSizes(scale);
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 130");

  core::log_info("hdvila-studio on {} ({} CPU thread(s))", core::describe_device(device), torch::get_num_threads());
  app::StudioOptions studio_options;
  studio_options.models = app::default_model_slots();
  for (app::ModelSlot& slot : studio_options.models) {
    if (slot.key == "generator" && !options.generator.empty()) slot.path = options.generator;
    if (slot.key == "vl_model" && !options.vl_model.empty()) slot.path = options.vl_model;
    if (slot.key == "directions" && !options.directions.empty()) slot.path = options.directions;
    if (slot.key == "oracle" && !options.oracle.empty()) slot.path = options.oracle;
    if (slot.key == "generator") {
      std::error_code ec;
      studio_options.load_at_start = std::filesystem::exists(slot.path, ec) || !options.generator.empty();
      if (!studio_options.load_at_start) core::log_warning("generator {}: not found; no models loaded", slot.path);
    }
  }
  studio_options.device = device.is_cuda() ? fmt::format("cuda:{}", device.index() < 0 ? 0 : device.index()) : "cpu";
  app::Studio studio(std::move(studio_options));
  if (!studio.info.loaded && studio.info.status == "not loaded") {
    studio.info.status = "not loaded (no generator: choose the model files, then Load models)";
  }
  if (!options.image.empty()) studio.open_image(options.image);

  app::FileBrowser browser;
  browser.folder = settings.last_folder;
  app::Panels panels(studio, browser, log_panel);
  app::ImageView view;
  app::SRGrid sr_grid;
  uint64_t shown_version = 0;
  glfwSetWindowUserPointer(window, &studio);
  glfwSetDropCallback(window, on_drop);

  int frame = 0;
  const auto started = std::chrono::steady_clock::now();
  app::FrameLog frame_log;
  std::signal(SIGINT, on_quit_signal);
  std::signal(SIGTERM, on_quit_signal);
  while (!glfwWindowShouldClose(window) && !g_quit_requested) {
    glfwPollEvents();
    studio.poll();
    if (script) {
      script->step(studio);
      if (script->finished()) break;
    }
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();
    if (!headless) app::handle_shortcuts(studio, panels);

    const ImVec2 display = io.DisplaySize;
    const float min_sidebar = std::min(220.0f * scale, display.x * 0.5f);
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(std::min(settings.sidebar_width * scale, display.x * 0.6f), display.y),
                             frame == 0 ? ImGuiCond_Always : ImGuiCond_Once);
    ImGui::SetNextWindowSizeConstraints(ImVec2(min_sidebar, display.y), ImVec2(std::max(min_sidebar, display.x * 0.7f), display.y));
    ImGui::Begin("hdvila-studio", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoCollapse);
    const float sidebar = ImGui::GetWindowWidth();
    settings.sidebar_width = sidebar / scale;
    panels.draw();
    browser.draw();
    ImGui::End();

    ImGui::SetNextWindowPos(ImVec2(sidebar, 0));
    ImGui::SetNextWindowSize(ImVec2(std::max(1.0f, display.x - sidebar), display.y));
    ImGui::Begin("Image", nullptr,
                 ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                     ImGuiWindowFlags_NoBringToFrontOnFocus);
    if (!studio.last_error.empty()) {
      ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.4f, 0.4f, 1.0f));
      ImGui::TextWrapped("error: %s", studio.last_error.c_str());
      ImGui::PopStyleColor();
    }
    if (ImGui::BeginTabBar("views")) {
      // A new image (sample, edit, chosen candidate) brings the Image tab back to the front.
      const bool new_image = studio.image_version() != shown_version;
      shown_version = studio.image_version();
      if (ImGui::BeginTabItem("Image", nullptr, new_image ? ImGuiTabItemFlags_SetSelected : 0)) {
        view.draw(studio);
        ImGui::EndTabItem();
      }
      const bool fresh = sr_grid.has_new(studio);
      if (!studio.sr_view.images.empty() &&
          ImGui::BeginTabItem("Super-resolution", nullptr, fresh ? ImGuiTabItemFlags_SetSelected : 0)) {
        sr_grid.draw(studio);
        ImGui::EndTabItem();
      }
      ImGui::EndTabBar();
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
    if (script) {
      if (std::optional<std::string> path = script->screenshot_due()) {
        std::string error;
        try {
          app::save_screenshot(*path, fb_width, fb_height);
          core::log_info("screenshot {} ({}x{}, {:.1f} FPS)", *path, fb_width, fb_height, io.Framerate);
        } catch (const core::Error& e) {
          error = e.what();
        }
        script->screenshot_saved(error);
      }
    } else if (headless && frame >= options.frames) {
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (studio.idle() || waited > kScreenshotWaitSeconds) {
        app::save_screenshot(options.screenshot, fb_width, fb_height);
        core::log_info("screenshot {} ({}x{}) after {} frames", options.screenshot, fb_width, fb_height, frame);
        break;
      }
    }
    glfwSwapBuffers(window);
    const bool idle = studio.idle();
    if (!options.frame_log.empty()) {
      frame_log.record(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), !idle);
    }
    // Without vsync (headless) the loop would spin; leave the cores to the worker.
    if (headless) std::this_thread::sleep_for(std::chrono::milliseconds(idle ? 1 : 5));
  }
  if (script && !options.screenshot.empty()) {
    int fb_width = 0, fb_height = 0;
    glfwGetFramebufferSize(window, &fb_width, &fb_height);
    app::save_screenshot(options.screenshot, fb_width, fb_height);
  }

  if (!options.frame_log.empty()) {
    frame_log.write(options.frame_log);
    for (const bool busy : {true, false}) {
      const app::FrameRateSummary s = frame_log.summary(busy);
      core::log_info("frames {}: {}, median {:.1f} FPS, 5th percentile {:.1f} FPS, worst {:.1f} ms",
                     busy ? "while model work ran" : "while idle", s.frames, s.median_fps, s.p5_fps, s.worst_ms);
    }
    core::log_info("frame log {} ({} frames)", options.frame_log, frame_log.records().size());
  }
  if (settings_file) {
    settings.last_folder = browser.folder.string();
    if (!headless) glfwGetWindowSize(window, &settings.window_width, &settings.window_height);
    try {
      app::save_settings(*settings_file, settings);
    } catch (const core::Error& e) {
      core::log_warning("{}", e.what());
    }
  }
  studio.cancel();
  glfwSetWindowUserPointer(window, nullptr);
  view.release();
  sr_grid.release();
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  const int failures = script ? script->failures() : 0;
  core::set_log_sink({});
  if (failures > 0) {
    std::fprintf(stderr, "error: %s: %d expectation(s) failed\n", options.script.c_str(), failures);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"hdvila-studio: desktop editor for text-guided image editing and super-resolution", "hdvila-studio"};
  app.add_option("--vl-model", options.vl_model, "VL model or CLIP checkpoint (kind vl-model or clip; default: the bundled VL model)");
  app.add_option("--generator", options.generator, "Generator checkpoint (default: the bundled model)");
  app.add_option("--directions", options.directions, "Global-direction table (default: beside the generator)");
  app.add_option("--oracle", options.oracle, "Attribute oracle (default: the bundled one, if any)");
  app.add_option("--image", options.image, "Image to open (PNG, JPEG, BMP)");
  app.add_option("--screenshot", options.screenshot,
                 "Render --frames frames (and until the worker is idle), save the window as PNG and exit; "
                 "with --script: save it when the script ends");
  app.add_option("--frame-log", options.frame_log,
                 "Write each frame's time and whether model work was running to this CSV at exit, and log "
                 "the median FPS (bench/studio_fps.sh)");
  app.add_option("--frames", options.frames, "Frames to render before --screenshot")
      ->check(hdv::core::positive_integer())
      ->capture_default_str();
  app.add_option("--script", options.script, "Run the actions of a JSON script (see docs/studio.md), then exit");
  app.add_option("--settings", options.settings,
                 "Settings file (default: $HDV_STUDIO_SETTINGS, else $XDG_CONFIG_HOME/hdvila/studio.json, else "
                 "~/.config/hdvila/studio.json; headless runs use none unless named)");
  auto* width = app.add_option("--width", options.width, "Window width in pixels (else the last size, from the settings)")->check(core::integer_in(320, 16384))->capture_default_str();
  auto* height = app.add_option("--height", options.height, "Window height in pixels (else the last size, from the settings)")->check(core::integer_in(240, 16384))->capture_default_str();
  hdv::core::add_common_options(app, options.common);
  int status = 0;
  const int cli_status = hdv::core::run_cli(app, argc, argv, [&] { status = run_studio(options, width->count() > 0, height->count() > 0); });
  return cli_status != 0 ? cli_status : status;
}
