// SynthVid: the synthetic captioned-video dataset every part of hdvila can train and test on
// offline (docs/design.md §6), written in the HD-VILA-100M layout so the real-data readers serve it.
//
// A clip shows 1-2 objects on one of 15 scene backgrounds. Objects are real Fashion-MNIST garments
// (train images for the train/val splits, t10k images for test/compositional, so test garments are
// unseen instances) or geometric shapes, each with a colour, a size, a fine texture and a motion.
// The texture (stripes or dots with a 4-pixel period, locked to the pixel grid) is legible at full
// resolution and averages out exactly under HD-VILA's x4 bicubic down-scaling, so only the
// high-resolution branch can see it; the motion is only visible across frames. Captions name every
// attribute of every object and the background, in paraphrased templates, in an ASR-style noisy
// narration and optionally in Chinese.
//
// Everything is a pure function of (--seed, split, clip index): each split draws from its own seed,
// so one split written alone equals the same split written with the others, and rendering on any
// number of worker threads gives the same files. docs/synthvid.md describes the output layout.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/progress.h"
#include "training/fashion_mnist.h"

namespace hdv::train {

// Attribute vocabularies: the exact words of labels, captions and the manifest.

// Classes 0..9 are the Fashion-MNIST labels (garments), 10..13 geometric shapes.
inline constexpr std::array<std::string_view, 14> kSynthClasses = {
    "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
    "sneaker", "bag",     "ankle boot", "circle", "square", "triangle", "star"};
inline constexpr int kSynthGarmentClasses = kFashionMnistClasses;
inline constexpr std::array<std::string_view, 8> kSynthColours = {"red",  "orange", "yellow", "green",
                                                                  "blue", "purple", "pink",   "white"};
inline constexpr std::array<std::string_view, 3> kSynthTextures = {"plain", "striped", "dotted"};
inline constexpr std::array<std::string_view, 3> kSynthSizes = {"small", "medium", "large"};
inline constexpr std::array<std::string_view, 8> kSynthMotions = {"left", "right",  "up",   "down",
                                                                  "still", "rotate", "grow", "shrink"};
inline constexpr std::array<std::string_view, 15> kSynthBackgrounds = {
    "beach",  "forest", "city street", "kitchen", "snow",      "desert", "ocean", "night sky",
    "office", "garden", "stadium",     "road",    "classroom", "studio", "river"};
inline constexpr std::array<std::string_view, 4> kSynthSplits = {"train", "val", "test", "compositional"};

// Period of the stripes and dots in pixels: HD-VILA's LR frames are the HR frames bicubic x0.25,
// so a period equal to the down-scaling factor, in phase with the pixel grid, leaves every LR
// sample at the texture's mean (frame sizes are multiples of 4).
inline constexpr int kTexturePeriod = 4;

// The compositional hold-out: (class, colour) pairs that train, val and test never show on any
// object and that every compositional clip shows on its primary object. Seed-independent: entry
// c is the held-out colour index of class c (one colour per class, every colour used).
inline constexpr std::array<int, 14> kCompositionalHoldoutColour = {
    1,  // t-shirt    orange
    4,  // trouser    blue
    7,  // pullover   white
    2,  // dress      yellow
    5,  // coat       purple
    0,  // sandal     red
    3,  // shirt      green
    6,  // sneaker    pink
    1,  // bag        orange
    4,  // ankle boot blue
    7,  // circle     white
    2,  // square     yellow
    5,  // triangle   purple
    0,  // star       red
};
inline bool is_compositional_holdout(int cls, int colour) { return kCompositionalHoldoutColour[cls] == colour; }

// Position of `split` in kSynthSplits; throws core::Error naming the split when it is not one.
int split_index(std::string_view split);

// Scenes.

// One object of a clip. The first five fields are its labels (indices into the vocabularies); the
// rest are rendering draws that no caption mentions.
struct SynthObject {
  int cls = 0;      // kSynthClasses
  int colour = 0;   // kSynthColours
  int texture = 0;  // kSynthTextures
  int size = 0;     // kSynthSizes (the object's extent at mid-clip)
  int motion = 0;   // kSynthMotions

