// SynthVid: scene sampling, captions, rendering and the dataset writer (see synthvid.h).
//
// Randomness comes from SplitMix64 streams seeded by hashes of (seed, split, clip index, attempt),
// with our own integer/float mapping, so the data are identical on every platform and standard
// library. Rendering is plain C++ on a float buffer per frame (a torch op per pixel group would be
// far slower at 160x160); the buffer is handed to core::VideoWriter as a [3, H, W] tensor.
#include "training/synthvid.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/atomic_file.h"
#include "core/parallel.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/timecode.h"
#include "core/video_io.h"

namespace hdv::train {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Deterministic randomness.

uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t hash_name(std::string_view name) {  // FNV-1a
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  // SplitMix64: the state advances by the golden gamma, the output is its mix.
  uint64_t next() {
    uint64_t z = state_;
    state_ += 0x9E3779B97F4A7C15ull;
    return mix64(z);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n) (multiply-shift; the bias is below 2^-32 for our n).
  int below(int n) { return static_cast<int>((static_cast<unsigned __int128>(next()) * static_cast<uint64_t>(n)) >> 64); }
  template <class T>
  const T& pick(const std::vector<T>& items) { return items[below(static_cast<int>(items.size()))]; }
  bool chance(double p) { return uniform() < p; }

 private:
  uint64_t state_;
};

uint64_t split_seed(uint64_t seed, std::string_view split) { return mix64(seed ^ mix64(hash_name(split))); }

uint64_t clip_seed(uint64_t seed, std::string_view split, int64_t index, int attempt) {
  return mix64(split_seed(seed, split) ^ mix64(static_cast<uint64_t>(index) * 0x100000001B3ull +
                                              static_cast<uint64_t>(attempt) * 0xD1B54A32D192ED03ull));
}

// Geometry of objects over a clip.

constexpr std::array<double, 3> kSizeExtent = {0.22, 0.32, 0.44};  // object side / frame side at mid-clip
constexpr double kGrowFrom = 0.7, kGrowTo = 1.3;                    // grow: scale 0.7 -> 1.3 (shrink: reverse)
constexpr double kRotateTurn = 1.5 * kPi;                           // rotate: 270 degrees over the clip
constexpr double kShadowOffset = 0.015;                             // drop shadow offset, fraction of the frame
constexpr double kShadowStrength = 0.45;                            // background darkening under the shadow

enum Motion { kLeft, kRight, kUp, kDown, kStill, kRotate, kGrow, kShrink };

// Where an object is at time u in [0, 1], in pixels.
struct Pose {
  double cx, cy;  // centre
  double side;    // edge of the object's square (the garment image or the shape's box)
  double angle;   // radians, counter-clockwise on screen
};

double growth(const SynthObject& object, double u) {
  if (object.motion == kGrow) return kGrowFrom + (kGrowTo - kGrowFrom) * u;
  if (object.motion == kShrink) return kGrowTo - (kGrowTo - kGrowFrom) * u;
  return 1.0;
}

Pose pose_at(const SynthObject& object, double u, int size) {
  double x = object.x, y = object.y;
  switch (object.motion) {
    case kLeft: x -= object.travel * u; break;
    case kRight: x += object.travel * u; break;
    case kUp: y -= object.travel * u; break;
    case kDown: y += object.travel * u; break;
    default: break;
  }
  double angle = object.angle + (object.motion == kRotate ? object.spin * kRotateTurn * u : 0.0);
  double side = kSizeExtent[object.size] * object.scale * growth(object, u) * size;
  return {x * size, y * size, side, angle};
}

// Half of the object's largest extent over the clip (shadow included), fraction of the frame.
double half_extent(const SynthObject& object) {
  double largest = kSizeExtent[object.size] * object.scale * std::max(growth(object, 0), growth(object, 1));
  double corner = object.motion == kRotate ? 0.72 : 0.5;  // a rotating square reaches its half-diagonal
  return largest * corner + kShadowOffset;
}

// Draws the object's start position (and travel) so that it stays inside the frame all clip long.
// `centred` moves it so that its mid-clip centre lies within kCentreJitter of the frame centre.
void place(SynthObject& object, Rng& rng, bool centred = false) {
  double half = std::min(0.49, half_extent(object));
  double lo = half, hi = 1 - half;
  object.travel = 0;
  bool horizontal = object.motion == kLeft || object.motion == kRight;
  bool vertical = object.motion == kUp || object.motion == kDown;
  if (horizontal || vertical) object.travel = std::min(0.42, hi - lo) * rng.uniform(0.8, 1.0);
  object.x = rng.uniform(lo, hi);
  object.y = rng.uniform(lo, hi);
  if (object.motion == kLeft) object.x = rng.uniform(lo + object.travel, hi);
  if (object.motion == kRight) object.x = rng.uniform(lo, hi - object.travel);
  if (object.motion == kUp) object.y = rng.uniform(lo + object.travel, hi);
  if (object.motion == kDown) object.y = rng.uniform(lo, hi - object.travel);
  if (!centred) return;
  // The mid-clip centre, kept where the whole path stays inside [lo, hi], then back to frame 0.
  const double travel_x = horizontal ? object.travel : 0, travel_y = vertical ? object.travel : 0;
  const double mid_x = std::clamp(0.5 + rng.uniform(-kCentreJitter, kCentreJitter), lo + travel_x / 2, hi - travel_x / 2);
  const double mid_y = std::clamp(0.5 + rng.uniform(-kCentreJitter, kCentreJitter), lo + travel_y / 2, hi - travel_y / 2);
  const double sign_x = object.motion == kLeft ? 1 : object.motion == kRight ? -1 : 0;
  const double sign_y = object.motion == kUp ? 1 : object.motion == kDown ? -1 : 0;
  object.x = mid_x + sign_x * travel_x / 2;
  object.y = mid_y + sign_y * travel_y / 2;
}

// Smallest centre distance between two objects over the clip, relative to the sum of their radii.
double separation(const SynthObject& a, const SynthObject& b) {
  double worst = 1e9;
  for (double u : {0.0, 0.5, 1.0}) {
    Pose pa = pose_at(a, u, 1), pb = pose_at(b, u, 1);
    worst = std::min(worst, std::hypot(pa.cx - pb.cx, pa.cy - pb.cy) / (0.5 * (pa.side + pb.side)));
  }
  return worst;
}

// One draw among `allowed` (kSynth* indices), or among all `count` values when it is empty.
int draw_value(Rng& rng, int count, const std::vector<int>& allowed) {
  if (allowed.empty()) return rng.below(count);
  return allowed[static_cast<size_t>(rng.below(static_cast<int>(allowed.size())))];
}

SynthObject sample_object(Rng& rng, bool holdout_colour, const SceneOptions& options) {
  SynthObject object;
  object.cls = rng.below(static_cast<int>(kSynthClasses.size()));
  int held_out = kCompositionalHoldoutColour[object.cls];
  if (holdout_colour) {
    object.colour = held_out;
  } else {
    object.colour = rng.below(static_cast<int>(kSynthColours.size()) - 1);
    if (object.colour >= held_out) ++object.colour;  // every colour but the held-out one
  }
  object.texture = rng.below(static_cast<int>(kSynthTextures.size()));
  object.size = draw_value(rng, static_cast<int>(kSynthSizes.size()), options.sizes);
  object.motion = draw_value(rng, static_cast<int>(kSynthMotions.size()), options.motions);
  object.variant = static_cast<uint32_t>(rng.next() >> 32);
  object.scale = rng.uniform(0.93, 1.07);
  object.spin = rng.chance(0.5) ? 1 : -1;
  object.horizontal_stripes = rng.chance(0.5);
  // Drawn last, and only when there is a choice, so that the other draws stay as they were.
  if (options.texture_scales.size() == 1) object.texture_scale = options.texture_scales[0];
  if (options.texture_scales.size() > 1) {
    object.texture_scale = options.texture_scales[size_t(rng.below(static_cast<int>(options.texture_scales.size())))];
  }
  return object;
}

}  // namespace

