// fid: Fréchet Inception Distance (and KID) on the standard scale, with FID-Inception and
// its real TF weights (models/inception), or with the Fashion-MNIST classifier
// (--features fmnist, models/classifier).
//
//   fid stats INPUT -o stats.npz          feature statistics in pytorch-fid's .npz format
//   fid distance A B                      FID (and KID when both are image inputs)
//
// INPUT is one of
//   DATASET:SPLIT       fashion-mnist:test, mnist:train, cifar10:test (--data DIR for another
//   place) a folder            PNG/JPEG files of one size and channel count (sorted by name)
//   FILE.npy / .npz     an image array: uint8 0..255 or float in [0, 1]; [N, H, W], [N, C, H, W]
//                       or [N, H, W, C] with C = 1 or 3 (an .npz: the member 'images', else the
//                       only one)
//   FLOW.safetensors    a train_flow checkpoint: --count samples (default 10000) are generated
//                       in-process with the autoencoder --ae, as `sample` does
// and for `distance` also a statistics .npz (members mu, sigma; e.g. written by pytorch-fid).
// Statistics files carry metadata naming the extractor, its weights' sha256 and the
// preprocessing; `distance` refuses to compare files whose extractors differ.
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/common/autoencoder_io.h"
#include "apps/common/flow_io.h"
#include "apps/common/main.h"
#include "apps/common/progress.h"
#include "apps/common/training.h"
#include "data/image_folder.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "models/classifier/fmnist_classifier.h"
#include "models/inception/feature_extractor.h"
#include "models/inception/preprocess.h"
#include "models/inception/weights.h"
#include "models/metrics/feature_stats.h"
#include "models/metrics/frechet_distance.h"
#include "models/metrics/kernel_inception_distance.h"
#include "models/metrics/npy_format.h"
#include "models/metrics/statistics_file.h"
#include "models/metrics/zip_archive.h"
#include "ops/ops.h"

namespace kite {
namespace {

using nlohmann::json;

// --- Where images come from -------------------------------------------------------------------

// A sequence of images read in batches, so that only one batch is ever converted to a tensor.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  virtual int64_t count() const = 0;
  // Images [start, start + n) as [n, C, H, W], uint8 or float in [0, 1], on the CPU or a device.
  virtual Tensor batch(int64_t start, int64_t n) = 0;
  virtual std::string description() const = 0;
};

// A data::ImageSet already in memory (a folder or a data set split).
class ImageSetSource final : public ImageSource {
 public:
  ImageSetSource(std::shared_ptr<const data::ImageSet> set, std::string description, int64_t limit)
      : set_(std::move(set)), description_(std::move(description)) {
    count_ = limit > 0 ? std::min(limit, set_->n) : set_->n;
  }
  int64_t count() const override { return count_; }
  Tensor batch(int64_t start, int64_t n) override {
    Tensor out = Tensor::empty({n, set_->c, set_->h, set_->w}, DType::UInt8);
    std::memcpy(out.data_ptr<uint8_t>(), set_->image(start), n * set_->image_bytes());
    return out;
  }
  std::string description() const override { return description_; }

