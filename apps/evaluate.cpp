// evaluate: every metric that applies to a trained model, into one metrics.json.
//
//   evaluate --checkpoint runs/ae/last.safetensors --flow runs/flow/best.safetensors
//            --classifier runs/classifier/fmnist_classifier.safetensors --out runs/eval/ours
//   evaluate --checkpoint runs/ae/last.safetensors --gmm runs/gmm/gmm.safetensors ...
//   evaluate --checkpoint runs/ae/last.safetensors --prior gaussian ...   (fitted to the codes)
//   evaluate --checkpoint runs/vae/last.safetensors ...                  (train_vae)
//   evaluate --checkpoint runs/two_stage/last.safetensors ...            (train_two_stage)
//   evaluate --reference --classifier ... --out runs/eval/reference      (the floor and ceiling)
//
// Metrics (each only where it applies):
//   test_mse, test_sse_per_image      reconstruction of the test set (VAEs: from the
//                                     posterior mean)
//   fid_fmnist                        Frechet distance in the classifier's 128-d features
//                                     between --samples generated images (clamped to [0, 1])
//                                     and the test set; extractor_version names the weights
//                                     (compare only equal ones)
//   fid_fmnist_vs_train               the same against as many training images (to tune
//                                     --temperature on without the test set)
//   fid_fmnist_mean_term, ...         that distance split: squared distance of the feature
//   sample_feature_spread_ratio       means + the covariance term; the samples' total feature
//                                     variance over the test images' (< 1: too little variety;
//                                     reconstruction_feature_spread_ratio: the same for the floor)
//   sample_top_probability,           the FID classifier's verdict on the samples (and on the
//   sample_ambiguous_fraction, ...    test images): mean top softmax probability, share below
//                                     0.5 (blends of classes), predicted-class mix
//   fid_fmnist_reconstructions,       the same for the test set's reconstructions: the
//   reconstruction_ambiguous_fraction decoder's floor, what a prior as good as the encoder's
//                                     codes would score
//   latent_nll_per_dim                exact NLL of the test codes under the prior (flow, GMM,
//                                     Gaussian, N(0, I) on standardised codes), nats per dimension
//                                     of the raw codes
//   mig_*                             MIG on 10,000 synthetic shapes (models trained on
//                                     --dataset shapes): the codes z, the flow's z', VAE means
// The reference mode computes FID of 10,000 training images (the floor: what a perfect
// generator scores at this sample size) and of uniform noise (a ceiling) against the test set.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "apps/common/autoencoder_io.h"
#include "apps/common/flow_io.h"
#include "apps/common/main.h"
#include "apps/common/metrics_log.h"
#include "apps/common/progress.h"
#include "apps/common/training.h"
#include "apps/common/vae_io.h"
#include "data/image_grid.h"
#include "data/loader.h"
#include "data/shapes.h"
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "engine/checkpoint.h"
#include "models/classifier/fmnist_classifier.h"
#include "models/flow/evaluate.h"
#include "models/metrics/class_confidence.h"
#include "models/metrics/feature_stats.h"
#include "models/metrics/frechet_distance.h"
#include "models/metrics/mig.h"
#include "models/metrics/npy_format.h"
#include "models/metrics/statistics_file.h"
#include "models/nn/precise_batchnorm.h"
#include "models/prior/gaussian.h"
#include "models/prior/gmm.h"
#include "models/prior/standardizer.h"
#include "ops/ops.h"