int split_index(std::string_view split) {
  for (size_t i = 0; i < kSynthSplits.size(); ++i) {
    if (kSynthSplits[i] == split) return static_cast<int>(i);
  }
  throw core::Error(fmt::format("synthvid: unknown split \"{}\", expected one of train, val, test, compositional", split));
}

SynthScene sample_scene(std::string_view split, int64_t index, uint64_t seed, const SceneOptions& options, int attempt) {
  const int which = split_index(split);
  const bool compositional = which == 3;
  Rng rng(clip_seed(seed, split, index, attempt));
  SynthScene scene;
  scene.background = rng.below(static_cast<int>(kSynthBackgrounds.size()));
  scene.background_tint = rng.uniform(-1, 1);
  scene.background_light = rng.uniform(-1, 1);
  scene.background_layout = rng.uniform(-1, 1);
  scene.background_mirror = rng.chance(0.5);
  scene.unseen_garments = which >= 2;
  scene.caption_seed = rng.next();
  const bool two = rng.chance(options.second_object_prob);

  SynthObject primary = sample_object(rng, compositional, options);
  place(primary, rng, options.centred);
  scene.objects.push_back(primary);
  if (two) {
    // The second object never shows a held-out pair (not even in the compositional split).
    SynthObject second = sample_object(rng, false, options);
    SynthObject best = second;
    double best_gap = -1;
    for (int tries = 0; tries < 40; ++tries) {
      place(second, rng);
      double gap = separation(primary, second);
      if (gap > best_gap) best_gap = gap, best = second;
      if (gap >= 0.9) break;
    }
    scene.objects.push_back(best);
  }
  return scene;
}

std::string attribute_tuple(const SynthScene& scene) {
  std::string text(kSynthBackgrounds[scene.background]);
  for (const SynthObject& o : scene.objects) {
    text += fmt::format("|{} {} {} {} {}", kSynthClasses[o.cls], kSynthColours[o.colour], kSynthTextures[o.texture],
                        kSynthSizes[o.size], kSynthMotions[o.motion]);
  }
  return text;
}

std::vector<SynthScene> sample_split(std::string_view split, int64_t count, uint64_t seed, const SceneOptions& options) {
  const int which = split_index(split);
  const bool distinct = which >= 2;  // test and compositional: retrieval needs one right answer
  constexpr int kMaxAttempts = 10000;
  std::vector<SynthScene> scenes;
  scenes.reserve(static_cast<size_t>(std::max<int64_t>(count, 0)));
  std::set<std::string> seen;
  for (int64_t i = 0; i < count; ++i) {
    for (int attempt = 0;; ++attempt) {
      if (attempt == kMaxAttempts) {
        throw core::Error(fmt::format("synthvid: {} split: no new distinct attribute tuple for clip {} after {} draws; "
                                      "ask for fewer {} clips",
                                      split, i, kMaxAttempts, split));
      }
      SynthScene scene = sample_scene(split, i, seed, options, attempt);
      if (distinct && !seen.insert(attribute_tuple(scene)).second) continue;
      scenes.push_back(std::move(scene));
      break;
    }
  }
  return scenes;
}

// Captions.

namespace {

using Phrases = std::vector<std::string>;

// Paraphrases per attribute value. No phrase of one value contains a phrase of another value of any
// attribute (e.g. motions avoid "bigger"/"smaller", which would echo sizes), so each caption names
// its attribute tuple unambiguously.
const std::vector<Phrases>& size_phrases() {
  static const std::vector<Phrases> table = {
      {"small", "little", "tiny"}, {"medium", "medium-sized", "mid-sized"}, {"large", "big", "huge"}};
  return table;
}
// Before the noun ("a striped shirt").
const std::vector<Phrases>& texture_adjectives() {
  static const std::vector<Phrases> table = {
      {"plain", "solid", "unpatterned"}, {"striped", "stripy", "pinstriped"}, {"dotted", "polka-dot", "spotted"}};
  return table;
}
// After the noun ("a shirt with stripes").
const std::vector<Phrases>& texture_postfixes() {
  static const std::vector<Phrases> table = {{"with no pattern", "in one flat colour"},
                                             {"with stripes", "with thin stripes", "covered in fine stripes"},
                                             {"with dots", "with polka dots", "covered in fine dots"}};
  return table;
}
const std::vector<Phrases>& motion_phrases() {
  static const std::vector<Phrases> table = {
      {"moving left", "sliding to the left", "drifting leftwards", "heading to the left"},
      {"moving right", "sliding to the right", "drifting rightwards", "heading to the right"},
      {"moving up", "rising", "floating upwards", "drifting upwards"},
      {"moving down", "sinking", "falling", "drifting downwards"},
      {"standing still", "staying still", "holding still", "staying in place"},
      {"rotating", "spinning", "turning around"},
      {"growing", "expanding", "growing in size"},
      {"shrinking", "contracting", "shrinking in size"}};
  return table;
}
const std::vector<Phrases>& background_phrases() {
  static const std::vector<Phrases> table = {
      {"on a beach", "at the beach", "on the sandy beach"},
      {"in a forest", "in a dense forest", "among the forest trees"},
      {"on a city street", "in a busy city street", "along a city street"},
      {"in a kitchen", "in the kitchen", "inside a home kitchen"},
      {"in the snow", "on a field of snow", "out in the snow"},
      {"in a desert", "in the desert", "across the sandy desert"},
      {"over the ocean", "above the open ocean", "by the ocean"},
      {"against the night sky", "under a night sky", "in front of a dark night sky"},
      {"in an office", "in the office", "inside a quiet office"},
      {"in a garden", "in the garden", "in a flower garden"},
      {"in a stadium", "at the stadium", "inside a football stadium"},
      {"on a road", "on the road", "along a country road"},
      {"in a classroom", "in the classroom", "inside a school classroom"},
      {"in a studio", "in a photo studio", "against a studio backdrop"},
      {"by a river", "by the river", "beside a flowing river"}};
  return table;
}

// "a" or "an" for the word that follows.
std::string article(const std::string& next) {
  return (!next.empty() && std::string_view("aeiou").find(next[0]) != std::string_view::npos) ? "an" : "a";
}
std::string with_article(const std::string& phrase) { return article(phrase) + " " + phrase; }

std::string capitalised(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 'a' + 'A');
  return text;
}

// One object's words, paraphrases already chosen.
struct ObjectWords {
  std::string cls, colour, size, texture_adj, texture_post, motion;
};

ObjectWords choose_words(const SynthObject& o, Rng& rng) {
  return {std::string(kSynthClasses[o.cls]),       std::string(kSynthColours[o.colour]),
          rng.pick(size_phrases()[o.size]),        rng.pick(texture_adjectives()[o.texture]),
          rng.pick(texture_postfixes()[o.texture]), rng.pick(motion_phrases()[o.motion])};
}

// The noun phrase without article in one of two word orders, e.g. "large red striped t-shirt" or
// "large red t-shirt with stripes".
std::string noun_phrase(const ObjectWords& w, bool postfix) {
  return postfix ? fmt::format("{} {} {} {}", w.size, w.colour, w.cls, w.texture_post)
                 : fmt::format("{} {} {} {}", w.size, w.colour, w.texture_adj, w.cls);
}

}  // namespace

