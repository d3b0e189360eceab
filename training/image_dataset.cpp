// Still-image training data: image folders, SynthVid keyframes with labels, Fashion-MNIST (see
// image_dataset.h). Every source becomes a list of items (a file, a clip, a garment) decoded on
// `jobs` threads into per-item slots, so the output order is the item order whatever the thread
// count; an item that fails to decode is logged, counted and left out.
#include "training/image_dataset.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/parallel.h"
#include "core/image_io.h"
#include "core/log.h"
#include "core/video_io.h"
#include "training/fashion_mnist.h"

namespace hdv::train {
namespace fs = std::filesystem;
namespace F = torch::nn::functional;
namespace {

constexpr const char* kLabelsName = "labels.jsonl";
constexpr const char* kManifestName = "synthvid.json";
constexpr const char* kFashionTrainImages = "train-images-idx3-ubyte.gz";
constexpr const char* kFashionTestImages = "t10k-images-idx3-ubyte.gz";
constexpr const char* kFashionTrainLabels = "train-labels-idx1-ubyte.gz";
constexpr const char* kFashionTestLabels = "t10k-labels-idx1-ubyte.gz";
// More unreadable items than this share of the source is an error, not a skip.
constexpr double kMaxSkipShare = 0.01;
// Fashion-MNIST garments per decoding item: each is cheap, a block amortises the tensor overhead.
constexpr int64_t kFashionBlock = 256;

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// What one item decodes to: k images with a source and labels each.
struct Decoded {
  at::Tensor pixels;                 // uint8 [k, 3, R, R]
  std::vector<std::string> sources;  // k entries
  std::vector<core::Json> labels;    // k entries
};

// One unit of decoding work (a file, a clip, a block of garments).
struct Item {
  std::string source;                // named in the warning when it cannot be read
  std::function<Decoded()> decode;
};

// Float [N, 3, H, W] in [-1, 1] -> [N, 3, R, R]: the centred square crop, then area averaging
// when shrinking and bilinear interpolation when enlarging (area would repeat pixels).
at::Tensor resize_square(at::Tensor images, int64_t resolution) {
  const int64_t h = images.size(2);
  const int64_t w = images.size(3);
  if (h != w) {
    const int64_t side = std::min(h, w);
    images = images.narrow(2, (h - side) / 2, side).narrow(3, (w - side) / 2, side);
  }
  const int64_t side = images.size(2);
  if (side == resolution) return images;
  auto options = F::InterpolateFuncOptions().size(std::vector<int64_t>{resolution, resolution});
  if (side > resolution) return F::interpolate(images, options.mode(torch::kArea));
  return F::interpolate(images, options.mode(torch::kBilinear).align_corners(false));
}

// Float [N, 3, R, R] in [-1, 1] -> uint8, rounded to the nearest of the 256 levels.
at::Tensor to_uint8(const at::Tensor& images) {
  return ((images + 1.0) * 127.5).round().clamp(0, 255).to(torch::kUInt8).contiguous();
}

std::string resolve_kind(const ImageSourceOptions& options) {
  if (options.kind != "auto") return options.kind;
  const fs::path& dir = options.path;
  std::error_code ec;
  if (fs::exists(dir / kManifestName, ec) || fs::exists(dir / options.split / kLabelsName, ec)) return "synthvid";
  if (fs::exists(dir / kFashionTrainImages, ec) || fs::exists(dir / kFashionTestImages, ec)) return "fashion-mnist";
  return "folder";
}

void validate(const ImageSourceOptions& options) {
  auto fail = [](const std::string& problem) { throw core::ConfigError("image source: " + problem); };
  const std::vector<std::string> kinds = {"auto", "folder", "synthvid", "fashion-mnist"};
  if (std::find(kinds.begin(), kinds.end(), options.kind) == kinds.end()) {
    fail(fmt::format("kind=\"{}\" must be one of auto, folder, synthvid, fashion-mnist", options.kind));
  }
  if (options.resolution < 1 || options.resolution > 4096) {
    fail(fmt::format("resolution={} must be in 1..4096", options.resolution));
  }
  if (options.frames_per_clip < 1) fail(fmt::format("frames_per_clip={} must be >= 1", options.frames_per_clip));
  if (options.limit < 0) fail(fmt::format("limit={} must be >= 0 (0 = all)", options.limit));
  if (options.jobs < 0) fail(fmt::format("jobs={} must be >= 0 (0 = hardware threads)", options.jobs));
}

void require_directory(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw core::IoError(fmt::format("{}: no such folder ({})", dir.string(), what));
  if (!fs::is_directory(dir, ec)) throw core::IoError(fmt::format("{}: not a folder ({})", dir.string(), what));
}

// A folder's labels file: image path (relative, '/'-separated) -> its attributes (every key but
// "image", each a string). Empty when no file is given.
std::map<std::string, core::Json> folder_labels(const ImageSourceOptions& options) {
  std::map<std::string, core::Json> labels;
  if (options.labels.empty()) return labels;
  std::ifstream in(options.labels, std::ios::binary);
  if (!in) throw core::IoError(fmt::format("{}: cannot open the labels file for reading", options.labels.string()));
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); })) continue;
    const std::string where = fmt::format("{}:{}", options.labels.string(), number);
    const core::Json entry = core::parse_json(line, where);
    if (!entry.is_object()) {
      throw core::FormatError(fmt::format("{}: expected a JSON object, got {}", where, core::describe_json_value(entry)));
    }
    auto image = entry.find("image");
    if (image == entry.end() || !image->is_string() || image->get<std::string>().empty()) {
      throw core::FormatError(fmt::format("{}: field \"image\": expected the image's path relative to {}, got {}", where,
                                          options.path.string(),
                                          image == entry.end() ? "nothing" : core::describe_json_value(*image)));
    }
    core::Json attributes = core::Json::object();
    for (auto it = entry.begin(); it != entry.end(); ++it) {
      if (it.key() == "image") continue;
      if (!it->is_string() || it->get<std::string>().empty()) {
        throw core::FormatError(fmt::format("{}: field \"{}\": expected a non-empty string, got {}", where, it.key(),
                                            core::describe_json_value(*it)));
      }
      attributes[it.key()] = *it;
    }
    const std::string key = fs::path(image->get<std::string>()).lexically_normal().generic_string();
    if (!labels.emplace(key, std::move(attributes)).second) {
      throw core::FormatError(fmt::format("{}: image \"{}\" is labelled twice", where, key));
    }
  }
  if (labels.empty()) throw core::FormatError(fmt::format("{}: no labels (an empty file)", options.labels.string()));
  return labels;
}

