// train_ae: trains stage 1 of the decoupled VAE, the deterministic autoencoder, with an MSE
// loss (optionally denoising: randomly erased inputs, clean targets, and/or with noise on the
// codes the decoder sees, --latent-noise). --learn-gamma trains the same autoencoder on the
// Gaussian likelihood MSE / (2 gamma) + log(gamma) / 2 with a learnt decoder variance gamma
// (models/ae/decoder_variance.h): the same minimiser, reached faster.
//
//   train_ae                                  # Fashion-MNIST, the authors' 28x28 model
//   train_ae --epochs 3 --out runs/ae         # then: encode, reconstruct, train_flow
//   train_ae --learn-gamma --out runs/ae_g    # the likelihood with a learnt gamma
//   train_ae --resume --out runs/ae           # continue exactly where a run stopped
//
// Writes into --out: last.safetensors (every --checkpoint-every steps, at each epoch's end,
// on Ctrl-C and at the end), best.safetensors (lowest test MSE at an epoch's end), log.jsonl
// (one record per --log-every steps and one per evaluation) and metrics.json (at the end).
// The logged loss is the batch's MSE either way (with --learn-gamma, gamma is logged too).
//
// Exact resumption: the checkpoint holds the model (with BatchNorm's running statistics),
// Adam's state, the step and the position in the epoch, the random streams, and with
// --learn-gamma log gamma and its Adam's state (extra.log_gamma, extra.gamma_optim.*). The
// loader's order is a pure function of (seed, epoch), so the resumed run skips the batches
// already seen and continues with the same losses, bit for bit, as a run never stopped.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <numeric>

#include "apps/common/autoencoder_io.h"
#include "apps/common/distributed.h"
#include "apps/common/main.h"
#include "apps/common/metrics_log.h"
#include "apps/common/progress.h"
#include "apps/common/training.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "models/ae/decoder_variance.h"
#include "models/ae/latent_noise.h"
#include "models/optim/adam.h"
#include "ops/erase.h"
#include "ops/factory.h"
#include "ops/loss.h"

namespace {

using namespace kite;
using kite::apps::CommonFlags;
using kite::apps::DatasetFlags;

// Settings that decide the loss sequence; a resumed run takes them from its checkpoint.
struct TrainFlags {
  int64_t batch = 64;
  double lr = 2e-4;
  std::string lr_schedule = "constant";
  bool denoise = false;
  double erase_probability = 0.5;
  double latent_noise = 0;        // noise std on the codes, in units of each dimension's spread
  bool learn_gamma = false;       // loss MSE / (2 gamma) + log(gamma) / 2, gamma learnt
  double gamma_lr = 1e-2;         // Adam's learning rate for log gamma (constant)
  std::vector<int64_t> channels;  // empty: the default for the image size
  int64_t latent = 0;             // 0: the default for the image size