 private:
  std::shared_ptr<const data::ImageSet> set_;
  std::string description_;
  int64_t count_;
};

// An image array from a .npy file or an .npz member, converted a batch at a time.
class NpySource final : public ImageSource {
 public:
  NpySource(metrics::NpyArray array, std::string description, int64_t limit)
      : array_(std::move(array)), description_(std::move(description)) {
    const auto& s = array_.shape;
    const std::string& d = array_.descr;
    KITE_CHECK(
        d == "|u1" || d == "<f4" || d == "<f8",
        description_ << ": image arrays must be uint8, float32 or float64 (little-endian), got '"
                     << d << "'");
    KITE_CHECK(!array_.fortran_order, description_ << ": Fortran-order arrays are not supported");
    if (s.size() == 3) {
      n_ = s[0], c_ = 1, h_ = s[1], w_ = s[2];
    } else if (s.size() == 4 && (s[1] == 1 || s[1] == 3)) {
      n_ = s[0], c_ = s[1], h_ = s[2], w_ = s[3];
    } else if (s.size() == 4 && (s[3] == 1 || s[3] == 3)) {
      n_ = s[0], h_ = s[1], w_ = s[2], c_ = s[3], channels_last_ = true;
    } else {
      KITE_FAIL(description_
                << ": expected images [N, H, W], [N, C, H, W] or [N, H, W, C] with C = 1 or 3");
    }
    if (limit > 0) n_ = std::min(n_, limit);
  }
  int64_t count() const override { return n_; }
  Tensor batch(int64_t start, int64_t n) override {
    const DType dtype = array_.descr == "|u1"   ? DType::UInt8
                        : array_.descr == "<f4" ? DType::Float32
                                                : DType::Float64;
    const int64_t item = array_.descr == "|u1" ? 1 : array_.descr == "<f4" ? 4 : 8;
    const int64_t per_image = c_ * h_ * w_;
    Tensor raw = channels_last_ ? Tensor::empty({n, h_, w_, c_}, dtype)
                                : Tensor::empty({n, c_, h_, w_}, dtype);
    std::memcpy(raw.raw_data(), array_.data.data() + start * per_image * item,
                n * per_image * item);
    return channels_last_ ? contiguous(permute(raw, {0, 3, 1, 2})) : raw;
  }
  std::string description() const override { return description_; }

 private:
  metrics::NpyArray array_;
  std::string description_;
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0;
  bool channels_last_ = false;
};

// Samples of the decoupled VAE (flow prior -> autoencoder decoder), made batch by batch in
// the order `sample` makes them for the same seed and batch size.
class GeneratedSource final : public ImageSource {
 public:
  struct Options {
    std::string flow_path, ae_path;
    int64_t count = 10000;
    double temperature = 1.0;
    uint64_t seed = 0;
    Device device;
  };
  explicit GeneratedSource(const Options& o)
      : options_(o),
        ae_(apps::load_autoencoder(o.ae_path, o.device)),
        flow_(apps::load_flow(o.flow_path, o.device)),
        generator_(o.seed) {
    KITE_CHECK(flow_.model->config().dim == ae_.model->config().latent_dim,
               "fid: the flow " << o.flow_path << " models " << flow_.model->config().dim
                                << "-d codes but the autoencoder's are "
                                << ae_.model->config().latent_dim << "-d");
  }
  int64_t count() const override { return options_.count; }
  Tensor batch(int64_t, int64_t n) override {  // called with consecutive ranges
    NoGradGuard no_grad;
    Tensor codes =
        flow_.standardizer.inverse(flow_.model->sample(n, &generator_, options_.temperature));
    return clamp(to_dtype(ae_.model->decode(to_dtype(codes, DType::Float32)), DType::Float32), 0.0,
                 1.0);
  }
  std::string description() const override {
    return "samples of " + options_.flow_path + " + " + options_.ae_path + " (seed " +
           std::to_string(options_.seed) + ", temperature " + std::to_string(options_.temperature) +
           ")";
  }

 private:
  Options options_;
  apps::LoadedAutoencoder ae_;
  apps::LoadedFlow flow_;
  Generator generator_;
};

// --- Feature extractors -----------------------------------------------------------------------

// The Fashion-MNIST classifier's penultimate features (FID-FMNIST) behind the same interface.
class FmnistExtractor final : public inception::FeatureExtractor {
 public:
  FmnistExtractor(const std::string& path, Device device)
      : loaded_(classifier::load_fmnist_classifier(path, device)), device_(device) {}
  std::string name() const override { return "fmnist-classifier"; }
  int64_t dim() const override { return classifier::kFmnistFeatureDim; }
  std::string version() const override { return loaded_.version; }
  Tensor features(const Tensor& images) override {
    KITE_CHECK(
        images.dim() == 4 && images.size(1) == 1 && images.size(2) == 28 && images.size(3) == 28,
        "fid --features fmnist: the classifier takes 1 x 28 x 28 images, got " << describe(images));
    NoGradGuard no_grad;
    Tensor x = images.dtype() == DType::UInt8 ? to_dtype(images, DType::Float32) / 255.0
                                              : to_dtype(images, DType::Float32);
    return contiguous(to_device(loaded_.model->features(to_device(x, device_)), Device::cpu()));
  }

