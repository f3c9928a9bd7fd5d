// train_vae: the VAE baselines on the stage-1 architecture (a (mu, log-variance) head on the
// same encoder, the same decoder as the mean of a Gaussian of variance gamma).
//
//   train_vae --gamma 0.5 --out runs/vae                 # VAE, fixed decoder variance
//   train_vae --gamma 1 --beta 4 --out runs/beta_vae     # beta-VAE
//   train_vae --learn-gamma --out runs/vae_learnt        # learnt gamma (2-stage VAE's stage 1)
//   train_vae --gamma-sweep 0,0.01,0.1,1,10 --out runs/sweep   # the paper's Fig. 3
//   train_vae --resume --out runs/vae                    # continue exactly where a run stopped
//
// --gamma 0 is the plain autoencoder (z = mu, MSE loss). A learnt log gamma has its own Adam
// with --gamma-lr (1e-2): at the networks' 2e-4 it would barely move in a few epochs.
//
// Writes into --out: last.safetensors (kind "vae"), log.jsonl, metrics.json (test
// reconstruction error from the posterior mean, KL per image, negative ELBO, gamma, the KL
// of a Gaussian fitted to the aggregate posterior from N(0, I), training time) and
// posterior.png: samples z ~ q(z|x) of test images on the two most active latent axes.
// A sweep writes one such folder per gamma (gamma_<g>/) and sweep.json + sweep.md.
//
// Exact resumption (one run, not a sweep): last.safetensors is also written every
// --checkpoint-every steps and on Ctrl-C, with both optimizers' state, the step and the
// position in the epoch and the random streams, so that `--resume` continues with the same
// losses, bit for bit, as a run never stopped. A resumed run keeps its settings.
//
// Runs data parallel under `mpirun -np N` (apps/common/distributed.h): --batch is the global
// batch, and only rank 0 prints and writes files. A learnt log gamma is a parameter of the
// model, so its gradient is averaged over the ranks with the networks'.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>

#include "apps/common/distributed.h"
#include "apps/common/latent_plot.h"
#include "apps/common/main.h"
#include "apps/common/metrics_log.h"
#include "apps/common/progress.h"
#include "apps/common/training.h"
#include "apps/common/vae_io.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "models/optim/adam.h"
#include "models/prior/gaussian.h"
#include "ops/ops.h"