namespace {

using namespace kite;

struct Flags {
  std::string checkpoint, flow, gmm, prior, codes, classifier, out = "runs/eval", name;
  std::string device = "cpu";
  int64_t samples = 10000, batch = 500, mig_samples = 10000, save_samples = 0, precise_bn = 0;
  double temperature = 1.0;
  uint64_t seed = 0;
  int threads = 0;
  bool reference = false, mig = false;
  apps::DatasetFlags dataset;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What the FID classifier makes of a stream of images: the statistics of its features (for
// FID-FMNIST) and its predictions (blends, class mix). Images are clamped to [0, 1] first, as
// a saved image would be.
struct ClassifierTally {
  metrics::FeatureStats features;
  metrics::ClassConfidence confidence{classifier::kFmnistClasses};

  void add(classifier::FmnistClassifier& extractor, const Tensor& images, Device device) {
    NoGradGuard no_grad;
    Tensor f = extractor.features(clamp(to_device(images, device), 0.0, 1.0));
    Tensor f_cpu = contiguous(to_device(f, Device::cpu()));
    features.add(f_cpu.data_ptr<float>(), static_cast<size_t>(f_cpu.size(0)),
                 static_cast<size_t>(f_cpu.size(1)));
    Tensor logits = contiguous(to_device(extractor.logits(f), Device::cpu()));
    confidence.add(logits.data_ptr<float>(), logits.size(0));
  }
};

// The tally of `count` images produced batch by batch. With `keep_first`, the first `keep`
// of them (clamped, on the CPU) are appended to it.
ClassifierTally tally_images(classifier::FmnistClassifier& extractor, int64_t count, int64_t batch,
                             Device device,
                             const std::function<Tensor(int64_t first, int64_t n)>& images,
                             const std::string& label, std::vector<float>* keep_first = nullptr,
                             int64_t keep = 0) {
  NoGradGuard no_grad;
  ClassifierTally tally;
  apps::ProgressBar bar(label, count, "img");
  for (int64_t first = 0; first < count; first += batch) {
    const int64_t n = std::min(batch, count - first);
    Tensor x = images(first, n);
    if (keep_first && first < keep) {
      Tensor cpu = contiguous(
          to_device(clamp(narrow(x, 0, 0, std::min(n, keep - first)), 0.0, 1.0), Device::cpu()));
      keep_first->insert(keep_first->end(), cpu.data_ptr<float>(),
                         cpu.data_ptr<float>() + cpu.numel());
    }
    tally.add(extractor, x, device);
    bar.update(n);
  }
  bar.finish();
  return tally;
}

std::function<Tensor(int64_t, int64_t)> from_set(const data::ImageSet& set) {
  return [&set](int64_t first, int64_t n) { return data::images_to_tensor(set, first, n); };
}

// Recomputes the model's BatchNorm statistics over the first `batches` training batches of
// `batch` images (nn::recompute_batch_norm_statistics), each sent through `run`; returns the
// number of batches used.
int64_t precise_batch_norm(nn::Module& model, const data::ImageSet& train, int64_t batches,
                           int64_t batch, Device device,
                           const std::function<void(const Tensor&)>& run) {
  batches = std::min(batches, train.n / batch);
  KITE_CHECK(batches > 0, "evaluate: --precise-bn needs at least " << batch << " training images");
  const int layers = nn::recompute_batch_norm_statistics(model, batches, [&](int64_t i) {
    run(to_device(data::images_to_tensor(train, i * batch, batch), device));
  });
  std::printf("precise BatchNorm: %d layers, statistics of %lld training batches of %lld\n", layers,
              static_cast<long long>(batches), static_cast<long long>(batch));
  return batches;
}

struct Evaluation {
  nlohmann::json metrics = nlohmann::json::object();
  std::function<Tensor(const Tensor&)> reconstruct;     // images -> images
  std::function<Tensor(int64_t, Generator*)> generate;  // n -> images
  std::function<Tensor(const Tensor&)> mig_codes;       // images -> codes (float32)
  std::function<Tensor(const Tensor&)> mig_codes_flow;  // images -> z' (optional)
};

Tensor load_codes(const std::string& path, const std::string& name) {
  Checkpoint file = load_checkpoint(path);
  auto it = file.tensors.find(name);
  KITE_CHECK(it != file.tensors.end(),
             path << ": no tensor '" << name << "' (expected `encode` output)");
  return it->second;
}

// Images in [0, 1] as a uint8 .npy [n, c, h, w] (rounded), the input `fid stats` takes.
void write_uint8_images(const std::string& path, const std::vector<float>& images, int64_t n,
                        int64_t c, int64_t h, int64_t w) {
  metrics::NpyArray array;
  array.descr = "|u1";
  array.shape = {static_cast<size_t>(n), static_cast<size_t>(c), static_cast<size_t>(h),
                 static_cast<size_t>(w)};
  array.data.resize(array.element_count());
  for (size_t i = 0; i < array.data.size(); ++i)
    array.data[i] = static_cast<uint8_t>(std::lround(std::clamp(images[i], 0.0f, 1.0f) * 255.0f));
  const std::vector<uint8_t> bytes = metrics::encode_npy(array);
  write_file_atomically(path, bytes.data(), bytes.size());
}

// The classifier's view of the samples next to its view of the test images (see
// models/metrics/class_confidence.h): blends lower the top probability, a skewed mix of
// classes raises the total variation.
void record_confidence(nlohmann::json& metrics, const metrics::ClassConfidence& samples,
                       const metrics::ClassConfidence& test, const std::string& what = "sample") {
  constexpr double kAmbiguous = 0.5;  // top class probability below this: a blend
  metrics[what + "_top_probability"] = samples.mean_top_probability();
  metrics[what + "_ambiguous_fraction"] = samples.fraction_below(kAmbiguous);
  metrics[what + "_class_frequencies"] = samples.class_frequencies();
  metrics[what + "_class_total_variation"] = samples.class_total_variation(test);
  metrics["test_top_probability"] = test.mean_top_probability();
  metrics["test_ambiguous_fraction"] = test.fraction_below(kAmbiguous);
  std::printf(
      "classifier on the %s images: mean top probability %.4f (test images %.4f); top "
      "probability < %.1f for %.2f%% (test %.2f%%); class mix %.4f from the test set's (total "
      "variation)\n",
      what.c_str(), samples.mean_top_probability(), test.mean_top_probability(), kAmbiguous,
      100 * samples.fraction_below(kAmbiguous), 100 * test.fraction_below(kAmbiguous),
      samples.class_total_variation(test));
}

double mean_of(const Tensor& t) { return mean(to_dtype(t, DType::Float64)).item<double>(); }

int run_reference(const Flags& flags, classifier::LoadedClassifier& extractor, Device device) {
  apps::DatasetFlags dataset = flags.dataset;
  const apps::Datasets sets = apps::load_datasets(dataset);
  const int64_t n = std::min<int64_t>(flags.samples, sets.train->n);
  const ClassifierTally test = tally_images(*extractor.model, sets.test->n, flags.batch, device,
                                            from_set(*sets.test), "test features");
  const ClassifierTally train = tally_images(*extractor.model, n, flags.batch, device,
                                             from_set(*sets.train), "train features");
  Generator generator(flags.seed);
  const ClassifierTally noise = tally_images(
      *extractor.model, n, flags.batch, device,
      [&](int64_t, int64_t count) {
        return rand({count, sets.test->c, sets.test->h, sets.test->w}, DType::Float32,
                    Device::cpu(), &generator);
      },
      "noise features");
  const double floor =
      metrics::frechet_distance(train.features.statistics(), test.features.statistics());
  const double ceiling =
      metrics::frechet_distance(noise.features.statistics(), test.features.statistics());
  nlohmann::json metrics = {{"fid_fmnist_train_vs_test", floor},
                            {"fid_fmnist_noise_vs_test", ceiling},
                            {"samples", n},
                            {"test_images", sets.test->n},
                            {"extractor_version", extractor.version}};
  record_confidence(metrics, train.confidence, test.confidence, "train");
  std::filesystem::create_directories(flags.out);
  apps::write_json_file(flags.out + "/metrics.json", metrics);
  std::printf(
      "FID-FMNIST: train (%lld) vs test %.3f (floor) | uniform noise vs test %.3f (ceiling)\n",
      static_cast<long long>(n), floor, ceiling);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Evaluate a trained model: reconstruction, FID-FMNIST, latent NLL, MIG"};
  app.name("evaluate");
  Flags flags;
  app.add_option("--checkpoint", flags.checkpoint,
                 "A train_ae, train_vae or train_two_stage checkpoint");
  app.add_option("--flow", flags.flow, "Autoencoder prior: a train_flow checkpoint");
  app.add_option("--gmm", flags.gmm, "Autoencoder prior: a fit_gmm file (gmm.safetensors)");
  app.add_option("--prior", flags.prior,
                 "Autoencoder prior without a file: gaussian (full, fitted to the codes) or "
                 "normal (N(0, I) on standardised codes)")
      ->check(CLI::IsMember({"gaussian", "normal"}));
  app.add_option("--codes", flags.codes, "The autoencoder's codes (`encode`), else computed");
  app.add_option("--classifier", flags.classifier, "train_classifier weights: enables FID-FMNIST");
  app.add_option("--samples", flags.samples, "Generated images for FID")->capture_default_str();
  app.add_option("--save-samples", flags.save_samples,
                 "Also write the first N samples to samples.npy (uint8, for `fid stats`)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--temperature", flags.temperature,
                 "Scale of the noise every model samples from: the flow's or a VAE's N(0, I), "
                 "the 2-stage VAE's u, a Gaussian's or GMM component's spread (1 = the model's "
                 "density; below 1 trades diversity for typicality)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--mig-samples", flags.mig_samples, "Shapes images for MIG")
      ->capture_default_str();
  app.add_flag("--mig", flags.mig, "Compute MIG (the model must be trained on shapes)");
  app.add_flag("--reference", flags.reference, "FID floor (train vs test) and ceiling (noise)");
  app.add_option("--name", flags.name, "Row name stored in metrics.json");
  app.add_option("--out", flags.out, "Output folder (metrics.json, samples.png)")
      ->capture_default_str();
  app.add_option("--batch", flags.batch, "Images per pass")->capture_default_str();
  app.add_option("--seed", flags.seed, "Seed of the samples")->capture_default_str();
  app.add_option("--threads", flags.threads, "CPU threads (0: OpenMP's default)");
  app.add_option("--precise-bn", flags.precise_bn,
                 "Recompute BatchNorm statistics over this many training batches of 64 first "
                 "(autoencoders and VAEs; 0: use the checkpoint's). Codes from --codes were "
                 "encoded without it: let evaluate encode instead")
      ->check(CLI::NonNegativeNumber);
  apps::add_device_flag(app, flags.device);
  apps::add_dataset_flags(app, flags.dataset);

  return apps::run_main(app, argc, argv, [&] {
    apps::configure_threads(flags.threads);
    const Device device = apps::resolve_device(flags.device);
    manual_seed(flags.seed);
    std::optional<classifier::LoadedClassifier> extractor;
    if (!flags.classifier.empty())
      extractor = classifier::load_fmnist_classifier(flags.classifier, device);
    if (flags.reference) {
      KITE_CHECK(extractor, "evaluate --reference needs --classifier");
      return run_reference(flags, *extractor, device);
    }
    KITE_CHECK(!flags.checkpoint.empty(), "evaluate: give --checkpoint (or --reference)");
    const auto start = std::chrono::steady_clock::now();
    const apps::LoadedCheckpoint header = apps::read_training_checkpoint(flags.checkpoint);
    const std::string kind = header.state.kind;
    apps::DatasetFlags dataset_flags = flags.dataset;
    if (header.state.config.contains("dataset"))
      dataset_flags = apps::override_dataset_flags(
          app, apps::DatasetFlags::from_json(header.state.config["dataset"]), flags.dataset);
    const apps::Datasets sets = apps::load_datasets(dataset_flags);

    Evaluation e;
    e.metrics["kind"] = kind;
    const double temperature = flags.temperature;  // every sampler below scales its noise by it
    e.metrics["checkpoint"] = flags.checkpoint;
    std::shared_ptr<ae::Autoencoder> autoencoder;
    std::optional<apps::LoadedFlow> flow;
    std::optional<prior::Standardizer> standardizer;
    if (kind == "autoencoder") {
      autoencoder = apps::load_autoencoder(flags.checkpoint, device).model;
      if (flags.precise_bn > 0)
        e.metrics["precise_bn_batches"] =
            precise_batch_norm(*autoencoder, *sets.train, flags.precise_bn, 64, device,
                               [&](const Tensor& x) { autoencoder->forward(x); });
      e.reconstruct = [autoencoder](const Tensor& x) { return autoencoder->forward(x); };
      e.mig_codes = [autoencoder](const Tensor& x) { return autoencoder->encode(x); };
      const int used = !flags.flow.empty() + !flags.gmm.empty() + !flags.prior.empty();
      KITE_CHECK(used <= 1, "evaluate: give at most one of --flow, --gmm, --prior");
      // Codes of the training and test sets (for fitted priors and the NLL).
      Tensor train_codes, test_codes;
      if (used == 1) {
        if (!flags.codes.empty()) {
          train_codes = load_codes(flags.codes, "codes_train");
          test_codes = load_codes(flags.codes, "codes_test");
        } else {
          train_codes = apps::encode_images(*autoencoder, *sets.train, flags.batch, device);
          test_codes = apps::encode_images(*autoencoder, *sets.test, flags.batch, device);
        }
      }
      const double d = static_cast<double>(autoencoder->config().latent_dim);
      if (!flags.flow.empty()) {
        flow = apps::load_flow(flags.flow, device);
        e.metrics["prior"] = "flow";
        auto f = flow->model;
        auto s = flow->standardizer;
        const DType flow_dtype = s.mean.dtype();
        e.generate = [f, s, autoencoder, temperature](int64_t n, Generator* g) {
          return autoencoder->decode(
              to_dtype(s.inverse(f->sample(n, g, temperature)), DType::Float32));
        };
        e.mig_codes_flow = [f, s, autoencoder, flow_dtype](const Tensor& x) {
          return to_dtype(f->transform(s.forward(to_dtype(autoencoder->encode(x), flow_dtype))),
                          DType::Float32);
        };
        Tensor test_s = s.forward(to_device(to_dtype(test_codes, flow_dtype), device));
        e.metrics["latent_nll_per_dim"] =
            flow::nll_per_dim(*f, test_s) - prior::Standardizer{to_device(s.mean, Device::cpu()),
                                                                to_device(s.stddev, Device::cpu())}
                                                    .log_det() /
                                                d;
      } else if (!flags.gmm.empty()) {
        Checkpoint file = load_checkpoint(flags.gmm);
        std::map<std::string, Tensor> tensors;
        for (const auto& [name, t] : file.tensors)
          if (name.rfind("gmm.", 0) == 0) tensors[name.substr(4)] = t;
        auto gmm =
            std::make_shared<prior::GaussianMixture>(prior::GaussianMixture::from_tensors(tensors));
        e.metrics["prior"] = "gmm";
        e.metrics["gmm_components"] = gmm->components();
        e.generate = [gmm, autoencoder, device, temperature](int64_t n, Generator* g) {
          return autoencoder->decode(
              to_device(gmm->sample(n, g, DType::Float32, temperature), device));
        };
        e.metrics["latent_nll_per_dim"] = -gmm->mean_log_likelihood(test_codes) / d;
      } else if (flags.prior == "gaussian") {
        auto gaussian =
            std::make_shared<prior::FullGaussian>(prior::FullGaussian::fit(train_codes));
        e.metrics["prior"] = "gaussian";
        e.generate = [gaussian, autoencoder, device, temperature](int64_t n, Generator* g) {
          return autoencoder->decode(
              to_device(to_dtype(gaussian->sample(n, g, temperature), DType::Float32), device));
        };
        e.metrics["latent_nll_per_dim"] = -mean_of(gaussian->log_prob(test_codes)) / d;
      } else if (flags.prior == "normal") {
        standardizer = prior::Standardizer::fit(to_dtype(train_codes, DType::Float64));
        auto s = *standardizer;
        e.metrics["prior"] = "normal";
        e.generate = [s, autoencoder, device, temperature](int64_t n, Generator* g) {
          Tensor z = randn({n, s.mean.size(0)}, DType::Float64, Device::cpu(), g) * temperature;
          return autoencoder->decode(to_device(to_dtype(s.inverse(z), DType::Float32), device));
        };
        e.metrics["latent_nll_per_dim"] =
            prior::standard_normal_nll_per_dim(s.forward(to_dtype(test_codes, DType::Float64))) -
            s.log_det() / d;
      }
    } else if (kind == "vae") {
      auto model = apps::load_vae(flags.checkpoint, device).model;
      if (flags.precise_bn > 0) {
        Generator noise(flags.seed + 7);
        e.metrics["precise_bn_batches"] =
            precise_batch_norm(*model, *sets.train, flags.precise_bn, 64, device,
                               [&](const Tensor& x) { model->loss(x, &noise); });
      }
      e.metrics["gamma"] = model->gamma();
      e.metrics["beta"] = model->config().beta;
      e.reconstruct = [model](const Tensor& x) { return model->reconstruct(x); };
      e.generate = [model, temperature](int64_t n, Generator* g) {
        return model->sample(n, g, temperature);
      };
      e.mig_codes = [model](const Tensor& x) { return model->encode(x).mean; };
    } else if (kind == "two_stage_vae") {
      auto model = apps::load_two_stage_vae(flags.checkpoint, device).model;
      e.metrics["gamma"] = model->stage1->gamma();
      e.metrics["stage2_gamma"] = model->stage2->gamma();
      e.reconstruct = [model](const Tensor& x) { return model->stage1->reconstruct(x); };
      e.generate = [model, temperature](int64_t n, Generator* g) {
        return model->sample(n, g, temperature);
      };
      e.mig_codes = [model](const Tensor& x) { return model->stage1->encode(x).mean; };
    } else {
      KITE_FAIL("evaluate: " << flags.checkpoint << " is a '" << kind
                             << "' checkpoint; expected autoencoder, vae or two_stage_vae");
    }

    if (e.generate) {
      e.metrics["temperature"] = temperature;
      e.metrics["seed"] = flags.seed;  // of the samples
    }

    // FID-FMNIST needs the classifier, 28x28 grey images and a model that samples.
    const bool scores_fid = extractor && e.generate && sets.test->h == 28 && sets.test->c == 1;

    // Reconstruction. With FID, the classifier also sees each reconstruction on its way (the
    // decoder's floor below), so the test set is reconstructed once.
    std::optional<ClassifierTally> reconstructions;
    {
      NoGradGuard no_grad;
      if (scores_fid) reconstructions.emplace();
      apps::ProgressBar bar("reconstructions", sets.test->n, "img");
      auto reconstruct_and_tally = [&](const Tensor& x) {
        Tensor y = e.reconstruct(x);
        if (reconstructions) reconstructions->add(*extractor->model, y, device);
        bar.update(x.size(0));
        return y;
      };
      apps::ReconstructionError error =
          apps::reconstruction_error_of(reconstruct_and_tally, *sets.test, flags.batch, device);
      bar.finish();
      e.metrics["test_mse"] = error.mse;
      e.metrics["test_mse_clipped"] = error.mse_clipped;
      e.metrics["test_sse_per_image"] = error.sse_per_image;
      e.metrics["test_images"] = error.images;
      std::printf("test MSE %.5f per pixel (%.2f per image)\n", error.mse, error.sse_per_image);
    }

    // Samples: a grid of the first 64 and, with a classifier, FID-FMNIST.
    std::filesystem::create_directories(flags.out);
    if (e.generate) {
      Generator generator(flags.seed);
      std::vector<float> grid;  // the first `kept` samples: the grid, then samples.npy
      const int64_t shown = std::min<int64_t>(64, flags.samples);
      const int64_t kept = std::max(shown, std::min(flags.save_samples, flags.samples));
      if (scores_fid) {
        const auto fid_start = std::chrono::steady_clock::now();
        const ClassifierTally test = tally_images(*extractor->model, sets.test->n, flags.batch,
                                                  device, from_set(*sets.test), "test features");
        NoGradGuard no_grad;
        const ClassifierTally fake = tally_images(
            *extractor->model, flags.samples, flags.batch, device,
            [&](int64_t, int64_t n) { return e.generate(n, &generator); }, "samples", &grid, kept);
        record_confidence(e.metrics, fake.confidence, test.confidence);
        // The decoder's floor: the test images' own reconstructions. A prior whose samples
        // were as good as the encoder's codes would score this; the rest of the FID is the
        // prior's.
        record_confidence(e.metrics, reconstructions->confidence, test.confidence,
                          "reconstruction");
        const metrics::FrechetTerms floor = metrics::frechet_terms(
            reconstructions->features.statistics(), test.features.statistics());
        e.metrics["fid_fmnist_reconstructions"] = floor.distance();
        e.metrics["reconstruction_feature_spread_ratio"] = floor.spread1 / floor.spread2;
        std::printf(
            "FID-FMNIST of the test set's reconstructions %.3f (the decoder's floor; "
            "their features spread %.3f times as much as the test images')\n",
            floor.distance(), floor.spread1 / floor.spread2);
        // The statistics travel with the result: FID can be recomputed (or debugged) from them.
        const nlohmann::json meta = {{"extractor", extractor->version},
                                     {"checkpoint", flags.checkpoint}};
        metrics::save_statistics_npz(flags.out + "/fid_stats_samples.npz",
                                     fake.features.statistics(), meta.dump());
        metrics::save_statistics_npz(flags.out + "/fid_stats_test.npz", test.features.statistics(),
                                     meta.dump());
        metrics::save_statistics_npz(flags.out + "/fid_stats_reconstructions.npz",
                                     reconstructions->features.statistics(), meta.dump());
        double fid = NAN;
        try {
          const metrics::FrechetTerms terms =
              metrics::frechet_terms(fake.features.statistics(), test.features.statistics());
          fid = terms.distance();
          e.metrics["fid_fmnist"] = fid;
          e.metrics["fid_fmnist_mean_term"] = terms.mean_term;
          e.metrics["fid_fmnist_covariance_term"] = terms.covariance_term;
          e.metrics["sample_feature_spread_ratio"] = terms.spread1 / terms.spread2;
          std::printf(
              "FID-FMNIST = mean term %.3f + covariance term %.3f; the samples' features "
              "spread %.3f times as much as the test images' (total variance)\n",
              terms.mean_term, terms.covariance_term, terms.spread1 / terms.spread2);
          // The same distance to as many training images: a score to tune sampling settings
          // (--temperature) on without looking at the test set.
          const int64_t train_images = std::min(sets.train->n, sets.test->n);
          const ClassifierTally train =
              tally_images(*extractor->model, train_images, flags.batch, device,
                           from_set(*sets.train), "training features");
          e.metrics["fid_fmnist_vs_train"] =
              metrics::frechet_distance(fake.features.statistics(), train.features.statistics());
          std::printf("FID-FMNIST against %lld training images %.3f (for tuning)\n",
                      static_cast<long long>(train_images),
                      e.metrics["fid_fmnist_vs_train"].get<double>());
        } catch (const Error& error) {
          // Reported, not hidden: the row shows n/a and the statistics files reproduce it.
          e.metrics["fid_fmnist"] = nullptr;
          e.metrics["fid_error"] = error.what();
          std::fprintf(stderr, "evaluate: FID failed: %s (statistics in %s/fid_stats_*.npz)\n",
                       error.what(), flags.out.c_str());
        }
        e.metrics["fid_samples"] = flags.samples;
        e.metrics["fid_real_images"] = sets.test->n;
        e.metrics["extractor_version"] = extractor->version;
        e.metrics["fid_seconds"] = seconds_since(fid_start);
        std::printf("FID-FMNIST %.3f (%lld samples vs %lld test images; extractor %s)\n", fid,
                    static_cast<long long>(flags.samples), static_cast<long long>(sets.test->n),
                    extractor->version.c_str());
      } else {
        NoGradGuard no_grad;
        for (int64_t first = 0; first < kept; first += flags.batch) {
          const int64_t n = std::min(flags.batch, kept - first);
          Tensor x =
              contiguous(to_device(clamp(e.generate(n, &generator), 0.0, 1.0), Device::cpu()));
          grid.insert(grid.end(), x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
        }
      }
      if (flags.save_samples > 0) {
        const int64_t n = std::min(flags.save_samples, flags.samples);
        write_uint8_images(flags.out + "/samples.npy", grid, n, sets.test->c, sets.test->h,
                           sets.test->w);
        e.metrics["saved_samples"] = n;
      }
      data::write_image_grid(flags.out + "/samples.png", grid.data(), shown, sets.test->c,
                             sets.test->h, sets.test->w, 8, 2, 0.5f);
    }

    // MIG on fresh shapes.
    if (flags.mig || dataset_flags.name == "shapes") {
      KITE_CHECK(dataset_flags.name == "shapes", "evaluate --mig: the model was trained on "
                                                     << dataset_flags.name << ", not on shapes");
      data::ShapesDataset shapes(sets.test->h);
      // A window of the shapes stream that the training and test sets did not use.
      const data::ImageSet set = shapes.sample(flags.mig_samples, 1, 5'000'000);
      const int64_t f = static_cast<int64_t>(set.factor_names.size());
      auto mig_of = [&](const std::function<Tensor(const Tensor&)>& encode) {
        NoGradGuard no_grad;
        std::vector<double> codes;
        int64_t d = 0;
        for (int64_t first = 0; first < set.n; first += flags.batch) {
          const int64_t n = std::min(flags.batch, set.n - first);
          Tensor z = to_device(encode(to_device(data::images_to_tensor(set, first, n), device)),
                               Device::cpu());
          d = z.size(1);
          std::vector<double> v = to_double_vector(z);
          codes.insert(codes.end(), v.begin(), v.end());
        }
        metrics::MigResult r = metrics::mutual_information_gap(codes, set.n, d, set.factors, f);
        nlohmann::json per_factor = nlohmann::json::object();
        for (int64_t k = 0; k < f; ++k)
          per_factor[set.factor_names[k]] =
              std::isnan(r.gaps[k]) ? nlohmann::json() : nlohmann::json(r.gaps[k]);
        return std::pair{r.mig, per_factor};
      };
      auto [mig, per_factor] = mig_of(e.mig_codes);
      e.metrics["mig"] = mig;
      e.metrics["mig_per_factor"] = per_factor;
      e.metrics["mig_samples"] = set.n;
      std::printf("MIG %.4f (codes%s)\n", mig, kind == "autoencoder" ? " z" : ": posterior means");
      if (e.mig_codes_flow) {
        auto [mig_flow, per_factor_flow] = mig_of(e.mig_codes_flow);
        e.metrics["mig_flow"] = mig_flow;
        e.metrics["mig_flow_per_factor"] = per_factor_flow;
        std::printf("MIG %.4f (flow output z')\n", mig_flow);
      }
    }
    if (!flags.name.empty()) e.metrics["name"] = flags.name;
    e.metrics["dataset"] = dataset_flags.to_json();
    e.metrics["seconds"] = seconds_since(start);
    apps::write_json_file(flags.out + "/metrics.json", e.metrics);
    std::printf("wrote %s/metrics.json\n", flags.out.c_str());
    return 0;
  });
}