 private:
  classifier::LoadedClassifier loaded_;
  Device device_;
};

struct Settings {
  std::string features = "inception";
  std::string weights;  // inception: converted weights (default: the cache)
  std::string classifier = "runs/classifier/fmnist_classifier.safetensors";
  std::string data_dir;  // for DATASET:SPLIT inputs
  std::string ae_path = "runs/ae/last.safetensors";
  int64_t count = 10000;  // samples generated from a flow checkpoint
  int64_t limit = 0;      // use only the first N images of an input (0 = all)
  double temperature = 1.0;
  uint64_t seed = 0;
  int64_t batch = 50;
  std::string device_text = "cpu";
  int threads = 0;
  size_t kid_subsets = 100, kid_subset_size = 1000;
  bool allow_mismatch = false;
  std::string json_out;
};

std::unique_ptr<inception::FeatureExtractor> make_extractor(const Settings& s, Device device) {
  if (s.features == "fmnist") return std::make_unique<FmnistExtractor>(s.classifier, device);
  return inception::make_inception_extractor(
      s.weights.empty() ? inception::default_weights_path() : s.weights, device);
}

// --- Inputs -----------------------------------------------------------------------------------

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  KITE_CHECK(f, "fid: cannot open " << path << ": " << std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, f)) > 0)
    bytes.insert(bytes.end(), buffer, buffer + got);
  std::fclose(f);
  return bytes;
}

// A statistics file: an .npz with members mu and sigma.
bool is_statistics_file(const std::string& path) {
  if (!ends_with(path, ".npz") || !std::filesystem::is_regular_file(path)) return false;
  bool mu = false, sigma = false;
  for (const auto& e : metrics::parse_zip(read_bytes(path), path)) {
    mu = mu || e.name == "mu.npy";
    sigma = sigma || e.name == "sigma.npy";
  }
  return mu && sigma;
}

std::unique_ptr<ImageSource> open_input(const std::string& input, const Settings& s,
                                        Device device) {
  if (const auto colon = input.find(':');
      colon != std::string::npos && !std::filesystem::exists(input)) {
    apps::DatasetFlags flags;
    flags.name = input.substr(0, colon);
    const std::string split = input.substr(colon + 1);
    KITE_CHECK(flags.name != "folder" && flags.name != "shapes" &&
                   std::find(apps::dataset_names().begin(), apps::dataset_names().end(),
                             flags.name) != apps::dataset_names().end() &&
                   (split == "train" || split == "test"),
               "fid: input '" << input
                              << "' is not a path, and not DATASET:SPLIT with DATASET one of "
                              << "fashion-mnist, mnist, cifar10 and SPLIT train or test");
    flags.path = s.data_dir;
    apps::Datasets sets = apps::load_datasets(flags);
    return std::make_unique<ImageSetSource>(split == "train" ? sets.train : sets.test,
                                            input + " (" + sets.source + ")", s.limit);
  }
  KITE_CHECK(std::filesystem::exists(input), "fid: input " << input << " does not exist");
  if (std::filesystem::is_directory(input)) {
    auto set = std::make_shared<const data::ImageSet>(data::load_image_folder(input));
    return std::make_unique<ImageSetSource>(set, input, s.limit);
  }
  if (ends_with(input, ".npy"))
    return std::make_unique<NpySource>(metrics::decode_npy(read_bytes(input), input), input,
                                       s.limit);
  if (ends_with(input, ".npz")) {
    const auto entries = metrics::parse_zip(read_bytes(input), input);
    const metrics::ZipEntry* chosen = nullptr;
    for (const auto& e : entries)
      if (e.name == "images.npy") chosen = &e;
    if (!chosen && entries.size() == 1) chosen = &entries[0];
    KITE_CHECK(chosen, "fid: " << input << " holds " << entries.size()
                               << " arrays and none is named 'images'");
    const std::string where = input + ": " + chosen->name;
    return std::make_unique<NpySource>(metrics::decode_npy(chosen->data, where), where, s.limit);
  }
  if (ends_with(input, ".safetensors")) {
    GeneratedSource::Options o{.flow_path = input,
                               .ae_path = s.ae_path,
                               .count = s.count,
                               .temperature = s.temperature,
                               .seed = s.seed,
                               .device = device};
    return std::make_unique<GeneratedSource>(o);
  }
  KITE_FAIL("fid: cannot tell what "
            << input
            << " is: expected a folder, .npy, .npz, a train_flow .safetensors "
               "checkpoint or DATASET:SPLIT");
}