  uint32_t variant = 0;   // garment image: variant % (images of the class in the split's part)
  double x = 0.5;         // centre at the first frame, fraction of the frame width (0 = left edge)
  double y = 0.5;         // centre at the first frame, fraction of the frame height (0 = top edge)
  double travel = 0.3;    // left/right/up/down: distance covered by the last frame, fraction of the frame
  double scale = 1.0;     // multiplies the size class's nominal extent (per-clip jitter, ~0.93..1.07)
  double angle = 0;       // orientation at the first frame, radians (counter-clockwise)
  int spin = 1;           // rotate: +1 counter-clockwise, -1 clockwise
  bool horizontal_stripes = false;  // striped: stripes along x instead of along y
  int texture_scale = 1;  // the texture's period is 4·texture_scale pixels (SceneOptions::texture_scales)
};

// Everything needed to render a clip and write its captions and labels.
struct SynthScene {
  int background = 0;              // kSynthBackgrounds
  double background_tint = 0;      // per-clip variation of the background's colours, -1..1
  double background_light = 0;     // per-clip brightness variation, -1..1
  double background_layout = 0;    // per-clip shift of horizons and features, -1..1
  bool background_mirror = false;  // left-right mirrored background
  bool unseen_garments = false;    // garments from t10k (test, compositional) instead of train images
  uint64_t caption_seed = 0;       // picks templates and paraphrases
  std::vector<SynthObject> objects;  // objects[0] is the primary object (drawn on top); empty = background only
};

// What scenes may show. The defaults draw every value; a restricted list draws among its values
// with the same number of random draws, so the other attributes of each scene stay as they were.
// "Product shots" for a generator (one large, still object at the centre, like FFHQ's aligned
// faces) are {second_object_prob 0, sizes {large}, motions {still}, centred}.
struct SceneOptions {
  double second_object_prob = 0.3;  // probability that a clip holds a second object
  std::vector<int> sizes;           // kSynthSizes indices the objects may have (empty = all)
  std::vector<int> motions;         // kSynthMotions indices the objects may have (empty = all)
  bool centred = false;             // the primary object's mid-clip centre at the frame centre (±kCentreJitter)
  // Texture periods, as multiples of 4 pixels, each object draws among (empty or {1} = 4 pixels,
  // no draw). {1, 2} also shows the texture at 8 pixels, the size a 64-px generator's 4-pixel
  // texture has once its images are enlarged to a 128-px VL model's input; at 8 pixels the ×4
  // bicubic LR frames keep it, so only period-4 textures test the high-resolution branch.
  std::vector<int> texture_scales;
};

// Largest offset of a centred object's mid-clip centre from the frame centre, fraction of the frame.
inline constexpr double kCentreJitter = 0.03;

// Scene `index` of `split` for `seed`. `attempt` > 0 draws an alternative (used to resample
// collisions in the test and compositional splits). Throws core::Error for an unknown split.
SynthScene sample_scene(std::string_view split, int64_t index, uint64_t seed, const SceneOptions& options = {},
                        int attempt = 0);

// The `count` scenes of a split. In test and compositional, a scene whose attribute tuple equals an
// earlier scene's is redrawn, so tuples are pairwise distinct (core::Error if the split asks for
// more clips than distinct tuples can be found).
std::vector<SynthScene> sample_split(std::string_view split, int64_t count, uint64_t seed,
                                     const SceneOptions& options = {});

// Every caption-relevant attribute of the scene as one string, e.g.
// "beach|t-shirt red striped large left|circle blue plain small still".
std::string attribute_tuple(const SynthScene& scene);

// Captions.

// The phrases captions use for attribute `value` of `attribute` ("class", "colour", "texture",
// "size", "motion", "background"); every caption contains one of them for each attribute of each
// object. Throws core::Error for an unknown attribute or value.
std::vector<std::string> attribute_phrases(std::string_view attribute, int value);

// The same phrases by place in English captions: [slot][value] -> the phrases that stand for the
// value there. Texture has two slots (before the noun: "striped"; after it: "with stripes"), the
// other attributes one, so a phrase can be swapped for another value's in the same slot.
std::vector<std::vector<std::vector<std::string>>> caption_phrase_slots(std::string_view attribute);

// A templated English sentence, e.g. "On a beach, a large red t-shirt with stripes is sliding to the
// left." Deterministic for a scene (its caption_seed picks the template and paraphrases).
std::string caption(const SynthScene& scene);
// A noisy narration in ASR style: lower case, filler words, no punctuation, all attributes kept,
// e.g. "um so you can see a large uh red striped t-shirt sliding to the left on a beach".
std::string caption_asr(const SynthScene& scene);
// A Chinese caption from a fixed phrase table, e.g. "在海滩上，一件大的带条纹的红色T恤正在向左移动。"
std::string caption_zh(const SynthScene& scene);
// caption_zh's words for one object, e.g. "一件大的带条纹的红色T恤" (measure word, size, texture,
// colour, class), and for a motion, e.g. "正在向左移动". Throws std::out_of_range for a bad index.
std::string zh_object_phrase(const SynthObject& object);
std::string zh_motion_phrase(int motion);

// Rendering.

// The garment images: Fashion-MNIST train (train, val) and t10k (test, compositional).
struct GarmentLibrary {
  FashionMnist seen;    // train-*-ubyte.gz
  FashionMnist unseen;  // t10k-*-ubyte.gz
};
GarmentLibrary load_garment_library(const std::filesystem::path& fashion_mnist_dir);

// Frame t (0..frames-1) of the clip at size x size pixels -> float [3, size, size] RGB in [-1, 1].
// Objects move linearly from the first frame to the last.
at::Tensor render_frame(const SynthScene& scene, const GarmentLibrary& garments, int t, int frames, int size);

// The dataset writer.

struct SynthVidConfig {
  int64_t seed = 0;                        // every split's scenes derive from (seed, split name)
  std::vector<std::string> splits = {"train", "val", "test", "compositional"};  // splits to write
  int64_t train_clips = 2000;              // clips in the train split
  int64_t val_clips = 200;                 // clips in the val split
  int64_t test_clips = 1000;               // clips in the test split (pairwise-distinct tuples)
  int64_t compositional_clips = 500;       // clips in the compositional split (held-out pairs)
  int size = 160;                          // frame width = height, pixels, a multiple of 4
  double fps = 8;                          // frames per second
  int frames = 32;                         // frames per clip (32 at 8 fps = 4 s)
  int clips_per_video = 2;                 // consecutive clips per source video
  double second_object_prob = 0.3;         // probability that a clip holds a second object
  std::vector<std::string> sizes;          // sizes objects may have (kSynthSizes words; empty = all)
  std::vector<std::string> motions;        // motions objects may have (kSynthMotions words; empty = all)
  bool centred = false;                    // primary object centred at mid-clip (SceneOptions::centred)
  std::vector<int> texture_scales;         // texture periods in multiples of 4 px (SceneOptions; empty = 4 px)
  bool chinese = false;                    // also write "text_zh" captions
  bool whole_videos = false;               // also write <split>/videos/<video_id>.mp4 (clips concatenated)
  std::string fashion_mnist_dir = std::string(kDefaultFashionMnistDir);  // the four IDX .gz files
  int jobs = 0;                            // rendering/encoding threads; 0 = hardware threads
  bool force = false;                      // write into a non-empty output folder