std::vector<std::string> attribute_phrases(std::string_view attribute, int value) {
  auto row = [&](const std::vector<Phrases>& table) -> std::vector<std::string> {
    if (value < 0 || value >= static_cast<int>(table.size())) {
      throw core::Error(fmt::format("synthvid: {} value {} out of range 0..{}", attribute, value, table.size() - 1));
    }
    return table[value];
  };
  auto word = [&](auto& vocabulary) -> std::vector<std::string> {
    if (value < 0 || value >= static_cast<int>(vocabulary.size())) {
      throw core::Error(fmt::format("synthvid: {} value {} out of range 0..{}", attribute, value, vocabulary.size() - 1));
    }
    return {std::string(vocabulary[value])};
  };
  if (attribute == "class") return word(kSynthClasses);
  if (attribute == "colour") return word(kSynthColours);
  if (attribute == "size") return row(size_phrases());
  if (attribute == "motion") return row(motion_phrases());
  if (attribute == "background") return row(background_phrases());
  if (attribute == "texture") {
    std::vector<std::string> phrases = row(texture_adjectives());
    for (const std::string& p : texture_postfixes()[value]) phrases.push_back(p);
    return phrases;
  }
  throw core::Error(fmt::format(
      "synthvid: unknown attribute \"{}\", expected class, colour, texture, size, motion or background", attribute));
}

std::vector<std::vector<std::vector<std::string>>> caption_phrase_slots(std::string_view attribute) {
  auto words = [](const auto& vocabulary) {
    std::vector<std::vector<std::string>> slot;
    for (std::string_view word : vocabulary) slot.push_back({std::string(word)});
    return slot;
  };
  if (attribute == "class") return {words(kSynthClasses)};
  if (attribute == "colour") return {words(kSynthColours)};
  if (attribute == "size") return {size_phrases()};
  if (attribute == "motion") return {motion_phrases()};
  if (attribute == "background") return {background_phrases()};
  if (attribute == "texture") return {texture_adjectives(), texture_postfixes()};
  throw core::Error(fmt::format(
      "synthvid: unknown attribute \"{}\", expected class, colour, texture, size, motion or background", attribute));
}

std::string caption(const SynthScene& scene) {
  if (scene.objects.empty()) throw core::Error("synthvid: caption: the scene holds no object");
  Rng rng(mix64(scene.caption_seed ^ 0x01));
  const std::string where = rng.pick(background_phrases()[scene.background]);
  const ObjectWords w = choose_words(scene.objects[0], rng);
  std::string text;
  switch (rng.below(6)) {
    case 0: text = fmt::format("{} {} {}.", with_article(noun_phrase(w, false)), w.motion, where); break;
    case 1: text = fmt::format("{}, {} is {}.", where, with_article(noun_phrase(w, true)), w.motion); break;
    case 2:
      text = fmt::format("{} {} in {}, {} and {} {}.", with_article(w.texture_adj), w.cls, w.colour, w.size, w.motion,
                         where);
      break;
    case 3: text = fmt::format("We see {} {} {}.", with_article(noun_phrase(w, true)), w.motion, where); break;
    case 4: text = fmt::format("{} there is {} {}.", where, with_article(noun_phrase(w, false)), w.motion); break;
    default: text = fmt::format("The {} keeps {} {}.", noun_phrase(w, true), w.motion, where); break;
  }
  text = capitalised(text);
  if (scene.objects.size() > 1) {
    const ObjectWords s = choose_words(scene.objects[1], rng);
    switch (rng.below(4)) {
      case 0: text += fmt::format(" Next to it, {} is {}.", with_article(noun_phrase(s, false)), s.motion); break;
      case 1: text += fmt::format(" There is also {}, {}.", with_article(noun_phrase(s, true)), s.motion); break;
      case 2: text += fmt::format(" Behind it, {} is {}.", with_article(noun_phrase(s, false)), s.motion); break;
      default: text += fmt::format(" A second object, {}, is {}.", with_article(noun_phrase(s, true)), s.motion); break;
    }
  }
  return text;
}

std::string caption_asr(const SynthScene& scene) {
  if (scene.objects.empty()) throw core::Error("synthvid: caption_asr: the scene holds no object");
  static const Phrases openers = {"um so", "okay so", "so", "alright so", "uh", "and uh", "so yeah"};
  static const Phrases intros = {"you can see", "here we have", "this is", "what we got here is", "look at"};
  static const Phrases fillers = {"uh", "um", "like", "you know"};
  static const Phrases links = {"and uh there is also", "and then", "and you can also see", "plus"};
  static const Phrases endings = {"", "you know", "yeah", "so yeah", "pretty cool"};
  Rng rng(mix64(scene.caption_seed ^ 0x02));
  auto maybe_filler = [&]() { return rng.chance(0.3) ? rng.pick(fillers) + " " : std::string(); };
  // "a large uh red striped t-shirt": attribute phrases are kept whole, fillers go between them.
  auto object_words = [&](const SynthObject& o) {
    const ObjectWords w = choose_words(o, rng);
    const bool postfix = rng.chance(0.5);
    std::string words = with_article(w.size) + " " + maybe_filler() + w.colour + " ";
    words += postfix ? w.cls + " " + maybe_filler() + w.texture_post : w.texture_adj + " " + w.cls;
    return words + " " + maybe_filler() + w.motion;
  };
  const std::string where = rng.pick(background_phrases()[scene.background]);
  std::string text = rng.pick(openers) + " " + rng.pick(intros) + " " + object_words(scene.objects[0]) + " " +
                     maybe_filler() + where;
  if (scene.objects.size() > 1) text += " " + rng.pick(links) + " " + object_words(scene.objects[1]);
  const std::string& ending = rng.pick(endings);
  if (!ending.empty()) text += " " + ending;
  return text;  // the phrase tables hold no punctuation and no capitals
}

namespace {

// caption_zh's phrase tables (one phrase per value: Chinese captions have no paraphrases).
constexpr std::array<const char*, 14> kZhClasses = {"T恤", "裤子", "套头衫", "连衣裙", "外套", "凉鞋", "衬衫",
                                                    "运动鞋", "包", "短靴", "圆形", "正方形", "三角形", "星形"};
constexpr std::array<const char*, 14> kZhMeasures = {"件", "条", "件", "条", "件", "只", "件",
                                                     "只", "个", "只", "个", "个", "个", "个"};
constexpr std::array<const char*, 8> kZhColours = {"红色", "橙色", "黄色", "绿色", "蓝色", "紫色", "粉色", "白色"};
constexpr std::array<const char*, 3> kZhTextures = {"无图案的", "带条纹的", "带圆点的"};
constexpr std::array<const char*, 3> kZhSizes = {"小的", "中等大小的", "大的"};
constexpr std::array<const char*, 8> kZhMotions = {"正在向左移动", "正在向右移动", "正在向上移动", "正在向下移动",
                                                   "静止不动",     "正在旋转",     "正在变大",     "正在变小"};
constexpr std::array<const char*, 15> kZhPlaces = {"在海滩上", "在森林里", "在城市街道上", "在厨房里", "在雪地里",
                                                   "在沙漠中", "在海面上", "在夜空下",     "在办公室里", "在花园里",
                                                   "在体育场里", "在公路上", "在教室里", "在摄影棚里", "在河边"};

}  // namespace

std::string zh_object_phrase(const SynthObject& o) {
  return fmt::format("一{}{}{}{}{}", kZhMeasures.at(size_t(o.cls)), kZhSizes.at(size_t(o.size)),
                     kZhTextures.at(size_t(o.texture)), kZhColours.at(size_t(o.colour)), kZhClasses.at(size_t(o.cls)));
}

std::string zh_motion_phrase(int motion) { return kZhMotions.at(size_t(motion)); }