// --- Features and statistics ------------------------------------------------------------------

struct Measured {
  metrics::GaussianStatistics statistics;
  json meta;                    // what statistics files record
  std::vector<float> features;  // every row, when asked to keep them (for KID)
  int64_t count = 0;
};

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

Measured measure(ImageSource& source, inception::FeatureExtractor& extractor, const Settings& s,
                 bool keep_features) {
  const int64_t total = source.count();
  KITE_CHECK(total >= 2, "fid: " << source.description() << " has " << total
                                 << " images; statistics need at least 2");
  Measured m;
  metrics::FeatureStats stats(static_cast<size_t>(extractor.dim()));
  apps::ProgressBar bar("features", total, "img");
  const double cpu0 = cpu_seconds();
  for (int64_t start = 0; start < total; start += s.batch) {
    const int64_t n = std::min(s.batch, total - start);
    const Tensor f = extractor.features(source.batch(start, n));
    stats.add(f.data_ptr<float>(), static_cast<size_t>(n), static_cast<size_t>(extractor.dim()));
    if (keep_features)
      m.features.insert(m.features.end(), f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
    bar.update(n);
  }
  bar.finish();
  const double seconds = bar.elapsed_seconds();
  std::fprintf(stderr, "%s: %lld images in %.1f s (%.2f images/s, %.1f CPU s)\n",
               source.description().c_str(), static_cast<long long>(total), seconds,
               total / std::max(seconds, 1e-9), cpu_seconds() - cpu0);
  m.statistics = stats.statistics();
  m.count = total;
  m.meta = {{"format", "kite-fid-statistics"},
            {"extractor", extractor.name()},
            {"extractor_version", extractor.version()},
            {"feature_dim", extractor.dim()},
            {"count", total},
            {"input", source.description()}};
  if (s.features == "inception") {
    m.meta["weights_sha256"] = inception::kWeightsSourceSha256;
    m.meta["preprocessing"] = inception::kPreprocessing;
  }
  return m;
}

// A side of `distance`: statistics read from a file, or measured from an input.
Measured load_or_measure(const std::string& input, const Settings& s, Device device,
                         std::unique_ptr<inception::FeatureExtractor>& extractor) {
  if (is_statistics_file(input)) {
    Measured m;
    m.meta = json::object();
    std::string meta_text;
    m.statistics = metrics::load_statistics_npz(input, &meta_text);
    if (!meta_text.empty()) {
      try {
        m.meta = json::parse(meta_text);
      } catch (const json::exception&) {
        m.meta = {{"note", meta_text}};
      }
    }
    m.count = m.meta.value("count", int64_t{0});
    return m;
  }
  if (!extractor) extractor = make_extractor(s, device);
  auto source = open_input(input, s, device);
  return measure(*source, *extractor, s, /*keep_features=*/true);
}

void check_comparable(const Measured& a, const Measured& b, const std::string& name_a,
                      const std::string& name_b, bool allow_mismatch) {
  KITE_CHECK(a.statistics.mean.size() == b.statistics.mean.size(),
             "fid distance: " << name_a << " has " << a.statistics.mean.size() << "-d features but "
                              << name_b << " has " << b.statistics.mean.size() << "-d");
  const bool a_known = a.meta.contains("extractor_version"),
             b_known = b.meta.contains("extractor_version");
  if (a_known && b_known) {
    const bool same = a.meta["extractor"] == b.meta["extractor"] &&
                      a.meta["extractor_version"] == b.meta["extractor_version"];
    if (!same) {
      const std::string msg = "fid distance: the two sides were measured differently:\n  " +
                              name_a + ": " + a.meta["extractor"].dump() + " " +
                              a.meta["extractor_version"].dump() + "\n  " + name_b + ": " +
                              b.meta["extractor"].dump() + " " + b.meta["extractor_version"].dump();
      KITE_CHECK(allow_mismatch, msg << "\n(--allow-mismatch computes the number anyway)");
      std::fprintf(stderr, "warning: %s\n", msg.c_str());
    }
  } else {
    std::fprintf(
        stderr,
        "warning: %s has no kite metadata (e.g. written by pytorch-fid); comparable only if it "
        "used the same network and preprocessing\n",
        (a_known ? name_b : name_a).c_str());
  }
  if (a.count > 0 && b.count > 0 && a.count != b.count)
    std::fprintf(
        stderr,
        "warning: %lld vs %lld samples; FID is biased by the sample count, compare numbers "
        "made with equal counts\n",
        static_cast<long long>(a.count), static_cast<long long>(b.count));
}

void write_json(const std::string& path, const json& j) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  KITE_CHECK(f, "fid: cannot write " << tmp << ": " << std::strerror(errno));
  const std::string text = j.dump(2) + "\n";
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  KITE_CHECK(std::fclose(f) == 0 && ok, "fid: cannot write " << tmp);
  std::filesystem::rename(tmp, path);
}

}  // namespace
}  // namespace kite