std::vector<Item> folder_items(const ImageSourceOptions& options) {
  require_directory(options.path, "expected a folder of PNG/JPEG images");
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(options.path, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && is_image_file(it->path())) files.push_back(it->path());
  }
  if (ec) throw core::IoError(fmt::format("{}: cannot list the folder: {}", options.path.string(), ec.message()));
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    throw core::FormatError(fmt::format("{}: no images found (looked for .png, .jpg, .jpeg, .bmp in every subfolder)",
                                        options.path.string()));
  }
  if (options.limit > 0 && static_cast<int64_t>(files.size()) > options.limit) files.resize(options.limit);
  const std::map<std::string, core::Json> labels = folder_labels(options);
  std::vector<Item> items;
  items.reserve(files.size());
  const int64_t resolution = options.resolution;
  for (const fs::path& file : files) {
    Item item;
    item.source = file.string();
    core::Json image_labels = core::Json::object();
    if (!options.labels.empty()) {
      const std::string relative = file.lexically_relative(options.path).generic_string();
      auto it = labels.find(relative);
      if (it == labels.end()) {
        throw core::FormatError(fmt::format("{}: no line for image \"{}\" (every image of {} needs one)",
                                            options.labels.string(), relative, options.path.string()));
      }
      image_labels = it->second;
    }
    item.decode = [file, resolution, image_labels] {
      return Decoded{to_uint8(resize_square(core::load_image(file, 3).unsqueeze(0), resolution)), {file.string()},
                     {image_labels}};
    };
    items.push_back(std::move(item));
  }
  return items;
}

// "synth-train-000000.0.mp4" -> "synth-train-000000" (the HD-VILA-100M "<video_id>.<k>.mp4").
std::string video_id_of(const std::string& clip_id, const std::string& where) {
  const size_t ext = clip_id.rfind('.');
  const size_t k = ext == std::string::npos || ext == 0 ? std::string::npos : clip_id.rfind('.', ext - 1);
  if (k == std::string::npos || k == 0 || k + 1 == ext ||
      !std::all_of(clip_id.begin() + k + 1, clip_id.begin() + ext, [](unsigned char c) { return std::isdigit(c); })) {
    throw core::FormatError(fmt::format("{}: field \"clip_id\": \"{}\" is not of the form <video_id>.<k>.<ext>", where, clip_id));
  }
  return clip_id.substr(0, k);
}