std::string caption_zh(const SynthScene& scene) {
  if (scene.objects.empty()) throw core::Error("synthvid: caption_zh: the scene holds no object");
  Rng rng(mix64(scene.caption_seed ^ 0x03));
  const SynthObject& p = scene.objects[0];
  const char* place = kZhPlaces[size_t(scene.background)];
  std::string text = rng.chance(0.5)
                         ? fmt::format("{}，{}{}。", place, zh_object_phrase(p), zh_motion_phrase(p.motion))
                         : fmt::format("{}{}，{}。", zh_object_phrase(p), place, zh_motion_phrase(p.motion));
  if (scene.objects.size() > 1) {
    const SynthObject& s = scene.objects[1];
    text += fmt::format("旁边还有{}，{}。", zh_object_phrase(s), zh_motion_phrase(s.motion));
  }
  return text;
}

// Rendering.

namespace {

struct Rgb {
  float r = 0, g = 0, b = 0;
};
Rgb operator*(Rgb c, float k) { return {c.r * k, c.g * k, c.b * k}; }
Rgb lerp(Rgb a, Rgb b, double t) {
  auto f = static_cast<float>(std::clamp(t, 0.0, 1.0));
  return {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f};
}
double smoothstep(double e0, double e1, double x) {
  double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}
// 1 inside [lo, hi], 0 outside, soft edges of half-width `soft`.
double band(double v, double lo, double hi, double soft) {
  return smoothstep(lo - soft, lo + soft, v) * (1 - smoothstep(hi - soft, hi + soft, v));
}
double box(double x, double y, double x0, double y0, double x1, double y1, double soft) {
  return band(x, x0, x1, soft) * band(y, y0, y1, soft);
}
double frac(double v) { return v - std::floor(v); }
double hash01(uint64_t a, uint64_t b) { return static_cast<double>(mix64(a * 0x9E3779B97F4A7C15ull ^ b) >> 11) * 0x1.0p-53; }

// Object colours, scaled so that the brightest texture modulation (x1.2) stays within [0, 1].
constexpr double kTextureHeadroom = 1.2;
constexpr std::array<Rgb, 8> kPalette = {{{0.90f, 0.10f, 0.10f},    // red
                                          {1.00f, 0.50f, 0.05f},    // orange
                                          {1.00f, 0.90f, 0.10f},    // yellow
                                          {0.10f, 0.75f, 0.20f},    // green
                                          {0.15f, 0.35f, 1.00f},    // blue
                                          {0.60f, 0.20f, 0.85f},    // purple
                                          {1.00f, 0.50f, 0.75f},    // pink
                                          {1.00f, 1.00f, 1.00f}}};  // white
constexpr float kBackgroundMax = 0.72f;  // backgrounds stay darker than white objects (0.83)

// The background's colour at (x, y) in [0, 1]^2 (y down). Only smooth gradients, soft-edged
// regions and broad bands (features >= 1/8 of the frame): nothing that resembles the 4-pixel
// textures. `a` in [-1, 1] moves horizons and features per clip.
Rgb background_colour(int category, double x, double y, double a) {
  const double tau = 2 * kPi;
  switch (category) {
    case 0: {  // beach: sky, sea, wavy shoreline, sand
      double h1 = 0.36 + 0.05 * a, h2 = 0.56 + 0.05 * a + 0.03 * std::sin(tau * (0.7 * x + a));
      Rgb sky = lerp({0.42f, 0.60f, 0.82f}, {0.62f, 0.72f, 0.84f}, y / h1);
      Rgb sea = lerp({0.08f, 0.36f, 0.55f}, {0.16f, 0.50f, 0.60f}, (y - h1) / (h2 - h1));
      Rgb sand = lerp({0.68f, 0.60f, 0.42f}, {0.58f, 0.48f, 0.32f}, (y - h2) / (1 - h2));
      return lerp(lerp(sky, sea, smoothstep(h1 - 0.01, h1 + 0.01, y)), sand, smoothstep(h2 - 0.015, h2 + 0.015, y));
    }
    case 1: {  // forest: dark canopy, broad trunks, mossy floor
      Rgb canopy = lerp({0.10f, 0.28f, 0.12f}, {0.05f, 0.17f, 0.07f}, y);
      double trunk = 1 - smoothstep(0.07, 0.12, std::abs(frac(3 * x + 0.3 * a) - 0.5));
      Rgb c = lerp(canopy, {0.30f, 0.20f, 0.12f}, trunk * smoothstep(0.12, 0.35, y));
      return lerp(c, {0.22f, 0.20f, 0.10f}, smoothstep(0.78, 0.84, y + 0.04 * a));
    }
    case 2: {  // city street: sky, a skyline of blocks, sidewalk, road
      Rgb c = lerp({0.55f, 0.62f, 0.70f}, {0.45f, 0.52f, 0.60f}, y / 0.5);
      auto building = static_cast<uint64_t>(std::floor(6 * x + 2 * (a + 1)));
      auto variant = static_cast<uint64_t>(std::floor((a + 1) * 1000));
      double roof = 0.18 + 0.32 * hash01(building, variant);
      float grey = static_cast<float>(0.22 + 0.22 * hash01(building, variant + 7));
      c = lerp(c, {grey, grey, grey * 1.05f}, smoothstep(roof - 0.005, roof + 0.005, y));
      c = lerp(c, {0.45f, 0.44f, 0.42f}, smoothstep(0.71, 0.72, y));
      return lerp(c, {0.22f, 0.22f, 0.24f}, smoothstep(0.75, 0.76, y));
    }
    case 3: {  // kitchen: upper cabinets, warm wall, counter top, lower cabinets
      double s = 0.04 * a;
      Rgb c = lerp({0.66f, 0.58f, 0.44f}, {0.60f, 0.52f, 0.40f}, y);
      c = lerp(c, {0.50f, 0.36f, 0.22f}, 1 - smoothstep(0.24 + s, 0.25 + s, y));
      c = lerp(c, {0.62f, 0.62f, 0.60f}, smoothstep(0.62 + s, 0.63 + s, y));
      return lerp(c, {0.42f, 0.28f, 0.16f}, smoothstep(0.67 + s, 0.68 + s, y));
    }
    case 4: {  // snow: grey sky over soft snowy hills
      double h = 0.40 + 0.05 * a + 0.05 * std::sin(tau * (1.3 * x + a));
      Rgb sky = lerp({0.48f, 0.54f, 0.64f}, {0.58f, 0.62f, 0.68f}, y / h);
      Rgb snow = lerp({0.70f, 0.72f, 0.74f}, {0.56f, 0.60f, 0.68f}, (y - h) / (1 - h));
      return lerp(sky, snow, smoothstep(h - 0.01, h + 0.01, y));
    }
    case 5: {  // desert: warm sky, soft sun, dunes with a shaded ridge
      double h = 0.50 + 0.06 * std::sin(tau * (0.9 * x + a));
      Rgb c = lerp({0.62f, 0.50f, 0.36f}, {0.70f, 0.58f, 0.40f}, y / h);
      // A hazy sun: a wide soft glow, nothing with the crisp edge of an object.
      double sun = 1 - smoothstep(0.02, 0.14, std::hypot(x - 0.75, y - 0.2 - 0.04 * a));
      c = lerp(c, {0.72f, 0.66f, 0.48f}, 0.8 * sun);
      Rgb dune = lerp({0.66f, 0.46f, 0.24f}, {0.55f, 0.36f, 0.18f}, (y - h) / (1 - h));
      double ridge = 0.74 + 0.05 * std::sin(tau * (1.4 * x - a));
      dune = dune * static_cast<float>(1 - 0.15 * smoothstep(ridge - 0.01, ridge + 0.01, y));
      return lerp(c, dune, smoothstep(h - 0.01, h + 0.01, y));
    }
    case 6: {  // ocean: thin sky, deep water with broad swells
      double h = 0.22 + 0.04 * a;
      Rgb sky = lerp({0.50f, 0.66f, 0.80f}, {0.60f, 0.70f, 0.80f}, y / h);
      Rgb sea = lerp({0.06f, 0.22f, 0.42f}, {0.02f, 0.10f, 0.26f}, (y - h) / (1 - h));
      sea = sea * static_cast<float>(1 + 0.1 * std::sin(tau * (5 * (y - h) + 0.6 * x + a)));
      return lerp(sky, sea, smoothstep(h - 0.008, h + 0.008, y));
    }
    case 7: {  // night sky: dark gradient, moon with glow, black hills
      Rgb c = lerp({0.03f, 0.04f, 0.14f}, {0.10f, 0.10f, 0.28f}, y);
      double d = std::hypot(x - 0.78, y - 0.22 - 0.05 * a);
      // A moon behind haze: a soft glow without a crisp rim (a crisp disc would pass for a circle).
      c = lerp(c, {0.30f, 0.30f, 0.40f}, 0.5 * std::exp(-d * d / 0.02));
      c = lerp(c, {0.52f, 0.52f, 0.48f}, 1 - smoothstep(0.02, 0.09, d));
      double hill = 0.82 + 0.05 * std::sin(tau * (0.8 * x + a));
      return lerp(c, {0.02f, 0.03f, 0.05f}, smoothstep(hill - 0.01, hill + 0.01, y));
    }
    case 8: {  // office: grey-blue wall, framed window, desk
      double s = 0.05 * a;
      Rgb c = lerp({0.46f, 0.50f, 0.54f}, {0.40f, 0.44f, 0.48f}, y);
      c = lerp(c, {0.30f, 0.30f, 0.32f}, box(x, y, 0.50, 0.06 + s, 0.92, 0.47 + s, 0.004));
      c = lerp(c, {0.62f, 0.70f, 0.76f}, box(x, y, 0.52, 0.08 + s, 0.90, 0.45 + s, 0.004));
      return lerp(c, {0.36f, 0.26f, 0.18f}, smoothstep(0.74, 0.75, y));
    }
    case 9: {  // garden: sky, hedge with muted flowering bushes, lawn
      double h = 0.28 + 0.04 * a;
      Rgb c = lerp({0.50f, 0.68f, 0.82f}, {0.58f, 0.72f, 0.82f}, y / h);
      c = lerp(c, {0.12f, 0.32f, 0.12f}, smoothstep(h - 0.01, h + 0.01, y));
      for (int k = 0; k < 3; ++k) {
        double bx = 0.15 + 0.35 * k + 0.08 * a, d = std::hypot(x - bx, y - h - 0.08);
        Rgb flower = k == 1 ? Rgb{0.62f, 0.55f, 0.30f} : Rgb{0.58f, 0.36f, 0.44f};
        c = lerp(c, flower, 0.7 * (1 - smoothstep(0.02, 0.09, d)));  // soft, not object-like
      }
      return lerp(c, lerp({0.24f, 0.50f, 0.18f}, {0.18f, 0.40f, 0.14f}, y), smoothstep(h + 0.17, h + 0.19, y));
    }
    case 10: {  // stadium: roof, dark stands, pitch with broad mowing bands
      double h = 0.30 + 0.04 * a;
      Rgb c = lerp({0.40f, 0.40f, 0.45f}, {0.20f, 0.18f, 0.26f}, smoothstep(0.05, 0.07, y));
      Rgb pitch = Rgb{0.16f, 0.46f, 0.18f} * static_cast<float>(1 + 0.09 * std::sin(tau * (5 * x + a)));
      return lerp(c, pitch, smoothstep(h - 0.01, h + 0.01, y));
    }
    case 11: {  // road: grass verges, asphalt, dashed centre line (all vertical, wide)
      double centre = 0.5 + 0.08 * a;
      Rgb c = lerp({0.24f, 0.44f, 0.18f}, {0.30f, 0.30f, 0.32f}, band(x, centre - 0.3, centre + 0.3, 0.01));
      double dash = band(x, centre - 0.022, centre + 0.022, 0.006) * band(frac(4 * y + a), 0.1, 0.6, 0.03);
      return lerp(c, {0.70f, 0.60f, 0.15f}, dash);
    }
    case 12: {  // classroom: beige wall, framed chalkboard, wooden floor
      double s = 0.04 * a;
      Rgb c = lerp({0.62f, 0.56f, 0.44f}, {0.56f, 0.50f, 0.40f}, y);
      c = lerp(c, {0.42f, 0.28f, 0.16f}, box(x, y, 0.06, 0.06 + s, 0.94, 0.57 + s, 0.004));
      c = lerp(c, {0.12f, 0.26f, 0.18f}, box(x, y, 0.08, 0.08 + s, 0.92, 0.55 + s, 0.004));
      return lerp(c, {0.40f, 0.30f, 0.20f}, smoothstep(0.80, 0.81, y));
    }
    case 13: {  // studio: seamless backdrop with a soft spotlight
      double d = std::hypot(x - 0.5 - 0.1 * a, y - 0.42);
      Rgb c = lerp({0.56f, 0.56f, 0.60f}, {0.22f, 0.22f, 0.27f}, smoothstep(0.0, 0.8, d));
      return c * static_cast<float>(1 - 0.1 * smoothstep(0.7, 0.9, y));
    }
    default: {  // river: sky, green banks, a winding river
      Rgb c = lerp({0.24f, 0.44f, 0.18f}, {0.20f, 0.36f, 0.14f}, y);
      double centre = 0.58 + 0.08 * std::sin(tau * (0.8 * x + a));
      c = lerp(c, lerp({0.14f, 0.34f, 0.46f}, {0.10f, 0.28f, 0.40f}, (y - centre + 0.14) / 0.28),
               band(y, centre - 0.14, centre + 0.14, 0.01));
      return lerp({0.50f, 0.66f, 0.80f}, c, smoothstep(0.17, 0.19, y));
    }
  }
}

// Signed distances of the shapes in the object's unit square (centre 0, y down), < 0 inside.
double shape_distance(int cls, double x, double y) {
  switch (cls - kSynthGarmentClasses) {
    case 0: return std::hypot(x, y) - 0.47;  // circle
    case 1: {                                // square
      double qx = std::abs(x) - 0.4, qy = std::abs(y) - 0.4;
      return std::hypot(std::max(qx, 0.0), std::max(qy, 0.0)) + std::min(std::max(qx, qy), 0.0);
    }
    case 2: {  // equilateral triangle pointing up (Inigo Quilez's sdEquilateralTriangle)
      const double k = std::sqrt(3.0), r = 0.46;
      double px = std::abs(x) - r, py = -y - 0.12 + r / k;
      if (px + k * py > 0) {
        double nx = (px - k * py) / 2, ny = (-k * px - py) / 2;
        px = nx, py = ny;
      }
      px -= std::clamp(px, -2 * r, 0.0);
      return -std::hypot(px, py) * (py < 0 ? -1 : 1);
    }
    default: {  // five-pointed star pointing up (Inigo Quilez's sdStar5)
      const double r = 0.5, rf = 0.45, k1x = 0.809016994375, k1y = -0.587785252292;
      double px = std::abs(x), py = -y - 0.045;
      double d1 = std::max(k1x * px + k1y * py, 0.0);
      px -= 2 * d1 * k1x, py -= 2 * d1 * k1y;
      double d2 = std::max(-k1x * px + k1y * py, 0.0);
      px -= 2 * d2 * -k1x, py -= 2 * d2 * k1y;
      px = std::abs(px);
      py -= r;
      double bax = rf * -k1y, bay = rf * k1x - 1;
      double h = std::clamp((px * bax + py * bay) / (bax * bax + bay * bay), 0.0, r);
      double s = py * bax - px * bay;
      return std::hypot(px - bax * h, py - bay * h) * (s < 0 ? -1 : 1);
    }
  }
}

// Renders a scene's frames: the background is drawn once per clip, objects per frame.
class ClipRenderer {
 public:
  ClipRenderer(const SynthScene& scene, const GarmentLibrary& garments, int size)
      : scene_(scene), size_(size), background_(3 * static_cast<size_t>(size) * size) {
    auto in = [](int value, size_t count) { return value >= 0 && static_cast<size_t>(value) < count; };
    if (!in(scene.background, kSynthBackgrounds.size())) {
      throw core::Error(fmt::format("synthvid: render: background index {} out of range 0..{}", scene.background,
                                    kSynthBackgrounds.size() - 1));
    }
    const FashionMnist& part = scene.unseen_garments ? garments.unseen : garments.seen;
    for (const SynthObject& o : scene.objects) {
      if (!in(o.cls, kSynthClasses.size()) || !in(o.colour, kSynthColours.size()) ||
          !in(o.texture, kSynthTextures.size()) || !in(o.size, kSynthSizes.size()) ||
          !in(o.motion, kSynthMotions.size())) {
        throw core::Error(fmt::format(
            "synthvid: render: attribute index out of range (class {}, colour {}, texture {}, size {}, motion {})",
            o.cls, o.colour, o.texture, o.size, o.motion));
      }
      const uint8_t* image = nullptr;
      if (o.cls < kSynthGarmentClasses) {
        const auto& pool = part.by_class[o.cls];
        if (pool.empty()) {
          throw core::Error(fmt::format("synthvid: render: no Fashion-MNIST image of class {} loaded ({} part)",
                                        kSynthClasses[o.cls], scene.unseen_garments ? "t10k" : "train"));
        }
        image = part.image(pool[o.variant % pool.size()]);
      }
      images_.push_back(image);
    }
    draw_background();
  }