namespace {

using namespace kite;
namespace fs = std::filesystem;

struct Flags {
  apps::CommonFlags common;
  apps::DistributedFlags dist;
  apps::DatasetFlags dataset;
  double gamma = 1.0, beta = 1.0, lr = 2e-4, gamma_lr = 1e-2;
  std::string lr_schedule = "constant";  // of the networks' optimizer (log gamma's: constant)
  bool learn_gamma = false;
  std::vector<double> sweep;
  int64_t batch = 64, epochs = 1, steps = 0, eval_batch = 500, log_every = 20, plot_images = 2000;
  std::vector<int64_t> channels;
  int64_t latent = 0;
  int64_t checkpoint_every = 500;
  bool resume = false, overwrite = false;
};

// The seed of the reparameterisation noise (rank 0's; see Distributed::rank_seed).
uint64_t noise_seed(uint64_t seed) { return seed ^ 0x7a11ce5eedull; }

// --resume: the settings of the run in --out replace the flags (one given again must agree);
// --steps and --epochs may extend the run.
apps::LoadedCheckpoint take_settings_from_checkpoint(const CLI::App& app, Flags& flags) {
  const std::string path = flags.common.out + "/last.safetensors";
  KITE_CHECK(fs::exists(path), "--resume: no checkpoint to resume at " << path << " (check --out)");
  apps::LoadedCheckpoint loaded = apps::read_training_checkpoint(path, "vae");
  const vae::VaeConfig model = apps::vae_config_from_json(loaded.config_section("model"));
  const nlohmann::json& train = loaded.config_section("train");
  if (flags.learn_gamma && flags.gamma == 0) flags.gamma = 1.0;  // as train_one starts it
  apps::take_resumed_setting(app, "--gamma", flags.gamma, model.gamma);
  apps::take_resumed_setting(app, "--learn-gamma", flags.learn_gamma, model.learn_gamma);
  apps::take_resumed_setting(app, "--beta", flags.beta, model.beta);
  apps::take_resumed_setting(app, "--channels", flags.channels, model.architecture.channels);
  apps::take_resumed_setting(app, "--latent", flags.latent, model.architecture.latent_dim);
  apps::take_resumed_setting(app, "--lr", flags.lr, train.at("lr").get<double>());
  if (train.contains("lr_schedule"))
    apps::take_resumed_setting(app, "--lr-schedule", flags.lr_schedule,
                               train.at("lr_schedule").get<std::string>());
  apps::take_resumed_setting(app, "--gamma-lr", flags.gamma_lr, train.at("gamma_lr").get<double>());
  apps::take_resumed_setting(app, "--batch", flags.batch, train.at("batch").get<int64_t>());
  apps::take_resumed_setting(app, "--seed", flags.common.seed,
                             loaded.state.config.at("seed").get<uint64_t>());
  flags.dataset = apps::take_resumed_dataset(app, flags.dataset, loaded.config_section("dataset"));
  if (app.count("--steps") == 0 && app.count("--epochs") == 0)
    flags.steps = train.at("steps").get<int64_t>();
  return loaded;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

ae::AutoencoderConfig architecture_for(const Flags& flags, const data::ImageSet& train) {
  ae::AutoencoderConfig config;
  if (flags.channels.empty()) {
    config = ae::AutoencoderConfig::for_image(train.h, train.c);
  } else {
    config.image_size = train.h;
    config.image_channels = train.c;
    config.channels = flags.channels;
    config.latent_dim = 128;
    for (int64_t size : {28, 32, 64, 128, 256})
      if (size == train.h) config.latent_dim = ae::AutoencoderConfig::for_image(size, 1).latent_dim;
  }
  if (flags.latent > 0) config.latent_dim = flags.latent;
  config.validate();
  return config;
}

// KL(N(m, S) || N(0, I)) of the Gaussian fitted to a cloud of codes: 0 when the aggregate
// posterior's first two moments are those of the prior.
double fitted_gaussian_kl_from_standard_normal(const Tensor& codes) {
  prior::FullGaussian g = prior::FullGaussian::fit(codes, 1e-9);
  const int64_t d = codes.size(1);
  std::vector<double> m = to_double_vector(g.mean), s = to_double_vector(g.covariance);
  double trace = 0, norm2 = 0;
  for (int64_t i = 0; i < d; ++i) trace += s[i * d + i], norm2 += m[i] * m[i];
  // log det S = -2 * (log density at the mean + d/2 log 2 pi).
  const double log_det =
      -2.0 * (g.log_prob(reshape(g.mean, {1, d})).item<double>() + 0.5 * d * std::log(2 * M_PI));
  return 0.5 * (trace + norm2 - static_cast<double>(d) - log_det);
}

// Trains one model into `out` (from `resumed` when given). Returns its metrics, or
// {"interrupted": true} when Ctrl-C stopped it (last.safetensors then holds the run).
nlohmann::json train_one(const Flags& flags, const apps::Distributed& dist,
                         const apps::Datasets& sets, double gamma, const std::string& out,
                         const apps::LoadedCheckpoint* resumed = nullptr) {
  const Device device = dist.device;
  const std::string last_path = out + "/last.safetensors", log_path = out + "/log.jsonl";
  KITE_CHECK(resumed || flags.overwrite || !fs::exists(last_path),
             out << " already holds a run (" << last_path << "); pass "
                 << (flags.sweep.empty() ? "--resume to continue it or " : "")
                 << "--overwrite to start again");
  if (dist.is_root()) fs::create_directories(out);
  vae::VaeConfig config{architecture_for(flags, *sets.train), gamma, flags.learn_gamma, flags.beta};
  if (config.learn_gamma && config.gamma == 0) config.gamma = 1.0;  // log gamma starts at 0
  config.validate();

  Generator init_generator(flags.common.seed);
  // Reparameterisation noise: a distinct stream per rank (rank 0's is a 1-process run's).
  Generator noise(dist.rank_seed(noise_seed(flags.common.seed)));
  auto model = std::make_shared<vae::Vae>(config, DType::Float32, &init_generator);
  model->to(device);
  model->train();
  AdamParams adam;
  adam.lr = flags.lr;
  optim::Adam optimizer(model->network_parameters(), adam);
  std::unique_ptr<optim::Adam> gamma_optimizer;
  if (config.learn_gamma) {
    AdamParams gamma_adam;
    gamma_adam.lr = flags.gamma_lr;
    gamma_optimizer =
        std::make_unique<optim::Adam>(std::vector<Tensor>{model->log_gamma}, gamma_adam);
  }

  data::LoaderOptions loader_options;
  loader_options.batch_size = dist.local_batch(flags.batch);
  loader_options.rank = dist.rank;
  loader_options.world_size = dist.world_size;
  loader_options.seed = flags.common.seed;
  loader_options.device = device;
  data::DataLoader loader(sets.train, loader_options);
  const int64_t per_epoch = loader.batches_per_epoch();
  const int64_t total = flags.steps > 0 ? flags.steps : flags.epochs * per_epoch;
  const auto schedule = apps::make_lr_schedule(flags.lr_schedule, flags.lr, total);

  int64_t step = 0, epoch = 0, batch_in_epoch = 0;
  double earlier_seconds = 0;  // training time of the sessions before a resume
  if (resumed) {
    resumed->restore_model(*model);
    resumed->restore_optimizer(optimizer);
    if (gamma_optimizer)
      gamma_optimizer->load_state_tensors(resumed->tensors_under("extra."), "gamma_optim.");
    apps::restore_rank_generator(dist, *resumed, "noise", noise, noise_seed(flags.common.seed));
    apps::restore_rank_generator(dist, *resumed, "default", default_generator(), flags.common.seed);
    const apps::RunPosition at = apps::resume_position(*resumed, per_epoch);
    step = at.step, epoch = at.epoch, batch_in_epoch = at.batch_in_epoch;
    earlier_seconds = at.train_seconds;
  }
  // Rank 0's weights on every rank; gradients (log gamma's too) averaged over the ranks. One
  // per model of a sweep.
  const std::unique_ptr<nn::DataParallel> parallel = dist.make_data_parallel(*model);

  nlohmann::json run_config = {{"model", apps::vae_config_to_json(config)},
                               {"train",
                                {{"batch", flags.batch},
                                 {"lr", flags.lr},
                                 {"lr_schedule", flags.lr_schedule},
                                 {"gamma_lr", flags.gamma_lr},
                                 {"steps", total}}},
                               {"dataset", flags.dataset.to_json()},
                               {"seed", flags.common.seed}};
  dist.check_same("training settings", run_config.dump());
  std::fprintf(stderr,
               "train_vae: gamma %s%g, beta %g, %s, %s, batch %lld, %lld steps (%lld per epoch)\n",
               config.learn_gamma ? "learnt from " : "", config.gamma, config.beta,
               config.architecture.describe().c_str(), dist.describe().c_str(),
               static_cast<long long>(flags.batch), static_cast<long long>(total),
               static_cast<long long>(per_epoch));

  if (resumed)
    std::fprintf(stderr, "train_vae: resumed from %s at step %lld (epoch %lld, batch %lld)\n",
                 resumed->path.c_str(), static_cast<long long>(step),
                 static_cast<long long>(epoch + 1), static_cast<long long>(batch_in_epoch));

  const auto start = std::chrono::steady_clock::now();
  auto train_seconds = [&] { return earlier_seconds + seconds_since(start); };
  // Collective (every rank's random streams go in); only rank 0 writes the file.
  auto save_last = [&] {
    apps::TrainingState state = apps::resumable_state(
        "vae", run_config, {step, epoch, batch_in_epoch, train_seconds()}, dist.world_size);
    apps::store_rank_generators(dist, state, "noise", noise);
    apps::store_rank_generators(dist, state, "default", default_generator());
    std::map<std::string, Tensor> extra;
    if (gamma_optimizer) extra = gamma_optimizer->state_tensors("gamma_optim.");
    Checkpoint checkpoint = apps::make_training_checkpoint(*model, &optimizer, state, extra);
    if (dist.is_root()) save_checkpoint(last_path, checkpoint);
  };

  if (resumed && dist.is_root()) apps::truncate_log_after_step(log_path, step);
  std::optional<apps::MetricsLog> log;  // rank 0 only
  if (dist.is_root()) log.emplace(log_path, resumed != nullptr);
  apps::install_interrupt_handler();
  vae::VaeLoss last;
  double last_value = NAN;
  bool interrupted = false;  // on any rank, so that all ranks stop at the same step
  while (step < total && !interrupted) {
    loader.start_epoch(epoch, batch_in_epoch);
    apps::ProgressBar bar("gamma " +
                              (config.learn_gamma ? std::string("learnt") : std::to_string(gamma)) +
                              " epoch " + std::to_string(epoch + 1),
                          std::min(per_epoch - batch_in_epoch, total - step), "step");
    while (step < total && !interrupted) {
      std::optional<data::Batch> batch = loader.next();
      if (!batch) break;
      last = model->loss(batch->images, &noise);
      optimizer.zero_grad();
      if (gamma_optimizer) gamma_optimizer->zero_grad();
      parallel->backward(last.total);
      optim::apply_schedule(optimizer, *schedule);
      optimizer.step();
      if (gamma_optimizer) gamma_optimizer->step();
      const apps::GlobalVaeLoss global = apps::average_over_ranks(dist, last);
      const double value = global.total;
      interrupted = global.interrupted;
      last_value = value;
      KITE_CHECK(std::isfinite(value), "train_vae: the loss is " << value << " at step " << step + 1
                                                                 << " (try a lower --lr)");
      ++step;
      ++batch_in_epoch;
      if (log && (step % flags.log_every == 0 || step == total))
        log->write({{"step", step},
                    {"epoch", epoch + 1},
                    {"loss", value},
                    {"sse", last.sse},
                    {"kl", last.kl},
                    {"gamma", last.gamma},
                    {"lr", optimizer.learning_rate()}});
      char postfix[128];
      std::snprintf(postfix, sizeof postfix, "loss=%.4f sse=%.2f kl=%.2f gamma=%.3g", value,
                    last.sse, last.kl, last.gamma);
      bar.update(1, postfix);
      if (!interrupted && flags.checkpoint_every > 0 && step % flags.checkpoint_every == 0 &&
          step < total)
        save_last();
    }
    bar.finish();
    if (batch_in_epoch == per_epoch) ++epoch, batch_in_epoch = 0;
  }
  if (interrupted) {
    save_last();
    std::fprintf(stderr,
                 "\ntrain_vae: interrupted (signal %d) at step %lld; checkpoint saved to %s\n"
                 "train_vae: continue with: train_vae --resume --out %s\n",
                 apps::interrupt_signal(), static_cast<long long>(step), last_path.c_str(),
                 out.c_str());
    return {{"interrupted", true}};
  }
  const double seconds = train_seconds();
  save_last();

  // Evaluation on the test set.
  model->eval();
  apps::ReconstructionError error = apps::reconstruction_error_of(
      [&](const Tensor& x) { return model->reconstruct(x); }, *sets.test, flags.eval_batch, device);
  apps::SetPosterior posterior =
      apps::encode_posterior(*model, *sets.test, flags.eval_batch, device);
  double test_kl = 0, aggregate_kl = NAN;
  Tensor drawn;
  {
    NoGradGuard no_grad;
    vae::Posterior q{to_dtype(posterior.mean, DType::Float64),
                     to_dtype(posterior.log_var, DType::Float64)};
    Generator plot_noise(flags.common.seed + 17);
    drawn = config.deterministic() ? q.mean : vae::reparameterize(q, &plot_noise);
    if (!config.deterministic()) test_kl = mean(vae::kl_per_item(q)).item<double>();
    if (drawn.size(0) > drawn.size(1))
      aggregate_kl = fitted_gaussian_kl_from_standard_normal(drawn);
  }
  // The two most active axes: the largest variance of the posterior means over the test set.
  const int64_t d = config.architecture.latent_dim;
  std::vector<double> spread = to_double_vector(var(to_dtype(posterior.mean, DType::Float64), {0}));
  std::vector<int64_t> axes(d);
  std::iota(axes.begin(), axes.end(), 0);
  std::sort(axes.begin(), axes.end(), [&](int64_t a, int64_t b) { return spread[a] > spread[b]; });
  const int64_t shown = std::min<int64_t>(flags.plot_images, drawn.size(0));
  std::vector<double> values = to_double_vector(drawn), xs, ys;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < shown; ++i) {
    xs.push_back(values[i * d + axes[0]]);
    ys.push_back(values[i * d + (d > 1 ? axes[1] : axes[0])]);
    if (!sets.test->labels.empty()) labels.push_back(sets.test->labels[i]);
  }
  const double outside =
      dist.is_root() ? apps::write_latent_plot(out + "/posterior.png", xs, ys, labels) : NAN;

  nlohmann::json metrics = {{"gamma", model->gamma()},
                            {"gamma_initial", config.gamma},
                            {"learn_gamma", config.learn_gamma},
                            {"beta", config.beta},
                            {"steps", step},
                            {"train_images", sets.train->n},
                            {"test_images", error.images},
                            {"test_mse", error.mse},
                            {"test_mse_clipped", error.mse_clipped},
                            {"test_sse_per_image", error.sse_per_image},
                            {"test_kl_per_image", test_kl},
                            {"last_batch_loss", last_value},
                            {"aggregate_posterior_gaussian_kl", aggregate_kl},
                            {"plot_axes", {axes[0], d > 1 ? axes[1] : axes[0]}},
                            {"plot_fraction_outside", outside},
                            {"train_seconds", seconds},
                            {"world_size", dist.world_size},
                            {"checkpoint", last_path},
                            {"config", run_config}};
  if (dist.is_root()) apps::write_json_file(out + "/metrics.json", metrics);
  std::fprintf(stderr,
               "train_vae: test MSE %.5f per pixel (%.2f per image), KL %.2f nats, gamma %.4g, "
               "aggregate-posterior KL from N(0,I) %.3f; %.0f s\n",
               error.mse, error.sse_per_image, test_kl, model->gamma(), aggregate_kl, seconds);
  return metrics;
}

std::string gamma_folder(double gamma) {
  std::ostringstream name;
  name << "gamma_" << gamma;
  return name.str();
}

int run(const CLI::App& app, Flags& flags) {
  std::optional<apps::LoadedCheckpoint> resumed;
  if (flags.resume) {
    KITE_CHECK(flags.sweep.empty(),
               "--resume continues one run; a --gamma-sweep cannot be resumed "
               "(run the remaining gammas into a new --out)");
    resumed = take_settings_from_checkpoint(app, flags);
  }
  apps::configure_threads(flags.common.threads);
  // Data parallel under mpirun (world size 1 otherwise): --batch is the global batch.
  const apps::Distributed dist =
      apps::setup_distributed(flags.dist, apps::resolve_device(flags.common.device));
  manual_seed(dist.rank_seed(flags.common.seed));
  const apps::Datasets sets = apps::load_datasets(flags.dataset);
  if (flags.sweep.empty()) {
    train_one(flags, dist, sets, flags.gamma, flags.common.out, resumed ? &*resumed : nullptr);
    return 0;
  }
  // Fig. 3: one model per gamma, then a table.
  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream md;
  md << "| gamma | test MSE (per pixel) | test SSE (per image) | KL (nats/image) | "
        "aggregate posterior: KL(fitted Gaussian || N(0,I)) | plot |\n|---|---|---|---|---|---|\n";
  for (double gamma : flags.sweep) {
    const std::string folder = gamma_folder(gamma);
    nlohmann::json m = train_one(flags, dist, sets, gamma, flags.common.out + "/" + folder);
    if (m.contains("interrupted")) break;
    rows.push_back(m);
    char line[512];
    std::snprintf(line, sizeof line, "| %g | %.5f | %.2f | %.2f | %.3f | %s/posterior.png |\n",
                  gamma, m["test_mse"].get<double>(), m["test_sse_per_image"].get<double>(),
                  m["test_kl_per_image"].get<double>(),
                  m["aggregate_posterior_gaussian_kl"].is_number()
                      ? m["aggregate_posterior_gaussian_kl"].get<double>()
                      : NAN,
                  folder.c_str());
    md << line;
    if (dist.any(apps::interrupt_requested())) break;
  }
  if (!dist.is_root()) return 0;
  apps::write_json_file(flags.common.out + "/sweep.json", rows);
  std::ofstream(flags.common.out + "/sweep.md") << md.str();
  std::fprintf(stderr, "%s\ntrain_vae: wrote %s/sweep.json and sweep.md\n", md.str().c_str(),
               flags.common.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train the VAE baselines (fixed or learnt gamma, beta-VAE, gamma sweep)"};
  app.name("train_vae");
  Flags flags;
  apps::add_common_flags(app, flags.common, "runs/vae");
  apps::add_distributed_flags(app, flags.dist);
  apps::add_dataset_flags(app, flags.dataset);
  app.add_option("--gamma", flags.gamma, "Decoder variance (0: plain autoencoder)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--beta", flags.beta, "Weight of the KL term (beta-VAE)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--learn-gamma", flags.learn_gamma,
               "Learn log gamma (starts at log --gamma; 0 for gamma 0) with its own optimizer");
  app.add_option("--gamma-lr", flags.gamma_lr, "Adam learning rate of log gamma")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--gamma-sweep", flags.sweep, "Train one VAE per gamma, e.g. 0,0.01,0.1,1,10")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  app.add_option("--lr", flags.lr, "Adam learning rate of the networks")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  apps::add_lr_schedule_flag(app, flags.lr_schedule);
  app.add_option("--batch", flags.batch, "Global batch size (split over the ranks)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--epochs", flags.epochs, "Epochs (ignored with --steps)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--steps", flags.steps, "Total optimizer steps")->check(CLI::PositiveNumber);
  app.add_option("--channels", flags.channels, "Channel widths (default: by image size)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--latent", flags.latent, "Latent size (default: by image size)")
      ->check(CLI::PositiveNumber);
  app.add_option("--eval-batch", flags.eval_batch, "Batch size of the evaluation")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--plot-images", flags.plot_images, "Test images in posterior.png")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  apps::add_resume_flags(app, flags.checkpoint_every, flags.log_every, flags.resume,
                         flags.overwrite);
  return apps::run_main(app, argc, argv, [&] {
    return apps::run_distributed("train_vae", [&] { return run(app, flags); });
  });
}