// Frame indices: `count` frames spread evenly over `frames` (the centres of equal parts, so 1
// frame is the middle one).
std::vector<int64_t> spread_frames(int64_t frames, int64_t count) {
  std::vector<int64_t> indices;
  for (int64_t k = 0; k < count; ++k) {
    indices.push_back(std::min(frames - 1, static_cast<int64_t>((2 * k + 1) * frames / (2 * count))));
  }
  return indices;
}

std::vector<Item> synthvid_items(const ImageSourceOptions& options) {
  require_directory(options.path, "expected a SynthVid folder written by `hdvila-train synth`");
  const fs::path split_dir = options.path / options.split;
  const fs::path labels_path = split_dir / kLabelsName;
  std::error_code ec;
  if (!fs::is_regular_file(labels_path, ec)) {
    throw core::IoError(fmt::format("{}: no such file (is \"{}\" a split of this SynthVid folder?)",
                                    labels_path.string(), options.split));
  }
  std::ifstream in(labels_path, std::ios::binary);
  if (!in) throw core::IoError(fmt::format("{}: cannot open for reading", labels_path.string()));
  std::vector<Item> items;
  const int64_t resolution = options.resolution;
  const int64_t frames_per_clip = options.frames_per_clip;
  const int64_t max_clips = options.limit > 0 ? (options.limit + frames_per_clip - 1) / frames_per_clip : 0;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); })) continue;
    const std::string where = fmt::format("{}:{}", labels_path.string(), number);
    core::Json labels;
    try {
      labels = core::Json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw core::FormatError(fmt::format("{}: invalid JSON at column {}", where, e.byte));
    } catch (const nlohmann::json::exception& e) {  // well-formed but refused, such as 1e400
      const std::string what = e.what();
      const auto bracket = what.find("] ");
      throw core::FormatError(
          fmt::format("{}: invalid JSON: {}", where, bracket == std::string::npos ? what : what.substr(bracket + 2)));
    }
    if (!labels.is_object()) {
      throw core::FormatError(fmt::format("{}: expected a JSON object, got {}", where, core::describe_json_value(labels)));
    }
    auto clip = labels.find("clip_id");
    if (clip == labels.end() || !clip->is_string()) {
      throw core::FormatError(fmt::format("{}: field \"clip_id\": expected a string, got {}", where,
                                          clip == labels.end() ? "nothing" : core::describe_json_value(*clip)));
    }
    const std::string clip_id = clip->get<std::string>();
    if (clip_id.find('/') != std::string::npos || clip_id.find('\\') != std::string::npos) {
      throw core::FormatError(fmt::format("{}: field \"clip_id\": \"{}\" is not a plain file name", where, clip_id));
    }
    auto objects = labels.find("objects");
    if (objects == labels.end() || !objects->is_array()) {
      throw core::FormatError(fmt::format("{}: field \"objects\": expected an array, got {}", where,
                                          objects == labels.end() ? "nothing" : core::describe_json_value(*objects)));
    }
    const fs::path video = split_dir / "video_clips" / video_id_of(clip_id, where) / clip_id;
    Item item;
    item.source = video.string();
    item.decode = [video, labels = std::move(labels), resolution, frames_per_clip] {
      core::VideoReader reader(video);
      const core::VideoInfo& info = reader.info();
      if (info.frame_count < 1) throw core::FormatError(fmt::format("{}: the video declares no frames", video.string()));
      const std::vector<int64_t> indices = spread_frames(info.frame_count, frames_per_clip);
      at::Tensor frames;
      if (info.width == resolution && info.height == resolution) {
        frames = reader.read_frames(indices);
      } else if (info.width == info.height) {
        const core::FrameSize size{static_cast<int>(resolution), static_cast<int>(resolution)};
        frames = reader.read_frames(indices, &size, core::Interpolation::Area);
      } else {
        frames = resize_square(reader.read_frames(indices), resolution);
      }
      Decoded out{to_uint8(frames), {}, {}};
      for (int64_t index : indices) {
        out.sources.push_back(fmt::format("{}#{}", video.string(), index));
        out.labels.push_back(labels);
      }
      return out;
    };
    items.push_back(std::move(item));
    if (max_clips > 0 && static_cast<int64_t>(items.size()) >= max_clips) break;
  }
  if (in.bad()) throw core::IoError(fmt::format("{}: read error", labels_path.string()));
  if (items.empty()) throw core::FormatError(fmt::format("{}: no clips listed", labels_path.string()));
  return items;
}