  // Frame at clip time u in [0, 1] into `rgb` ([3, size, size], values in [-1, 1]).
  void render(double u, float* rgb) const {
    const size_t plane = static_cast<size_t>(size_) * size_;
    std::copy(background_.begin(), background_.end(), rgb);
    // The primary object is drawn last, on top of the second one.
    for (size_t i = scene_.objects.size(); i-- > 0;) draw_object(scene_.objects[i], images_[i], u, rgb);
    for (size_t k = 0; k < 3 * plane; ++k) rgb[k] = rgb[k] * 2 - 1;
  }

 private:
  void draw_background() {
    const size_t plane = static_cast<size_t>(size_) * size_;
    const auto tint = static_cast<float>(0.05 * scene_.background_tint);
    const auto light = static_cast<float>(1 + 0.1 * scene_.background_light);
    for (int py = 0; py < size_; ++py) {
      for (int px = 0; px < size_; ++px) {
        double x = (px + 0.5) / size_, y = (py + 0.5) / size_;
        if (scene_.background_mirror) x = 1 - x;
        Rgb c = background_colour(scene_.background, x, y, scene_.background_layout);
        size_t at = static_cast<size_t>(py) * size_ + px;
        background_[at] = std::clamp((c.r + tint) * light, 0.0f, kBackgroundMax);
        background_[plane + at] = std::clamp(c.g * light, 0.0f, kBackgroundMax);
        background_[2 * plane + at] = std::clamp((c.b - tint) * light, 0.0f, kBackgroundMax);
      }
    }
  }