  nlohmann::json to_json() const {
    return {{"batch", batch},
            {"lr", lr},
            {"lr_schedule", lr_schedule},
            {"denoise", denoise},
            {"erase_probability", erase_probability},
            {"latent_noise", latent_noise},
            {"learn_gamma", learn_gamma},
            {"gamma_lr", gamma_lr}};
  }
};

struct Flags {
  CommonFlags common;
  apps::DistributedFlags dist;
  DatasetFlags dataset;
  TrainFlags train;
  int64_t epochs = 3;  // the reference PyTorch figure (test MSE 0.0129) is after 3 epochs
  int64_t steps = 0;
  int64_t checkpoint_every = 500;
  int64_t log_every = 10;
  int64_t eval_batch = 500;
  bool keep_best = true;
  bool resume = false;
  bool overwrite = false;
};

// The seeds of the separate random streams, derived from --seed.
uint64_t init_seed(uint64_t seed) { return seed; }
uint64_t augment_seed(uint64_t seed) { return seed ^ 0x5eed0fa11ce5ull; }

// On resume, every loss-deciding flag comes from the checkpoint; one given explicitly with a
// different value is refused rather than silently ignored.
template <class T>
void take_from_checkpoint(const CLI::App& app, const char* flag, T& value,
                          const nlohmann::json& stored, const char* key) {
  if (stored.contains(key)) apps::take_resumed_setting(app, flag, value, stored[key].get<T>());
}

// What the ranks keep identical: the autoencoder and, with --learn-gamma, log gamma (its
// gradient is averaged over the ranks like the networks').
class TrainedModules : public nn::Module {
 public:
  TrainedModules(std::shared_ptr<ae::Autoencoder> model,
                 std::shared_ptr<ae::DecoderVariance> variance) {
    register_module("model", std::move(model));
    if (variance) register_module("variance", std::move(variance));
  }
};

struct StepTimer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

int run(const CLI::App& app, Flags& flags) {
  namespace fs = std::filesystem;
  apps::CheckpointKeeper keeper(flags.common.out, flags.keep_best);
  const std::string log_path = (fs::path(flags.common.out) / "log.jsonl").string();
  const std::string metrics_path = (fs::path(flags.common.out) / "metrics.json").string();

  // 1. What to train: the flags, or the resumed run's configuration.
  std::optional<apps::LoadedCheckpoint> resumed;
  if (flags.resume) {
    KITE_CHECK(fs::exists(keeper.last_path()),
               "--resume: no checkpoint to resume at " << keeper.last_path() << " (check --out)");
    resumed = apps::read_training_checkpoint(keeper.last_path(), "autoencoder");
    const nlohmann::json& config = resumed->state.config;
    KITE_CHECK(config.contains("train") && config.contains("dataset") && config.contains("model"),
               "checkpoint " << keeper.last_path() << ": configuration lacks train/dataset/model");
    take_from_checkpoint(app, "--batch", flags.train.batch, config["train"], "batch");
    take_from_checkpoint(app, "--lr", flags.train.lr, config["train"], "lr");
    take_from_checkpoint(app, "--lr-schedule", flags.train.lr_schedule, config["train"],
                         "lr_schedule");
    take_from_checkpoint(app, "--denoise", flags.train.denoise, config["train"], "denoise");
    take_from_checkpoint(app, "--erase-prob", flags.train.erase_probability, config["train"],
                         "erase_probability");
    take_from_checkpoint(app, "--latent-noise", flags.train.latent_noise, config["train"],
                         "latent_noise");
    take_from_checkpoint(app, "--learn-gamma", flags.train.learn_gamma, config["train"],
                         "learn_gamma");
    take_from_checkpoint(app, "--gamma-lr", flags.train.gamma_lr, config["train"], "gamma_lr");
    take_from_checkpoint(app, "--seed", flags.common.seed, config, "seed");
    const DatasetFlags stored_dataset =
        apps::take_resumed_dataset(app, flags.dataset, config["dataset"]);
    const nlohmann::json& stored_model = config["model"];
    KITE_CHECK(app.count("--channels") == 0 ||
                   nlohmann::json(flags.train.channels) == stored_model["channels"],
               "--channels differs from the resumed run's " << stored_model["channels"].dump());
    KITE_CHECK(app.count("--latent") == 0 ||
                   nlohmann::json(flags.train.latent) == stored_model["latent_dim"],
               "--latent differs from the resumed run's " << stored_model["latent_dim"].dump());
    flags.dataset = stored_dataset;
  } else {
    KITE_CHECK(flags.overwrite || !fs::exists(keeper.last_path()),
               flags.common.out << " already holds a run (" << keeper.last_path()
                                << "); pass --resume to continue it or --overwrite to start again");
  }

  const int threads = apps::configure_threads(flags.common.threads);
  // Data parallel under mpirun (world size 1 otherwise): --batch is the global batch.
  const apps::Distributed dist =
      apps::setup_distributed(flags.dist, apps::resolve_device(flags.common.device));
  const Device device = dist.device;
  const apps::Datasets sets = apps::load_datasets(flags.dataset);

  ae::AutoencoderConfig model_config;
  if (resumed) {
    model_config = apps::autoencoder_config_from_json(resumed->state.config["model"]);
  } else {
    if (flags.train.channels.empty()) {
      model_config = ae::AutoencoderConfig::for_image(sets.train->h, sets.train->c);
    } else {
      // Custom widths: the size's default latent size if it has one, else 128.
      model_config.latent_dim = 128;
      for (int64_t size : {28, 32, 64, 128, 256})
        if (size == sets.train->h)
          model_config.latent_dim = ae::AutoencoderConfig::for_image(size, 1).latent_dim;
      model_config.image_size = sets.train->h;
      model_config.image_channels = sets.train->c;
      model_config.channels = flags.train.channels;
    }
    if (flags.train.latent > 0) model_config.latent_dim = flags.train.latent;
    model_config.validate();
  }
  KITE_CHECK(sets.train->h == sets.train->w,
             "train_ae: images must be square, got " << sets.train->h << "x" << sets.train->w);
  KITE_CHECK(
      model_config.image_size == sets.train->h && model_config.image_channels == sets.train->c,
      "train_ae: the model expects " << model_config.describe() << " images but the data are "
                                     << sets.train->c << "x" << sets.train->h << "x"
                                     << sets.train->w);

  nlohmann::json run_config = {{"model", apps::autoencoder_config_to_json(model_config)},
                               {"train", flags.train.to_json()},
                               {"dataset", flags.dataset.to_json()},
                               {"seed", flags.common.seed}};
  dist.check_same("training settings", run_config.dump());

  // 2. Model, optimizer, random streams, loader.
  Generator init_generator(init_seed(flags.common.seed));
  auto model = std::make_shared<ae::Autoencoder>(model_config, DType::Float32, &init_generator);
  model->to(device);
  model->train();
  AdamParams adam;
  adam.lr = flags.train.lr;
  optim::Adam optimizer(model->parameters(), adam);
  // With --learn-gamma: log gamma and its own Adam (at the networks' lr it would lag far
  // behind the falling MSE).
  std::shared_ptr<ae::DecoderVariance> variance;
  std::optional<optim::Adam> gamma_optimizer;
  if (flags.train.learn_gamma) {
    variance = std::make_shared<ae::DecoderVariance>();
    variance->to(device);
    AdamParams gamma_adam;
    gamma_adam.lr = flags.train.gamma_lr;
    gamma_optimizer.emplace(variance->parameters(), gamma_adam);
  }
  const TrainedModules trained(model, variance);
  Generator augment_generator(dist.rank_seed(augment_seed(flags.common.seed)));
  if (dist.distributed()) default_generator().manual_seed(dist.rank_seed(Generator::kDefaultSeed));

  data::LoaderOptions loader_options;
  loader_options.batch_size = dist.local_batch(flags.train.batch);
  loader_options.rank = dist.rank;
  loader_options.world_size = dist.world_size;
  loader_options.shuffle = true;
  loader_options.seed = flags.common.seed;
  loader_options.device = device;
  data::DataLoader loader(sets.train, loader_options);
  const int64_t batches_per_epoch = loader.batches_per_epoch();

  apps::TrainingState state;
  state.kind = "autoencoder";
  state.config = run_config;
  if (resumed) {
    resumed->restore_model(*model);
    resumed->restore_optimizer(optimizer);
    if (variance) {
      const std::map<std::string, Tensor> extra = resumed->tensors_under("extra.");
      KITE_CHECK(extra.count("log_gamma"),
                 "checkpoint " << keeper.last_path() << ": --learn-gamma run without log_gamma");
      variance->load_state_dict({{"log_gamma", extra.at("log_gamma")}});
      gamma_optimizer->load_state_tensors(extra, "gamma_optim.");
    }
    apps::restore_rank_generator(dist, *resumed, "augment", augment_generator,
                                 augment_seed(flags.common.seed));
    apps::restore_rank_generator(dist, *resumed, "default", default_generator(),
                                 Generator::kDefaultSeed);
    keeper.restore(*resumed);
    const apps::RunPosition at = apps::resume_position(*resumed, batches_per_epoch);
    state.step = at.step, state.epoch = at.epoch, state.batch_in_epoch = at.batch_in_epoch;
  }
  const int64_t total_steps = flags.steps > 0 ? flags.steps : flags.epochs * batches_per_epoch;
  const int64_t total_epochs = (total_steps + batches_per_epoch - 1) / batches_per_epoch;
  const auto schedule =
      apps::make_lr_schedule(flags.train.lr_schedule, flags.train.lr, total_steps);

  // Rank 0's weights on every rank (after a resume too); gradients averaged over the ranks.
  const std::unique_ptr<nn::DataParallel> parallel = dist.make_data_parallel(trained);

  // Collective (every rank's random streams go in); only rank 0 writes the result.
  auto snapshot = [&]() {
    apps::store_rank_generators(dist, state, "augment", augment_generator);
    apps::store_rank_generators(dist, state, "default", default_generator());
    state.metadata["world_size"] = std::to_string(dist.world_size);
    std::map<std::string, Tensor> extra;
    if (variance) {
      extra = gamma_optimizer->state_tensors("gamma_optim.");
      extra["log_gamma"] = variance->log_gamma.detach();
    }
    return apps::make_training_checkpoint(*model, &optimizer, state, extra);
  };
  auto save_last = [&](Checkpoint checkpoint) {
    if (dist.is_root()) keeper.save_last(std::move(checkpoint));
  };

  if (resumed && dist.is_root()) apps::truncate_log_after_step(log_path, state.step);
  std::optional<apps::MetricsLog> log;  // rank 0 only
  if (dist.is_root()) log.emplace(log_path, resumed.has_value());

  char loss_note[96] = "";
  if (flags.train.latent_noise > 0)
    std::snprintf(loss_note, sizeof loss_note, ", latent noise %g", flags.train.latent_noise);
  if (flags.train.learn_gamma)
    std::snprintf(loss_note + std::strlen(loss_note), sizeof loss_note - std::strlen(loss_note),
                  ", learnt gamma (Adam lr %g)", flags.train.gamma_lr);
  std::fprintf(
      stderr,
      "train_ae: %s (%s; %lld train, %lld test images), model %s, %.2fM parameters\n"
      "train_ae: %s, %s, threads %d, batch %lld, Adam lr %g (%s)%s%s, %lld steps/epoch, %lld steps "
      "(%lld epochs)\n",
      sets.name.c_str(), sets.source.c_str(), static_cast<long long>(sets.train->n),
      static_cast<long long>(sets.test->n), model_config.describe().c_str(),
      static_cast<double>(model->num_parameters()) / 1e6, dist.describe().c_str(),
      device.str().c_str(), threads, static_cast<long long>(flags.train.batch), flags.train.lr,
      flags.train.lr_schedule.c_str(), flags.train.denoise ? ", denoising" : "", loss_note,
      static_cast<long long>(batches_per_epoch), static_cast<long long>(total_steps),
      static_cast<long long>(total_epochs));
  if (resumed)
    std::fprintf(stderr, "train_ae: resumed from %s at step %lld (epoch %lld, batch %lld)\n",
                 keeper.last_path().c_str(), static_cast<long long>(state.step),
                 static_cast<long long>(state.epoch + 1),
                 static_cast<long long>(state.batch_in_epoch));

  RandomErasingOptions erase_options;
  erase_options.probability = flags.train.erase_probability;

  auto evaluate = [&]() {
    model->eval();
    apps::ReconstructionError error =
        apps::reconstruction_error(*model, *sets.test, flags.eval_batch, device);
    model->train();
    return error;
  };

  // 3. The loop.
  apps::install_interrupt_handler();
  const int64_t first_step = state.step;
  double timed_seconds = 0;  // steps after the first few (warm-up) of this process
  int64_t timed_steps = 0;
  std::deque<double> recent_losses;
  double last_epoch_train_loss = NAN;
  std::optional<apps::ReconstructionError> last_eval;
  const StepTimer run_timer;

  while (state.step < total_steps) {
    loader.start_epoch(state.epoch, state.batch_in_epoch);
    // The bar counts this process's steps of the epoch (a resumed epoch starts part way).
    const int64_t epoch_steps =
        std::min(batches_per_epoch - state.batch_in_epoch, total_steps - state.step);
    apps::ProgressBar bar(
        "epoch " + std::to_string(state.epoch + 1) + "/" + std::to_string(total_epochs),
        epoch_steps, "step");
    double epoch_loss_sum = 0;
    int64_t epoch_loss_count = 0, epoch_images = 0;
    double log_seconds = 0;
    int64_t log_images = 0;
    const StepTimer epoch_timer;
    while (state.step < total_steps) {
      const StepTimer step_timer;
      std::optional<data::Batch> batch = loader.next();
      if (!batch) break;
      dist.maybe_inject_failure(state.step + 1);
      const Tensor& clean = batch->images;
      const Tensor input =
          flags.train.denoise ? random_erase(clean, erase_options, &augment_generator) : clean;
      const Tensor mse =
          mse_loss(model->decode(ae::jitter_codes(model->encode(input), flags.train.latent_noise,
                                                  &augment_generator)),
                   clean);
      optimizer.zero_grad();
      if (gamma_optimizer) gamma_optimizer->zero_grad();
      parallel->backward(variance ? variance->loss(mse) : mse);
      optim::apply_schedule(optimizer, *schedule);
      optimizer.step();
      if (gamma_optimizer) gamma_optimizer->step();
      // The global batch's loss (the mean of the ranks' equal shares), and whether any rank
      // was interrupted, so that all ranks stop at the same step.
      std::vector<double> reduced = {to_device(mse, Device::cpu()).item<double>(),
                                     apps::interrupt_requested() ? 1.0 : 0.0};
      dist.average(reduced);
      const double loss_value = reduced[0];
      const bool interrupted = reduced[1] > 0;
      KITE_CHECK(std::isfinite(loss_value), "train_ae: the loss is " << loss_value << " at step "
                                                                     << state.step + 1
                                                                     << " (try a lower --lr)");
      ++state.step;
      ++state.batch_in_epoch;

      const double seconds = step_timer.seconds();
      if (state.step - first_step > 5) timed_seconds += seconds, ++timed_steps;
      const int64_t images = clean.size(0) * dist.world_size;
      epoch_loss_sum += loss_value, ++epoch_loss_count, epoch_images += images;
      log_seconds += seconds, log_images += images;
      recent_losses.push_back(loss_value);
      if (recent_losses.size() > 20) recent_losses.pop_front();

      if (flags.log_every > 0 && (state.step % flags.log_every == 0 || state.step == total_steps)) {
        if (log) {
          nlohmann::json record = {{"step", state.step},
                                   {"epoch", state.epoch + 1},
                                   {"loss", loss_value},
                                   {"lr", optimizer.learning_rate()},
                                   {"img_per_s", log_seconds > 0 ? log_images / log_seconds : 0.0}};
          if (variance) record["gamma"] = variance->gamma();
          log->write(record);
        }
        log_seconds = 0, log_images = 0;
      }
      const double smoothed = std::accumulate(recent_losses.begin(), recent_losses.end(), 0.0) /
                              static_cast<double>(recent_losses.size());
      char postfix[128];
      std::snprintf(postfix, sizeof postfix, "loss=%.5f img/s=%.0f", smoothed,
                    epoch_images / std::max(epoch_timer.seconds(), 1e-9));
      if (variance)
        std::snprintf(postfix + std::strlen(postfix), sizeof postfix - std::strlen(postfix),
                      " gamma=%.3g", variance->gamma());
      bar.update(1, postfix);

      const bool epoch_done = state.batch_in_epoch == batches_per_epoch;
      if (interrupted) {
        bar.finish();
        save_last(snapshot());
        std::fprintf(stderr,
                     "\ntrain_ae: interrupted (signal %d) at step %lld; checkpoint saved to %s\n"
                     "train_ae: continue with: train_ae --resume --out %s\n",
                     apps::interrupt_signal(), static_cast<long long>(state.step),
                     keeper.last_path().c_str(), flags.common.out.c_str());
        return 0;
      }
      // The epoch's end saves anyway (after its evaluation), so skip a periodic save there.
      if (flags.checkpoint_every > 0 && state.step % flags.checkpoint_every == 0 && !epoch_done)
        save_last(snapshot());
    }
    bar.finish();
    if (epoch_loss_count > 0)
      last_epoch_train_loss = epoch_loss_sum / static_cast<double>(epoch_loss_count);

    if (state.batch_in_epoch < batches_per_epoch) break;  // the step budget ended mid-epoch
    const apps::ReconstructionError error = evaluate();
    last_eval = error;
    if (log)
      log->write({{"step", state.step},
                  {"epoch", state.epoch + 1},
                  {"event", "eval"},
                  {"train_loss",
                   epoch_loss_count ? nlohmann::json(last_epoch_train_loss) : nlohmann::json()},
                  {"test_mse", error.mse},
                  {"test_mse_clipped", error.mse_clipped},
                  {"test_sse_per_image", error.sse_per_image},
                  {"test_sse_per_image_clipped", error.sse_per_image_clipped}});
    const double elapsed = run_timer.seconds();
    const double done_fraction =
        static_cast<double>(state.step - first_step) /
        static_cast<double>(std::max<int64_t>(1, total_steps - first_step));
    std::fprintf(
        stderr,
        "epoch %lld/%lld: train loss %.5f, test MSE %.5f per pixel (clipped to [0,1] %.5f; %.2f "
        "summed "
        "over an image), elapsed %s, run ETA %s\n",
        static_cast<long long>(state.epoch + 1), static_cast<long long>(total_epochs),
        last_epoch_train_loss, error.mse, error.mse_clipped, error.sse_per_image,
        apps::format_duration(elapsed).c_str(),
        apps::format_duration(done_fraction > 0 ? elapsed * (1 - done_fraction) / done_fraction : 0)
            .c_str());
    ++state.epoch;
    state.batch_in_epoch = 0;
    Checkpoint checkpoint = snapshot();
    if (dist.is_root()) keeper.save_if_best(checkpoint, error.mse);
    save_last(std::move(checkpoint));
    if (dist.any(apps::interrupt_requested())) {
      std::fprintf(stderr,
                   "train_ae: interrupted (signal %d) after epoch %lld; checkpoint saved to %s\n",
                   apps::interrupt_signal(), static_cast<long long>(state.epoch),
                   keeper.last_path().c_str());
      return 0;
    }
  }

  // 4. The end: a final checkpoint (unless the epoch's end just wrote one), a final
  // evaluation (unless one just ran) and metrics.json.
  const bool at_epoch_end = state.batch_in_epoch == 0 && last_eval.has_value();
  if (!at_epoch_end) save_last(snapshot());
  const apps::ReconstructionError final_error = at_epoch_end ? *last_eval : evaluate();
  if (!at_epoch_end && log)
    log->write({{"step", state.step},
                {"epoch", state.epoch + 1},
                {"event", "eval"},
                {"test_mse", final_error.mse},
                {"test_mse_clipped", final_error.mse_clipped},
                {"test_sse_per_image", final_error.sse_per_image},
                {"test_sse_per_image_clipped", final_error.sse_per_image_clipped}});
  nlohmann::json metrics = {
      {"steps", state.step},
      {"epochs_completed", state.epoch},
      {"train_loss_last_epoch", std::isfinite(last_epoch_train_loss)
                                    ? nlohmann::json(last_epoch_train_loss)
                                    : nlohmann::json()},
      {"test_images", final_error.images},
      {"test_mse", final_error.mse},
      {"test_mse_clipped", final_error.mse_clipped},
      {"test_sse_per_image", final_error.sse_per_image},
      {"test_sse_per_image_clipped", final_error.sse_per_image_clipped},
      {"ms_per_step",
       timed_steps > 0 ? nlohmann::json(1000.0 * timed_seconds / timed_steps) : nlohmann::json()},
      {"images_per_second", timed_seconds > 0
                                ? nlohmann::json(timed_steps * flags.train.batch / timed_seconds)
                                : nlohmann::json()},
      {"peak_rss_mib", apps::peak_rss_mib()},
      {"threads", threads},
      {"device", device.str()},
      {"world_size", dist.world_size},
      {"dist", dist.communicator->name()},
      {"sync_bn", flags.dist.sync_bn},
      {"overlap", !flags.dist.no_overlap},
      {"bucket_mb", flags.dist.bucket_mb},
      {"gradient_sync",
       {{"steps", parallel->stats().steps},
        {"backward_seconds", parallel->stats().backward_seconds},
        {"hook_seconds", parallel->stats().hook_seconds},
        {"after_backward_seconds", parallel->stats().finish_seconds}}},
      {"parameters", model->num_parameters()},
      {"checkpoint", keeper.last_path()},
      {"config", run_config}};
  if (keeper.best_metric()) metrics["best_test_mse"] = *keeper.best_metric();
  if (variance) metrics["gamma"] = variance->gamma();
  if (dist.is_root()) apps::write_json_file(metrics_path, metrics);
  std::fprintf(stderr,
               "train_ae: done, %lld steps; test MSE %.5f per pixel (clipped %.5f), %.2f summed "
               "over an image\n"
               "train_ae: wrote %s, %s, %s\n",
               static_cast<long long>(state.step), final_error.mse, final_error.mse_clipped,
               final_error.sse_per_image, keeper.last_path().c_str(), log_path.c_str(),
               metrics_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Train the decoupled VAE's stage 1: a deterministic convolutional autoencoder (MSE loss)"};
  app.name("train_ae");
  Flags flags;
  apps::add_common_flags(app, flags.common, "runs/ae");
  apps::add_distributed_flags(app, flags.dist);
  apps::add_dataset_flags(app, flags.dataset);
  app.add_option("--epochs", flags.epochs, "Epochs to train (ignored when --steps is given)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--steps", flags.steps,
                 "Total optimizer steps (counted from the run's start, also on --resume)")
      ->check(CLI::PositiveNumber);
  app.add_option("--batch", flags.train.batch, "Batch size")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", flags.train.lr, "Adam learning rate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  apps::add_lr_schedule_flag(app, flags.train.lr_schedule);
  app.add_flag("--denoise", flags.train.denoise,
               "Randomly erase a rectangle of each input (clean target)");
  app.add_option("--erase-prob", flags.train.erase_probability,
                 "With --denoise: chance that an image is erased")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--latent-noise", flags.train.latent_noise,
                 "Gaussian noise on the codes the decoder sees, in units of each latent "
                 "dimension's batch spread (0: none; e.g. 0.1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  app.add_flag(
      "--learn-gamma", flags.train.learn_gamma,
      "Train on the Gaussian likelihood MSE/(2 gamma) + log(gamma)/2 with a learnt decoder "
      "variance gamma (same minimiser as MSE, reached faster; gamma starts at 1)");
  app.add_option("--gamma-lr", flags.train.gamma_lr,
                 "With --learn-gamma: Adam learning rate of log gamma (constant)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--channels", flags.train.channels,
                 "Channel widths, e.g. 64,128 (default: by image size; 28x28 -> 64,128)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--latent", flags.train.latent,
                 "Latent size (default: by image size; 28x28 -> 32)")
      ->check(CLI::PositiveNumber);
  app.add_option("--eval-batch", flags.eval_batch, "Batch size of the test-set evaluation")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--keep-best,!--no-keep-best", flags.keep_best,
               "Also keep best.safetensors (lowest test MSE at an epoch's end)")
      ->capture_default_str();
  apps::add_resume_flags(app, flags.checkpoint_every, flags.log_every, flags.resume,
                         flags.overwrite);
  return apps::run_main(app, argc, argv, [&] {
    return apps::run_distributed("train_ae", [&] { return run(app, flags); });
  });
}