std::vector<Item> fashion_mnist_items(const ImageSourceOptions& options) {
  require_directory(options.path, "expected the folder of the four Fashion-MNIST IDX .gz files");
  if (options.split != "train" && options.split != "test") {
    throw core::ConfigError(fmt::format("image source: split=\"{}\" must be train or test for Fashion-MNIST", options.split));
  }
  const bool train = options.split == "train";
  const fs::path images_path = options.path / (train ? kFashionTrainImages : kFashionTestImages);
  auto data = std::make_shared<const FashionMnist>(
      read_fashion_mnist(images_path, options.path / (train ? kFashionTrainLabels : kFashionTestLabels)));
  int64_t count = data->count();
  if (options.limit > 0) count = std::min(count, options.limit);
  std::vector<Item> items;
  const int64_t resolution = options.resolution;
  for (int64_t first = 0; first < count; first += kFashionBlock) {
    const int64_t n = std::min(kFashionBlock, count - first);
    Item item;
    item.source = fmt::format("{}#{}..{}", images_path.string(), first, first + n - 1);
    item.decode = [data, images_path, first, n, resolution] {
      at::Tensor grey = torch::from_blob(const_cast<uint8_t*>(data->image(first)),
                                         {n, 1, kFashionMnistSide, kFashionMnistSide}, torch::kUInt8)
                            .to(torch::kFloat)
                            .div(127.5)
                            .sub(1.0);
      Decoded out{to_uint8(resize_square(grey.expand({n, 3, kFashionMnistSide, kFashionMnistSide}), resolution)), {}, {}};
      for (int64_t index = first; index < first + n; ++index) {
        out.sources.push_back(fmt::format("{}#{}", images_path.string(), index));
        const std::string_view name = kFashionMnistClassNames[data->labels[static_cast<size_t>(index)]];
        out.labels.push_back({{"objects", core::Json::array({{{"class", std::string(name)}}})}});
      }
      return out;
    };
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace

LabelledImages load_images(const ImageSourceOptions& options, const core::ProgressCallback& progress) {
  validate(options);
  const std::string kind = resolve_kind(options);
  if (!options.labels.empty() && kind != "folder") {
    throw core::UsageError(fmt::format("--labels {}: a labels file is for image folders; {} is a {} source (its labels "
                                       "come with it)", options.labels.string(), options.path.string(), kind));
  }
  std::vector<Item> items;
  if (kind == "folder") {
    items = folder_items(options);
  } else if (kind == "synthvid") {
    items = synthvid_items(options);
  } else {
    items = fashion_mnist_items(options);
  }
  const int64_t total = static_cast<int64_t>(items.size());
  const int jobs = static_cast<int>(options.jobs > 0 ? options.jobs : std::max(1u, std::thread::hardware_concurrency()));
  core::log_info("images: reading {} {} item(s) from {} at {}x{} on {} thread(s)", total, kind, options.path.string(),
                 options.resolution, options.resolution, jobs);

  // The workers are the parallelism: one intra-op thread each (restored afterwards), as in
  // write_synthvid, so OpenMP does not spin over the many small per-image tensors.
  struct IntraOpThreads {
    int saved = at::get_num_threads();
    IntraOpThreads() { at::set_num_threads(1); }
    ~IntraOpThreads() { at::set_num_threads(saved); }
  } intra_op_threads;

  std::vector<Decoded> decoded(items.size());
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> skipped{0};
  std::mutex progress_mutex;
  const auto start = std::chrono::steady_clock::now();
  core::parallel_for_each(total, jobs, [&](int64_t i) {
    Item& item = items[static_cast<size_t>(i)];
    try {
      decoded[static_cast<size_t>(i)] = item.decode();
    } catch (const core::Error& e) {
      // A file we cannot read is one lost image, not a lost run (bounded below).
      core::log_warning("images: skipped {}: {}", item.source, e.what());
      ++skipped;
    }
    const int64_t step = ++done;
    if (progress) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      progress(step, total, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  });
  if (static_cast<double>(skipped.load()) > kMaxSkipShare * static_cast<double>(total)) {
    throw core::Error(fmt::format("{}: {} of {} {} item(s) could not be read (more than {:.0f}% tolerated; see the "
                                  "warnings above)",
                                  options.path.string(), skipped.load(), total, kind, 100 * kMaxSkipShare));
  }

  LabelledImages result;
  result.skipped = skipped.load();
  std::vector<at::Tensor> parts;
  for (Decoded& item : decoded) {
    if (!item.pixels.defined()) continue;
    parts.push_back(std::move(item.pixels));
    for (std::string& source : item.sources) result.sources.push_back(std::move(source));
    for (core::Json& labels : item.labels) result.labels.push_back(std::move(labels));
  }
  if (parts.empty()) throw core::Error(fmt::format("{}: no image could be read", options.path.string()));
  result.pixels = torch::cat(parts, 0);
  if (options.limit > 0 && result.size() > options.limit) {
    result.pixels = result.pixels.narrow(0, 0, options.limit).contiguous();
    result.labels.resize(options.limit);
    result.sources.resize(options.limit);
  }
  core::log_info("images: {} image(s) of {}x{} in {:.1f} s{}", result.size(), options.resolution, options.resolution,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                 result.skipped > 0 ? fmt::format(", {} unreadable item(s) skipped", result.skipped) : "");
  return result;
}

std::string image_attribute(const core::Json& labels, const std::string& name) {
  if (!labels.is_object()) return "";
  auto objects = labels.find("objects");
  if (objects != labels.end() && objects->is_array() && !objects->empty() && (*objects)[0].is_object()) {
    auto value = (*objects)[0].find(name);
    if (value != (*objects)[0].end() && value->is_string()) return value->get<std::string>();
  }
  auto value = labels.find(name);
  return value != labels.end() && value->is_string() ? value->get<std::string>() : "";
}

ImageLabelTable image_label_table(const LabelledImages& images, const std::vector<std::string>& names) {
  ImageLabelTable table;
  std::vector<std::vector<std::string>> words(size_t(images.size()));
  for (const std::string& name : names) {
    std::set<std::string> values;
    for (int64_t i = 0; i < images.size(); ++i) {
      std::string value = image_attribute(images.labels[size_t(i)], name);
      if (value.empty()) {
        throw core::Error(fmt::format("labels: image {} has no \"{}\" label (conditioning needs it on every image)",
                                      images.sources[size_t(i)], name));
      }
      values.insert(value);
      words[size_t(i)].push_back(std::move(value));
    }
    if (values.size() < 2) {
      throw core::Error(fmt::format("labels: attribute \"{}\" has {} value(s) in these images, expected at least 2", name,
                                    values.size()));
    }
    table.vocabulary.push_back({name, std::vector<std::string>(values.begin(), values.end())});
  }
  table.choices.resize(size_t(images.size()));
  for (int64_t i = 0; i < images.size(); ++i) {
    for (size_t a = 0; a < names.size(); ++a) {
      const auto& values = table.vocabulary[a].values;
      table.choices[size_t(i)].push_back(std::lower_bound(values.begin(), values.end(), words[size_t(i)][a]) - values.begin());
    }
  }
  return table;
}

at::Tensor image_batch(const LabelledImages& images, const std::vector<int64_t>& indices, bool hflip) {
  if (!images.pixels.defined()) throw core::Error("image_batch: no images loaded");
  for (int64_t i : indices) {
    if (i < 0 || i >= images.size()) {
      throw core::Error(fmt::format("image_batch: index {} outside 0..{}", i, images.size() - 1));
    }
  }
  const at::Tensor index = torch::tensor(indices, torch::kLong);
  at::Tensor batch = images.pixels.index_select(0, index).to(torch::kFloat).div_(127.5).sub_(1.0);
  if (hflip && batch.size(0) > 0) {
    const at::Tensor mirror = (torch::rand({batch.size(0)}) < 0.5).view({-1, 1, 1, 1});
    batch = torch::where(mirror, batch.flip({3}), batch);
  }
  return batch;
}

}  // namespace hdv::train