  template <class V>
  void fields(V& v) {
    v("seed", seed);
    v("splits", splits);
    v("train_clips", train_clips);
    v("val_clips", val_clips);
    v("test_clips", test_clips);
    v("compositional_clips", compositional_clips);
    v("size", size);
    v("fps", fps);
    v("frames", frames);
    v("clips_per_video", clips_per_video);
    v("second_object_prob", second_object_prob);
    v("sizes", sizes);
    v("motions", motions);
    v("centred", centred);
    v("texture_scales", texture_scales);
    v("chinese", chinese);
    v("whole_videos", whole_videos);
    v("fashion_mnist_dir", fashion_mnist_dir);
    v("jobs", jobs);
    v("force", force);
  }
  // Throws core::ConfigError naming the field ("synthvid config: size=30 must be a multiple of 4").
  void validate() const;
  // Clips the config asks for in `split`.
  int64_t clips_in(std::string_view split) const;
  // The scene draws this config asks for (words turned into indices; validate() first).
  SceneOptions scene_options() const;
};

struct SynthVidSummary {
  std::vector<std::pair<std::string, int64_t>> clips;  // (split, clips written), in split order
  double seconds = 0;                                  // wall time of the whole write
};

// Writes the dataset into `out` (created if missing): every split's clips, its metadata.jsonl,
// clip_text.jsonl and labels.jsonl, then synthvid.json last, so a folder holding synthvid.json is
// complete. Refuses a non-empty `out` unless config.force, which first removes synthvid.json and
// the folders of the splits being written. `progress` counts clips.
SynthVidSummary write_synthvid(const std::filesystem::path& out, const SynthVidConfig& config,
                               const core::ProgressCallback& progress = {});

}  // namespace hdv::train
