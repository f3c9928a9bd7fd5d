// train_classifier: trains the Fashion-MNIST classifier whose penultimate 128-d features
// define FID-FMNIST (models/classifier/fmnist_classifier.h), and saves its weights.
//
//   train_classifier --out runs/classifier        # about 3 epochs reach >= 91% test accuracy
//
// Writes into --out: fmnist_classifier.safetensors (weights only; its SHA-256 is the
// extractor's version), log.jsonl, metrics.json (test accuracy per epoch, the version).
//
// Runs data parallel under `mpirun -np N` (apps/common/distributed.h): --batch is the global
// batch, and only rank 0 prints and writes files.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "apps/common/distributed.h"
#include "apps/common/main.h"
#include "apps/common/metrics_log.h"
#include "apps/common/progress.h"
#include "apps/common/training.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "models/classifier/fmnist_classifier.h"
#include "models/optim/adam.h"
#include "models/optim/lr_schedule.h"
#include "ops/ops.h"

namespace {

using namespace kite;

struct Flags {
  apps::CommonFlags common;
  apps::DistributedFlags dist;
  apps::DatasetFlags dataset;
  int64_t epochs = 3, batch = 128, eval_batch = 1000;
  double lr = 2e-3;
};

double test_accuracy(classifier::FmnistClassifier& model, const data::ImageSet& set, int64_t batch,
                     Device device) {
  NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t first = 0; first < set.n; first += batch) {
    const int64_t count = std::min(batch, set.n - first);
    Tensor logits = model.forward(to_device(data::images_to_tensor(set, first, count), device));
    std::vector<double> predicted = to_double_vector(to_device(argmax(logits, 1), Device::cpu()));
    for (int64_t i = 0; i < count; ++i)
      correct += static_cast<int64_t>(predicted[i]) == set.labels[first + i];
  }
  return static_cast<double>(correct) / static_cast<double>(set.n);
}

int run(Flags& flags) {
  apps::configure_threads(flags.common.threads);
  // Data parallel under mpirun (world size 1 otherwise): --batch is the global batch.
  const apps::Distributed dist =
      apps::setup_distributed(flags.dist, apps::resolve_device(flags.common.device));
  const Device device = dist.device;
  // Training-time randomness (dropout) differs per rank; initialisation has its own stream.
  manual_seed(dist.rank_seed(flags.common.seed));
  const apps::Datasets sets = apps::load_datasets(flags.dataset);
  KITE_CHECK(
      sets.train->h == 28 && sets.train->c == 1 && !sets.train->labels.empty(),
      "train_classifier: needs labelled 28x28 gray images (fashion-mnist), got " << sets.name);
  if (dist.is_root()) std::filesystem::create_directories(flags.common.out);

  Generator init(flags.common.seed);
  classifier::FmnistClassifier model(DType::Float32, &init);
  model.to(device);
  AdamParams adam;
  adam.lr = flags.lr;
  optim::Adam optimizer(model.parameters(), adam);
  data::LoaderOptions options;
  options.batch_size = dist.local_batch(flags.batch);
  options.rank = dist.rank;
  options.world_size = dist.world_size;
  options.seed = flags.common.seed;
  options.device = device;
  options.horizontal_flip = true;  // clothes are left-right symmetric enough; helps a little
  data::DataLoader loader(sets.train, options);
  const int64_t per_epoch = loader.batches_per_epoch();
  // Cosine decay to 5% over the run: the last epoch settles at a small learning rate.
  optim::CosineLr schedule(flags.lr, flags.lr * 0.05, per_epoch * flags.epochs);
  // Rank 0's weights on every rank; gradients averaged over the ranks.
  const std::unique_ptr<nn::DataParallel> parallel = dist.make_data_parallel(model);

  std::optional<apps::MetricsLog> log;  // rank 0 only
  if (dist.is_root()) log.emplace(flags.common.out + "/log.jsonl");
  nlohmann::json per_epoch_accuracy = nlohmann::json::array();
  const auto start = std::chrono::steady_clock::now();
  double accuracy = 0;
  for (int64_t epoch = 0; epoch < flags.epochs; ++epoch) {
    model.train();
    loader.start_epoch(epoch);
    apps::ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(flags.epochs),
                          per_epoch, "step");
    double running = 0;
    int64_t seen = 0;
    while (std::optional<data::Batch> batch = loader.next()) {
      Tensor loss = cross_entropy(model.forward(batch->images), batch->labels);
      optimizer.zero_grad();
      parallel->backward(loss);
      optim::apply_schedule(optimizer, schedule);
      optimizer.step();
      // The global batch's loss: the mean of the ranks' equal shares.
      std::vector<double> reduced = {to_device(loss, Device::cpu()).item<double>()};
      dist.average(reduced);
      const double value = reduced[0];
      KITE_CHECK(std::isfinite(value), "train_classifier: the loss is " << value);
      running = seen++ == 0 ? value : 0.98 * running + 0.02 * value;
      char postfix[64];
      std::snprintf(postfix, sizeof postfix, "loss=%.4f", running);
      bar.update(1, postfix);
    }
    bar.finish();
    model.eval();
    accuracy = test_accuracy(model, *sets.test, flags.eval_batch, device);
    per_epoch_accuracy.push_back(accuracy);
    if (log)
      log->write({{"epoch", epoch + 1}, {"train_loss", running}, {"test_accuracy", accuracy}});
    std::fprintf(stderr, "epoch %lld: test accuracy %.4f\n", static_cast<long long>(epoch + 1),
                 accuracy);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string weights = flags.common.out + "/fmnist_classifier.safetensors";
  nlohmann::json info = {{"test_accuracy", accuracy},
                         {"epochs", flags.epochs},
                         {"train_images", sets.train->n},
                         {"test_images", sets.test->n}};
  if (!dist.is_root()) return 0;
  model.to(Device::cpu());
  classifier::save_fmnist_classifier(weights, model, info.dump());
  const classifier::LoadedClassifier loaded =
      classifier::load_fmnist_classifier(weights, Device::cpu());
  nlohmann::json metrics = {
      {"test_accuracy", accuracy},     {"test_accuracy_per_epoch", per_epoch_accuracy},
      {"version", loaded.version},     {"weights", weights},
      {"train_seconds", seconds},      {"train_images", sets.train->n},
      {"test_images", sets.test->n},   {"feature_dim", classifier::kFmnistFeatureDim},
      {"world_size", dist.world_size}, {"sync_bn", flags.dist.sync_bn}};
  apps::write_json_file(flags.common.out + "/metrics.json", metrics);
  std::fprintf(stderr, "train_classifier: test accuracy %.4f; wrote %s (version %s); %.0f s\n",
               accuracy, weights.c_str(), loaded.version.c_str(), seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train the Fashion-MNIST classifier that defines FID-FMNIST's feature space"};
  app.name("train_classifier");
  Flags flags;
  apps::add_common_flags(app, flags.common, "runs/classifier");
  apps::add_distributed_flags(app, flags.dist);
  apps::add_dataset_flags(app, flags.dataset);
  app.add_option("--epochs", flags.epochs, "Epochs")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--batch", flags.batch, "Global batch size (split over the ranks)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", flags.lr, "Peak Adam learning rate (cosine decay)")->capture_default_str();
  app.add_option("--eval-batch", flags.eval_batch, "Batch size of the test pass")
      ->capture_default_str();
  return apps::run_main(app, argc, argv, [&] {
    return apps::run_distributed("train_classifier", [&] { return run(flags); });
  });
}
