// Zero-shot retrieval evaluation (see evaluation.h).
#include "training/evaluation.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/log.h"
#include "models/tokenizer.h"
#include "models/vl_model.h"
#include "training/loader.h"

namespace hdv::train {

namespace {

RetrievalScores summarise(std::vector<int64_t> ranks) {
  RetrievalScores scores;
  scores.queries = static_cast<int64_t>(ranks.size());
  if (ranks.empty()) return scores;
  auto within = [&](int64_t k) {
    return 100.0 * double(std::count_if(ranks.begin(), ranks.end(), [k](int64_t r) { return r <= k; })) /
           double(ranks.size());
  };
  scores.r1 = within(1);
  scores.r5 = within(5);
  scores.r10 = within(10);
  double sum = 0;
  for (int64_t r : ranks) sum += double(r);
  scores.mean_rank = sum / double(ranks.size());
  std::sort(ranks.begin(), ranks.end());
  const size_t n = ranks.size();
  scores.median_rank = n % 2 == 1 ? double(ranks[n / 2]) : 0.5 * double(ranks[n / 2 - 1] + ranks[n / 2]);
  return scores;
}

core::Json scores_json(const RetrievalScores& s) {
  return {{"R@1", s.r1}, {"R@5", s.r5}, {"R@10", s.r10}, {"median_rank", s.median_rank},
          {"mean_rank", s.mean_rank}, {"queries", s.queries}};
}

}  // namespace

std::pair<RetrievalScores, RetrievalScores> retrieval_scores(const at::Tensor& similarity,
                                                             const std::vector<int64_t>& text_clip) {
  if (similarity.dim() != 2 || similarity.size(0) != int64_t(text_clip.size())) {
    throw core::Error(fmt::format("retrieval: similarity [{}] for {} captions: expected [captions, clips]",
                                  fmt::join(similarity.sizes(), ", "), text_clip.size()));
  }
  at::Tensor sim = similarity.to(torch::kFloat64).cpu().contiguous();
  const int64_t texts = sim.size(0), clips = sim.size(1);
  auto s = sim.accessor<double, 2>();
  // A rank counts the candidates scoring strictly higher, plus one (ties resolve in the query's
  // favour only when exactly equal, which real-valued embeddings make vanishingly rare).
  std::vector<int64_t> t2v;
  for (int64_t i = 0; i < texts; ++i) {
    const int64_t target = text_clip[i];
    if (target < 0 || target >= clips) throw core::Error(fmt::format("retrieval: caption {} names clip {} of {}", i, target, clips));
    int64_t higher = 0;
    for (int64_t j = 0; j < clips; ++j) higher += s[i][j] > s[i][target];
    t2v.push_back(higher + 1);
  }
  std::vector<std::vector<int64_t>> captions_of(clips);
  for (int64_t i = 0; i < texts; ++i) captions_of[text_clip[i]].push_back(i);
  std::vector<int64_t> v2t;
  for (int64_t j = 0; j < clips; ++j) {
    if (captions_of[j].empty()) continue;
    // The best-ranked caption is the one scoring highest with this clip.
    double best_score = -std::numeric_limits<double>::infinity();
    for (int64_t i : captions_of[j]) best_score = std::max(best_score, s[i][j]);
    int64_t higher = 0;
    for (int64_t k = 0; k < texts; ++k) higher += s[k][j] > best_score;
    const int64_t best = higher + 1;
    v2t.push_back(best);
  }
  return {summarise(std::move(t2v)), summarise(std::move(v2t))};
}

std::vector<AttributeScore> attribute_scores(const std::vector<core::Json>& labels, const std::vector<int64_t>& text_clip,
                                             const std::vector<int64_t>& top_clip) {
  // value of `group` for clip j, "" when absent.
  auto value = [&](int64_t j, const std::string& group) -> std::string {
    const core::Json& l = labels.at(size_t(j));
    if (!l.is_object()) return "";
    if (group == "background") return l.contains("background") && l["background"].is_string() ? l["background"].get<std::string>() : "";
    if (!l.contains("objects") || !l["objects"].is_array() || l["objects"].empty()) return "";
    const core::Json& o = l["objects"][0];
    return o.contains(group) && o[group].is_string() ? o[group].get<std::string>() : "";
  };
  std::vector<AttributeScore> out;
  for (const std::string group : {"class", "colour", "texture", "size", "motion", "background"}) {
    std::map<std::string, int64_t> counts;
    int64_t labelled = 0;
    for (size_t j = 0; j < labels.size(); ++j) {
      std::string v = value(int64_t(j), group);
      if (!v.empty()) {
        ++counts[v];
        ++labelled;
      }
    }
    if (labelled == 0) continue;
    AttributeScore score;
    score.group = group;
    int64_t hits = 0;
    for (size_t i = 0; i < text_clip.size(); ++i) {
      std::string want = value(text_clip[i], group);
      if (want.empty()) continue;
      ++score.queries;
      hits += value(top_clip[i], group) == want;
    }
    for (const auto& [v, c] : counts) score.chance += 100.0 * double(c) * double(c) / double(labelled) / double(labelled);
    score.accuracy = score.queries > 0 ? 100.0 * double(hits) / double(score.queries) : 0;
    out.push_back(score);
  }
  return out;
}

core::Json RetrievalReport::to_json() const {
  core::Json j{{"text_to_video", scores_json(text_to_video)},
               {"video_to_text", scores_json(video_to_text)},
               {"clips", clips},
               {"captions", texts},
               {"skipped_clips", skipped},
               {"seconds", seconds}};
  if (!attributes.empty()) {
    core::Json groups = core::Json::object();
    for (const auto& a : attributes) {
      groups[a.group] = {{"top1_accuracy", a.accuracy}, {"chance", a.chance}, {"queries", a.queries}};
    }
    j["attributes"] = groups;
  }
  if (!probes.empty()) {
    core::Json groups = core::Json::object();
    for (const auto& p : probes) {
      groups[p.attribute] = {{"accuracy", p.accuracy}, {"chance", p.chance}, {"clips", p.clips}, {"left_out", p.left_out}};
    }
    j["probes"] = groups;
  }
  return j;
}

at::Tensor encode_captions(models::VLModelImpl& model, const models::Tokenizer& tokenizer,
                           const std::vector<std::string>& captions, int64_t batch_size, c10::Device device) {
  torch::NoGradGuard no_grad;
  const int length = static_cast<int>(model.config().max_text_len);
  std::vector<at::Tensor> parts;
  for (size_t begin = 0; begin < captions.size(); begin += size_t(batch_size)) {
    const size_t end = std::min(captions.size(), begin + size_t(batch_size));
    std::vector<at::Tensor> ids, masks;
    for (size_t i = begin; i < end; ++i) {
      models::Encoding e = tokenizer.encode_for_model(captions[i], length);
      ids.push_back(torch::tensor(e.input_ids, torch::kLong));
      masks.push_back(torch::tensor(e.attention_mask, torch::kLong));
    }
    parts.push_back(model.encode_text(torch::stack(ids).to(device), torch::stack(masks).to(device)).cpu());
  }
  return torch::cat(parts).to(torch::kFloat32);
}

RetrievalReport evaluate_retrieval(models::VLModelImpl& model, const models::Tokenizer& tokenizer,
                                   const Dataset& dataset, const ClipSampler& sampler, const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  model.eval();
  LoaderConfig config;
  config.batch_size = static_cast<int>(options.batch_size);
  config.workers = options.workers;
  config.shuffle = false;
  // Evaluation never fails on unreadable clips: they are reported and left out.
  config.max_skip_rate = 1.0;
  ClipLoader loader(dataset, sampler, tokenizer, static_cast<int>(model.config().max_text_len), config, 0, 0, 1,
                    /*train=*/false);
  const int64_t total = static_cast<int64_t>(dataset.clips.size());
  std::vector<at::Tensor> video_parts;
  std::vector<int64_t> kept;  // dataset index of each encoded clip
  while (std::optional<Batch> batch = loader.next()) {
    video_parts.push_back(
        model.encode_video(batch->keyframes.to(options.device), batch->neighbours.to(options.device)).cpu());
    kept.insert(kept.end(), batch->clip_indices.begin(), batch->clip_indices.end());
    if (options.progress) {
      options.progress(int64_t(kept.size()), total,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  if (kept.empty()) throw core::Error(fmt::format("{}: no clip could be read", dataset.root.string()));
  at::Tensor videos = torch::cat(video_parts);

  // Every caption of every kept clip is a query.
  std::vector<int64_t> text_clip;
  std::vector<std::string> captions;
  for (size_t k = 0; k < kept.size(); ++k) {
    for (const std::string& text : dataset.clips[size_t(kept[k])].texts) {
      captions.push_back(text);
      text_clip.push_back(int64_t(k));
    }
  }
  at::Tensor texts = encode_captions(model, tokenizer, captions, options.batch_size, options.device);
  at::Tensor similarity = torch::matmul(texts, videos.to(torch::kFloat32).t());

  RetrievalReport report;
  std::tie(report.text_to_video, report.video_to_text) = retrieval_scores(similarity, text_clip);
  std::vector<core::Json> labels;
  bool any_labels = false;
  for (int64_t index : kept) {
    labels.push_back(dataset.clips[size_t(index)].labels);
    any_labels = any_labels || labels.back().is_object();
  }
  if (any_labels) {
    at::Tensor top = similarity.argmax(1);
    std::vector<int64_t> top_clip(top.data_ptr<int64_t>(), top.data_ptr<int64_t>() + top.numel());
    report.attributes = attribute_scores(labels, text_clip, top_clip);
    std::vector<std::string> first_captions;
    for (int64_t index : kept) {
      const auto& texts = dataset.clips[size_t(index)].texts;
      first_captions.push_back(texts.empty() ? std::string() : texts.front());
    }
    report.probes = attribute_probes(model, tokenizer, videos, first_captions, labels, options.batch_size, options.device);
  }
  report.clips = int64_t(kept.size());
  report.texts = int64_t(captions.size());
  report.skipped = loader.stats().skipped;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace hdv::train