int main(int argc, char** argv) {
  using namespace kite;
  CLI::App app{
      "FID and KID on the standard scale (FID-Inception, TF 2015-12-05 weights) or with "
      "the Fashion-MNIST classifier"};
  app.name("fid");
  app.require_subcommand(1);
  Settings s;
  std::string stats_input, stats_out, a_input, b_input;

  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--features", s.features,
                    "Feature extractor: inception (2048-d) or fmnist (128-d)")
        ->check(CLI::IsMember({"inception", "fmnist"}))
        ->capture_default_str();
    sub->add_option(
        "--weights", s.weights,
        "Converted FID-Inception weights (default: " + inception::default_weights_path() + ")");
    sub->add_option("--classifier", s.classifier,
                    "--features fmnist: the classifier's weights file")
        ->capture_default_str();
    sub->add_option("--data", s.data_dir, "For DATASET:SPLIT inputs: the data set's folder");
    sub->add_option("--ae", s.ae_path, "For a flow checkpoint input: the train_ae checkpoint")
        ->capture_default_str();
    sub->add_option("--count", s.count, "For a flow checkpoint input: samples to generate")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->add_option("--temperature", s.temperature,
                    "For a flow checkpoint input: base sample scale");
    sub->add_option("--seed", s.seed, "Sampling seed (flow inputs) and KID subset seed");
    sub->add_option("--limit", s.limit, "Use only the first N images of each input (0: all)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--batch", s.batch, "Images per forward pass")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->add_option("--threads", s.threads, "CPU threads (0: OpenMP's default)");
    apps::add_device_flag(*sub, s.device_text);
  };

  CLI::App* stats =
      app.add_subcommand("stats", "Feature statistics of INPUT, saved as a pytorch-fid .npz");
  stats
      ->add_option("input", stats_input,
                   "Folder, .npy/.npz of images, DATASET:SPLIT or flow checkpoint")
      ->required();
  stats->add_option("-o,--out", stats_out, "Statistics file to write (.npz)")->required();
  add_common(stats);

  CLI::App* distance = app.add_subcommand("distance", "FID (and KID) between A and B");
  distance->add_option("a", a_input, "Statistics .npz or an input as for `stats`")->required();
  distance->add_option("b", b_input, "Statistics .npz or an input as for `stats`")->required();
  distance->add_option("--kid-subsets", s.kid_subsets, "KID: number of random subsets")
      ->capture_default_str();
  distance->add_option("--kid-subset-size", s.kid_subset_size, "KID: rows per subset")
      ->capture_default_str();
  distance->add_flag("--allow-mismatch", s.allow_mismatch,
                     "Compare statistics made by different extractors");
  distance->add_option("--json", s.json_out, "Also write the results to this JSON file");
  add_common(distance);

  return apps::run_main(app, argc, argv, [&] {
    apps::configure_threads(s.threads);
    const Device device = apps::resolve_device(s.device_text);
    std::unique_ptr<inception::FeatureExtractor> extractor;
    if (stats->parsed()) {
      extractor = make_extractor(s, device);
      auto source = open_input(stats_input, s, device);
      const Measured m = measure(*source, *extractor, s, /*keep_features=*/false);
      metrics::save_statistics_npz(stats_out, m.statistics, m.meta.dump());
      std::printf("wrote %s: %lld images, %lld-d %s features\n", stats_out.c_str(),
                  static_cast<long long>(m.count), static_cast<long long>(extractor->dim()),
                  extractor->name().c_str());
      return 0;
    }
    const Measured a = load_or_measure(a_input, s, device, extractor);
    const Measured b = load_or_measure(b_input, s, device, extractor);
    check_comparable(a, b, a_input, b_input, s.allow_mismatch);
    const metrics::FrechetTerms terms = metrics::frechet_terms(a.statistics, b.statistics);
    const double fid = terms.distance();
    json result = {{"fid", fid},
                   {"fid_mean_term", terms.mean_term},
                   {"fid_covariance_term", terms.covariance_term},
                   {"spread_a", terms.spread1},
                   {"spread_b", terms.spread2},
                   {"a", a.meta},
                   {"b", b.meta}};
    std::printf("FID %.6f\n", fid);
    std::printf(
        "  = mean term %.4f + covariance term %.4f; spread (total variance) a %.4f, b %.4f "
        "(ratio %.4f)\n",
        terms.mean_term, terms.covariance_term, terms.spread1, terms.spread2,
        terms.spread1 / terms.spread2);
    if (!a.features.empty() && !b.features.empty()) {
      const size_t d = a.statistics.mean.size();
      const metrics::KidResult kid = metrics::kernel_inception_distance(
          a.features.data(), a.features.size() / d, b.features.data(), b.features.size() / d, d,
          {.subsets = s.kid_subsets, .subset_size = s.kid_subset_size, .seed = s.seed});
      std::printf("KID %.6f +- %.6f (%zu subsets of %zu)\n", kid.mean, kid.std, kid.subsets,
                  kid.subset_size);
      result["kid"] = {{"mean", kid.mean},
                       {"std", kid.std},
                       {"subsets", kid.subsets},
                       {"subset_size", kid.subset_size}};
    } else {
      std::printf(
          "KID not computed: it needs the features, and a statistics file holds only mu and "
          "sigma\n");
    }
    if (!s.json_out.empty()) write_json(s.json_out, result);
    return 0;
  });
}