  // Coverage (alpha) and shading of the object at local coordinates (x, y) in its unit square.
  // side: the square's edge in pixels (for 1-pixel anti-aliased shape edges).
  static void sample_object(const SynthObject& o, const uint8_t* image, double x, double y, double side,
                            float& alpha, float& shade) {
    alpha = 0, shade = 1;
    if (image != nullptr) {
      // Garment: the image's intensity is both its mask and its shading (bilinear sampling).
      double gx = (x + 0.5) * kFashionMnistSide - 0.5, gy = (y + 0.5) * kFashionMnistSide - 0.5;
      if (gx <= -1 || gy <= -1 || gx >= kFashionMnistSide || gy >= kFashionMnistSide) return;
      int x0 = static_cast<int>(std::floor(gx)), y0 = static_cast<int>(std::floor(gy));
      double fx = gx - x0, fy = gy - y0;
      auto at = [&](int xx, int yy) -> double {
        if (xx < 0 || yy < 0 || xx >= kFashionMnistSide || yy >= kFashionMnistSide) return 0;
        return image[yy * kFashionMnistSide + xx] / 255.0;
      };
      double v = (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) +
                 (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
      alpha = static_cast<float>(smoothstep(0.01, 0.08, v));  // dark garment parts stay opaque
      shade = static_cast<float>(0.45 + 0.55 * v);
      return;
    }
    if (std::abs(x) > 0.6 || std::abs(y) > 0.6) return;
    alpha = static_cast<float>(std::clamp(0.5 - shape_distance(o.cls, x, y) * side, 0.0, 1.0));
    shade = static_cast<float>(0.72 + 0.28 * (0.5 - y));  // lit from the object's top: shows rotation
  }

  // Multiplier of the fine texture at pixel (px, py): mean 1 over each 4x4 cell, in phase with
  // the pixel grid, so x4 bicubic down-scaling returns exactly the plain colour (texture_scale 1;
  // scale s draws each texture pixel as an s x s block: a 4s-pixel period).
  static float texture_gain(const SynthObject& o, int px, int py) {
    if (o.texture_scale > 1) {
      px /= o.texture_scale;
      py /= o.texture_scale;
    }
    if (o.texture == 1) {  // stripes: 2 light, 2 dark pixels
      int q = o.horizontal_stripes ? py : px;
      return (q & 3) < 2 ? 1.2f : 0.8f;
    }
    if (o.texture == 2) {  // dots: a dark 2x2 dot in each 4x4 cell
      return ((px & 3) < 2 && (py & 3) < 2) ? 0.4f : 1.2f;
    }
    return 1.0f;
  }

  void draw_object(const SynthObject& o, const uint8_t* image, double u, float* rgb) const {
    const size_t plane = static_cast<size_t>(size_) * size_;
    const Pose pose = pose_at(o, u, size_);
    const double c = std::cos(pose.angle), s = std::sin(pose.angle);
    const double shadow = kShadowOffset * size_;
    const double reach = pose.side * 0.75 + shadow + 2;
    const int x0 = std::max(0, static_cast<int>(std::floor(pose.cx - reach)));
    const int x1 = std::min(size_ - 1, static_cast<int>(std::ceil(pose.cx + reach)));
    const int y0 = std::max(0, static_cast<int>(std::floor(pose.cy - reach)));
    const int y1 = std::min(size_ - 1, static_cast<int>(std::ceil(pose.cy + reach)));
    const Rgb base = kPalette[o.colour] * static_cast<float>(1 / kTextureHeadroom);
    // Screen -> object square: rotate by -angle (counter-clockwise on screen, y down), scale.
    auto local = [&](double fx, double fy, double& lx, double& ly) {
      lx = (c * fx - s * fy) / pose.side;
      ly = (s * fx + c * fy) / pose.side;
    };
    for (int py = y0; py <= y1; ++py) {
      for (int px = x0; px <= x1; ++px) {
        const double fx = px + 0.5 - pose.cx, fy = py + 0.5 - pose.cy;
        double lx, ly;
        float alpha, shade, shadow_alpha, unused;
        local(fx - shadow, fy - shadow, lx, ly);
        sample_object(o, image, lx, ly, pose.side, shadow_alpha, unused);
        local(fx, fy, lx, ly);
        sample_object(o, image, lx, ly, pose.side, alpha, shade);
        if (shadow_alpha <= 0 && alpha <= 0) continue;
        const size_t at = static_cast<size_t>(py) * size_ + px;
        const float darken = 1 - static_cast<float>(kShadowStrength) * shadow_alpha;
        const float gain = shade * texture_gain(o, px, py);
        const float colour[3] = {base.r * gain, base.g * gain, base.b * gain};
        for (int ch = 0; ch < 3; ++ch) {
          float& v = rgb[ch * plane + at];
          v = v * darken * (1 - alpha) + colour[ch] * alpha;
        }
      }
    }
  }

  const SynthScene& scene_;
  int size_;
  std::vector<float> background_;        // [3, size, size] in [0, 1]
  std::vector<const uint8_t*> images_;   // garment image per object (nullptr for shapes)
};

double clip_time(int t, int frames) { return frames > 1 ? static_cast<double>(t) / (frames - 1) : 0.0; }

}  // namespace

GarmentLibrary load_garment_library(const std::filesystem::path& fashion_mnist_dir) {
  return {load_fashion_mnist(fashion_mnist_dir, FashionMnistPart::Train),
          load_fashion_mnist(fashion_mnist_dir, FashionMnistPart::Test)};
}

at::Tensor render_frame(const SynthScene& scene, const GarmentLibrary& garments, int t, int frames, int size) {
  if (size < 4 || frames < 1 || t < 0 || t >= frames) {
    throw core::Error(fmt::format("synthvid: render_frame: frame {} of {} at size {} (expected 0 <= t < frames, size >= 4)",
                                  t, frames, size));
  }
  at::Tensor frame = torch::empty({3, size, size}, torch::kFloat32);
  ClipRenderer(scene, garments, size).render(clip_time(t, frames), frame.data_ptr<float>());
  return frame;
}

// The dataset writer.

void SynthVidConfig::validate() const {
  auto fail = [](const std::string& what) { throw core::ConfigError("synthvid config: " + what); };
  if (seed < 0) fail(fmt::format("seed={} must be >= 0", seed));
  if (splits.empty()) fail("splits is empty, expected one or more of train, val, test, compositional");
  std::set<std::string> unique;
  for (const std::string& split : splits) {
    if (std::find(kSynthSplits.begin(), kSynthSplits.end(), split) == kSynthSplits.end()) {
      fail(fmt::format("splits: \"{}\" is not a split, expected train, val, test or compositional", split));
    }
    if (!unique.insert(split).second) fail(fmt::format("splits: \"{}\" listed twice", split));
  }
  for (auto [name, value] : {std::pair<const char*, int64_t>{"train_clips", train_clips}, {"val_clips", val_clips},
                             {"test_clips", test_clips}, {"compositional_clips", compositional_clips}}) {
    if (value < 0 || value > 100'000'000) fail(fmt::format("{}={} must be in 0..100000000", name, value));
  }
  int64_t total = 0;
  for (const std::string& split : splits) total += clips_in(split);
  if (total == 0) {
    fail(fmt::format("the splits to write ({}) have 0 clips in all; nothing to write", fmt::join(splits, ", ")));
  }
  if (size < 16 || size > 4096 || size % kTexturePeriod != 0) {
    fail(fmt::format("size={} must be a multiple of {} in 16..4096 (the x4 down-scaled frame must be whole)", size,
                     kTexturePeriod));
  }
  if (!(fps > 0) || fps > 1000) fail(fmt::format("fps={} must be in (0, 1000]", fps));
  if (frames < 1 || frames > 100000) fail(fmt::format("frames={} must be in 1..100000", frames));
  if (clips_per_video < 1 || clips_per_video > 100000) {
    fail(fmt::format("clips_per_video={} must be in 1..100000", clips_per_video));
  }
  if (!(second_object_prob >= 0 && second_object_prob <= 1)) {
    fail(fmt::format("second_object_prob={} must be in [0, 1]", second_object_prob));
  }
  for (const std::string& size : sizes) {
    if (std::find(kSynthSizes.begin(), kSynthSizes.end(), size) == kSynthSizes.end()) {
      fail(fmt::format("sizes: \"{}\" is not a size, expected small, medium or large", size));
    }
  }
  for (const std::string& motion : motions) {
    if (std::find(kSynthMotions.begin(), kSynthMotions.end(), motion) == kSynthMotions.end()) {
      fail(fmt::format("motions: \"{}\" is not a motion, expected left, right, up, down, still, rotate, grow or shrink",
                       motion));
    }
  }
  for (int scale : texture_scales) {
    if (scale < 1 || scale > 4) fail(fmt::format("texture_scales: {} must be in 1..4 (a period of 4 to 16 pixels)", scale));
  }
  if (fashion_mnist_dir.empty()) fail("fashion_mnist_dir is empty, expected the folder of the Fashion-MNIST .gz files");
  if (jobs < 0) fail(fmt::format("jobs={} must be >= 0 (0 = hardware threads)", jobs));
}

SceneOptions SynthVidConfig::scene_options() const {
  SceneOptions options;
  options.second_object_prob = second_object_prob;
  auto index_of = [](const auto& vocabulary, const std::string& word) {
    return static_cast<int>(std::find(vocabulary.begin(), vocabulary.end(), word) - vocabulary.begin());
  };
  for (const std::string& size : sizes) options.sizes.push_back(index_of(kSynthSizes, size));
  for (const std::string& motion : motions) options.motions.push_back(index_of(kSynthMotions, motion));
  options.centred = centred;
  options.texture_scales = texture_scales;
  return options;
}

int64_t SynthVidConfig::clips_in(std::string_view split) const {
  switch (split_index(split)) {
    case 0: return train_clips;
    case 1: return val_clips;
    case 2: return test_clips;
    default: return compositional_clips;
  }
}

namespace {

std::string video_id(std::string_view split, int64_t video) { return fmt::format("synth-{}-{:06d}", split, video); }
std::string clip_id(std::string_view split, int64_t video, int64_t k) {
  return fmt::format("{}.{}.mp4", video_id(split, video), k);
}

core::Json labels_json(const SynthScene& scene, const std::string& id) {
  core::Json objects = core::Json::array();
  for (const SynthObject& o : scene.objects) {
    objects.push_back({{"class", kSynthClasses[o.cls]},
                       {"colour", kSynthColours[o.colour]},
                       {"texture", kSynthTextures[o.texture]},
                       {"size", kSynthSizes[o.size]},
                       {"motion", kSynthMotions[o.motion]}});
  }
  return {{"clip_id", id}, {"background", kSynthBackgrounds[scene.background]}, {"objects", std::move(objects)}};
}

template <size_t N>
core::Json words(const std::array<std::string_view, N>& vocabulary) {
  core::Json list = core::Json::array();
  for (std::string_view word : vocabulary) list.push_back(word);
  return list;
}

// One source video of a split: `clips` consecutive scenes starting at `first`.
struct VideoJob {
  std::string split;
  int64_t video = 0;
  int64_t first = 0;
  int64_t clips = 0;
  const std::vector<SynthScene>* scenes = nullptr;
};

// Renders and encodes one source video's clips (and the whole video when asked).
void write_video(const VideoJob& job, const std::filesystem::path& split_dir, const SynthVidConfig& config,
                 const GarmentLibrary& garments, const std::function<void()>& clip_done) {
  const std::string id = video_id(job.split, job.video);
  const std::filesystem::path clip_dir = split_dir / "video_clips" / id;
  std::filesystem::create_directories(clip_dir);
  std::unique_ptr<core::VideoWriter> whole;
  if (config.whole_videos) {
    whole = std::make_unique<core::VideoWriter>(split_dir / "videos" / (id + ".mp4"), config.fps, config.size, config.size);
  }
  std::vector<float> buffer(3 * static_cast<size_t>(config.size) * config.size);
  at::Tensor frame = torch::from_blob(buffer.data(), {3, config.size, config.size}, torch::kFloat32);
  for (int64_t k = 0; k < job.clips; ++k) {
    ClipRenderer renderer((*job.scenes)[static_cast<size_t>(job.first + k)], garments, config.size);
    core::VideoWriter writer(clip_dir / clip_id(job.split, job.video, k), config.fps, config.size, config.size);
    for (int t = 0; t < config.frames; ++t) {
      renderer.render(clip_time(t, config.frames), buffer.data());
      writer.write(frame);
      if (whole) whole->write(frame);
    }
    writer.close();
    clip_done();
  }
  if (whole) whole->close();
}

// A split's three JSONL files.
void write_split_text(const std::filesystem::path& split_dir, std::string_view split,
                      const std::vector<SynthScene>& scenes, const SynthVidConfig& config) {
  std::string metadata, clip_text, labels;
  const double clip_seconds = config.frames / config.fps;
  const auto count = static_cast<int64_t>(scenes.size());
  for (int64_t first = 0, video = 0; first < count; first += config.clips_per_video, ++video) {
    core::Json clips = core::Json::array();
    for (int64_t k = 0; k < config.clips_per_video && first + k < count; ++k) {
      clips.push_back({{"clip_id", clip_id(split, video, k)},
                       {"span", {core::format_timecode(k * clip_seconds), core::format_timecode((k + 1) * clip_seconds)}}});
    }
    core::Json line = {{"video_id", video_id(split, video)},
                       {"url", fmt::format("synthvid://{}/{:06d}", split, video)},
                       {"clip", std::move(clips)}};
    metadata += line.dump() + "\n";
  }
  for (int64_t i = 0; i < count; ++i) {
    const SynthScene& scene = scenes[static_cast<size_t>(i)];
    const std::string id = clip_id(split, i / config.clips_per_video, i % config.clips_per_video);
    core::Json text = {{"clip_id", id}, {"text", caption(scene)}, {"text_asr", caption_asr(scene)}};
    if (config.chinese) text["text_zh"] = caption_zh(scene);
    clip_text += text.dump() + "\n";
    labels += labels_json(scene, id).dump() + "\n";
  }
  core::write_file_atomic(split_dir / "metadata.jsonl", metadata);
  core::write_file_atomic(split_dir / "clip_text.jsonl", clip_text);
  core::write_file_atomic(split_dir / "labels.jsonl", labels);
}

core::Json manifest_json(const SynthVidConfig& config, const std::vector<std::string>& splits) {
  core::Json counts = core::Json::object();
  for (const std::string& split : splits) counts[split] = config.clips_in(split);
  core::Json holdout = core::Json::array();
  for (size_t c = 0; c < kSynthClasses.size(); ++c) {
    holdout.push_back({kSynthClasses[c], kSynthColours[kCompositionalHoldoutColour[c]]});
  }
  return {{"format", "synthvid"},
          {"version", 1},
          {"seed", config.seed},
          {"size", config.size},
          {"fps", config.fps},
          {"frames", config.frames},
          {"clips_per_video", config.clips_per_video},
          {"scenes",
           {{"second_object_prob", config.second_object_prob},
            {"sizes", config.sizes},
            {"motions", config.motions},
            {"centred", config.centred},
            {"texture_scales", config.texture_scales}}},
          {"splits", std::move(counts)},
          {"attributes",
           {{"class", words(kSynthClasses)},
            {"colour", words(kSynthColours)},
            {"texture", words(kSynthTextures)},
            {"size", words(kSynthSizes)},
            {"motion", words(kSynthMotions)},
            {"background", words(kSynthBackgrounds)}}},
          {"compositional_holdout", std::move(holdout)}};
}

// Makes `out` ready: created when missing; refused when it holds anything unless `force`, which
// removes the manifest first (the folder stops looking complete) and then the splits' folders.
void prepare_output(const std::filesystem::path& out, const std::vector<std::string>& splits, bool force) {
  std::error_code ec;
  if (std::filesystem::exists(out, ec)) {
    if (!std::filesystem::is_directory(out, ec)) {
      throw core::IoError(fmt::format("{}: exists and is not a folder (--out must name a folder)", out.string()));
    }
    if (!std::filesystem::is_empty(out, ec)) {
      if (!force) {
        throw core::Error(fmt::format("{}: output folder is not empty (pass --force to overwrite the splits written)",
                                      out.string()));
      }
      std::filesystem::remove(out / "synthvid.json", ec);
      for (const std::string& split : splits) std::filesystem::remove_all(out / split, ec);
    }
  }
  std::filesystem::create_directories(out, ec);
  if (ec) throw core::IoError(fmt::format("{}: cannot create the output folder: {}", out.string(), ec.message()));
}

}  // namespace

SynthVidSummary write_synthvid(const std::filesystem::path& out, const SynthVidConfig& config,
                               const core::ProgressCallback& progress) {
  config.validate();
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  // Splits in their canonical order, whatever order the config lists them in.
  std::vector<std::string> splits;
  for (std::string_view split : kSynthSplits) {
    if (std::find(config.splits.begin(), config.splits.end(), split) != config.splits.end()) splits.emplace_back(split);
  }
  // Everything that can fail on bad input (the garment files, the scene draws) before the output
  // folder is touched.
  const GarmentLibrary garments = load_garment_library(config.fashion_mnist_dir);
  const auto seed = static_cast<uint64_t>(config.seed);
  std::vector<std::vector<SynthScene>> scenes;
  for (const std::string& split : splits) {
    scenes.push_back(sample_split(split, config.clips_in(split), seed, config.scene_options()));
  }
  prepare_output(out, splits, config.force);

  std::vector<VideoJob> jobs;
  int64_t total = 0;
  for (size_t s = 0; s < splits.size(); ++s) {
    const std::filesystem::path split_dir = out / splits[s];
    std::filesystem::create_directories(split_dir / "video_clips");
    if (config.whole_videos) std::filesystem::create_directories(split_dir / "videos");
    const auto count = static_cast<int64_t>(scenes[s].size());
    for (int64_t first = 0, video = 0; first < count; first += config.clips_per_video, ++video) {
      jobs.push_back({splits[s], video, first, std::min<int64_t>(config.clips_per_video, count - first), &scenes[s]});
    }
    total += count;
  }

  const int threads = config.jobs > 0 ? config.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The workers are the parallelism. LibTorch's intra-op threads (used by the per-frame tensor
  // conversion in VideoWriter) would only contend with them: on a loaded 2-core machine OpenMP's
  // spinning made one worker up to 10x slower. Restored on return.
  struct IntraOpThreads {
    int saved = at::get_num_threads();
    IntraOpThreads() { at::set_num_threads(1); }
    ~IntraOpThreads() { at::set_num_threads(saved); }
  } intra_op_threads;
  core::log_info("synthvid: rendering {} clips ({}x{}, {} frames at {} fps) on {} thread(s) into {}", total,
                 config.size, config.size, config.frames, config.fps, threads, out.string());
  std::mutex progress_mutex;
  int64_t done = 0;
  auto clip_done = [&] {
    std::lock_guard<std::mutex> lock(progress_mutex);
    ++done;
    if (progress) progress(done, total, elapsed());
  };
  if (progress) progress(0, total, 0.0);
  core::parallel_for_each(static_cast<int64_t>(jobs.size()), threads, [&](int64_t i) {
    const VideoJob& job = jobs[static_cast<size_t>(i)];
    write_video(job, out / job.split, config, garments, clip_done);
  });

  SynthVidSummary summary;
  for (size_t s = 0; s < splits.size(); ++s) {
    write_split_text(out / splits[s], splits[s], scenes[s], config);
    summary.clips.emplace_back(splits[s], static_cast<int64_t>(scenes[s].size()));
  }
  core::write_json_file(out / "synthvid.json", manifest_json(config, splits));
  summary.seconds = elapsed();
  return summary;
}

}  // namespace hdv::train
