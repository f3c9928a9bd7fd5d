// train_two_stage: stage 2 of the 2-stage VAE (Dai & Wipf 2019). Takes a stage-1 VAE with a
// learnt gamma (train_vae --learn-gamma), encodes the training set once (mu, log sigma^2),
// and trains a second VAE on codes re-drawn z ~ q(z|x) every batch. Generation then runs
// u ~ N(0, I) -> stage-2 decoder -> stage-1 decoder (`evaluate` does it).
//
//   train_vae --learn-gamma --out runs/vae_learnt
//   train_two_stage --stage1 runs/vae_learnt/last.safetensors --out runs/two_stage
//   train_two_stage --resume --out runs/two_stage      # continue exactly where a run stopped
//
// Writes into --out: last.safetensors (kind "two_stage_vae": both stages), log.jsonl,
// metrics.json (stage-2 loss parts on the test codes, both gammas, training time; only for a
// finished run).
//
// Exact resumption: last.safetensors is also written every --checkpoint-every steps and on
// Ctrl-C, with both optimizers' state (the networks' and log gamma_z's), the step, the position
// in the epoch and each rank's noise stream, so that `--resume` continues with the same losses,
// bit for bit, as a run never stopped. A resumed run keeps its settings (--epochs or --steps may
// extend it) and takes stage 1 from its own checkpoint, not from the --stage1 file. An --out
// that already holds a run needs --resume or --overwrite.
//
// Runs data parallel under `mpirun -np N` (apps/common/distributed.h): --batch is the global
// batch (rank r takes every N-th row of each epoch's order), only rank 0 prints and writes
// files. Stage 2's log gamma_z is a parameter of stage 2, so its gradient is averaged with the
// networks'. Every rank encodes the whole training set once (stage 1 is the same everywhere).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>

#include "apps/common/distributed.h"
#include "apps/common/main.h"
#include "apps/common/metrics_log.h"
#include "apps/common/progress.h"
#include "apps/common/training.h"
#include "apps/common/vae_io.h"
#include "engine/autograd.h"
#include "models/optim/adam.h"
#include "ops/ops.h"

namespace {

using namespace kite;
namespace fs = std::filesystem;

struct Flags {
  std::string stage1, out = "runs/two_stage", device = "cpu";
  int64_t batch = 64, epochs = 10, steps = 0, hidden = 1024, depth = 3, eval_batch = 500,
          log_every = 50, checkpoint_every = 500;
  double lr = 5e-4, gamma_lr = 1e-2;
  uint64_t seed = 0;
  int threads = 0;
  bool resume = false, overwrite = false;
  apps::DistributedFlags dist;
  apps::DatasetFlags dataset;
};

// The seed of the code re-draws and the loss's noise (rank 0's; see Distributed::rank_seed).
uint64_t noise_seed(uint64_t seed) { return seed ^ 0x5ec0ddull; }

// A random order of n rows for an epoch (Philox stream of (seed, epoch)).
std::vector<int64_t> shuffled(int64_t n, uint64_t seed, int64_t epoch) {
  Generator generator;
  generator.set_state({seed ^ 0x2057a9e, static_cast<uint64_t>(epoch) << 36});
  std::vector<double> u(n);
  generator.fill_uniform(u.data(), n);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[i], order[std::min<int64_t>(i, static_cast<int64_t>((1.0 - u[i]) * (i + 1)))]);
  return order;
}

// --resume: the settings of the run in --out replace the flags (one given again must agree);
// --steps and --epochs may extend the run.
apps::LoadedCheckpoint take_settings_from_checkpoint(const CLI::App& app, Flags& flags) {
  const std::string path = flags.out + "/last.safetensors";
  KITE_CHECK(fs::exists(path), "--resume: no checkpoint to resume at " << path << " (check --out)");
  apps::LoadedCheckpoint loaded = apps::read_training_checkpoint(path, "two_stage_vae");
  const vae::SecondStageConfig second =
      apps::second_stage_config_from_json(loaded.config_section("stage2"));
  const nlohmann::json& train = loaded.config_section("train");
  KITE_CHECK(train.contains("steps") && train.contains("eval_batch"),
             "--resume: " << path
                          << " was written by a train_two_stage without --resume (no optimizer "
                             "or noise state to continue from); start a new --out instead");
  apps::take_resumed_setting(app, "--stage1", flags.stage1,
                             loaded.config_section("stage1_checkpoint").get<std::string>());
  apps::take_resumed_setting(app, "--hidden", flags.hidden, second.hidden);
  apps::take_resumed_setting(app, "--depth", flags.depth, second.depth);
  apps::take_resumed_setting(app, "--lr", flags.lr, train.at("lr").get<double>());
  apps::take_resumed_setting(app, "--gamma-lr", flags.gamma_lr, train.at("gamma_lr").get<double>());
  apps::take_resumed_setting(app, "--batch", flags.batch, train.at("batch").get<int64_t>());
  // The encoding passes' batch size could change the codes in the last bits.
  apps::take_resumed_setting(app, "--eval-batch", flags.eval_batch,
                             train.at("eval_batch").get<int64_t>());
  apps::take_resumed_setting(app, "--seed", flags.seed,
                             loaded.state.config.at("seed").get<uint64_t>());
  flags.dataset = apps::take_resumed_dataset(app, flags.dataset, loaded.config_section("dataset"));
  if (app.count("--epochs") == 0) flags.epochs = train.at("epochs").get<int64_t>();
  if (app.count("--steps") == 0 && app.count("--epochs") == 0)
    flags.steps = train.at("steps").get<int64_t>();
  return loaded;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run(const CLI::App& app, Flags& flags) {
  std::optional<apps::LoadedCheckpoint> resumed;
  if (flags.resume) resumed = take_settings_from_checkpoint(app, flags);
  const std::string last_path = flags.out + "/last.safetensors",
                    log_path = flags.out + "/log.jsonl", metrics_path = flags.out + "/metrics.json";
  KITE_CHECK(resumed || flags.overwrite || !fs::exists(last_path),
             flags.out << " already holds a run (" << last_path
                       << "); pass --resume to continue it or --overwrite to start again");
  apps::configure_threads(flags.threads);
  // Data parallel under mpirun (world size 1 otherwise): --batch is the global batch.
  const apps::Distributed dist =
      apps::setup_distributed(flags.dist, apps::resolve_device(flags.device));
  const Device device = dist.device;
  if (dist.is_root()) fs::create_directories(flags.out);

  // Stage 1 and the data: from the --stage1 checkpoint, or the resumed run's own.
  vae::VaeConfig stage1_config;
  std::optional<apps::LoadedVae> first;
  if (resumed) {
    stage1_config = apps::vae_config_from_json(resumed->config_section("stage1"));
  } else {
    first = apps::load_vae(flags.stage1, device);
    stage1_config = first->model->config();
    KITE_CHECK(stage1_config.learn_gamma,
               "train_two_stage: " << flags.stage1
                                   << " has a fixed gamma; the 2-stage VAE's stage 1 learns it "
                                      "(train_vae --learn-gamma)");
    // The data of stage 1 unless dataset flags say otherwise.
    const nlohmann::json& stored = first->checkpoint.state.config;
    if (stored.contains("dataset"))
      flags.dataset = apps::override_dataset_flags(
          app, apps::DatasetFlags::from_json(stored["dataset"]), flags.dataset);
  }
  const apps::Datasets sets = apps::load_datasets(flags.dataset);

  vae::SecondStageConfig second{stage1_config.architecture.latent_dim, flags.hidden, flags.depth};
  Generator init_generator(flags.seed + 1);
  auto model =
      std::make_shared<vae::TwoStageVae>(stage1_config, second, DType::Float32, &init_generator);
  if (resumed)
    resumed->restore_model(*model);
  else
    model->stage1->load_state_dict(first->model->state_dict());
  first.reset();
  model->to(device);
  model->eval();

  std::fprintf(stderr, "train_two_stage: stage 1 %s (gamma %.4g); encoding %lld training images\n",
               flags.stage1.c_str(), model->stage1->gamma(), static_cast<long long>(sets.train->n));
  apps::SetPosterior train_q =
      apps::encode_posterior(*model->stage1, *sets.train, flags.eval_batch, device);
  apps::SetPosterior test_q =
      apps::encode_posterior(*model->stage1, *sets.test, flags.eval_batch, device);
  Tensor train_mean = to_device(train_q.mean, device),
         train_log_var = to_device(train_q.log_var, device);

  model->stage2->train();
  AdamParams adam;
  adam.lr = flags.lr;
  optim::Adam optimizer(model->stage2->network_parameters(), adam);
  AdamParams gamma_adam;
  gamma_adam.lr = flags.gamma_lr;
  optim::Adam gamma_optimizer({model->stage2->log_gamma}, gamma_adam);
  // Code re-draws and the loss's noise: a distinct stream per rank (rank 0's is a 1-process
  // run's).
  Generator noise(dist.rank_seed(noise_seed(flags.seed)));

  // Every rank gets the same number of rows (the tail that does not divide evenly is
  // dropped), so all ranks run the same steps; one rank is the whole set.
  const int64_t rows_per_rank = train_mean.size(0) / dist.world_size;
  KITE_CHECK(rows_per_rank > 0, "train_two_stage: " << train_mean.size(0)
                                                    << " training codes are too few for "
                                                    << dist.world_size << " ranks");
  const int64_t local_batch = dist.local_batch(flags.batch);
  const int64_t per_epoch = (rows_per_rank + local_batch - 1) / local_batch;
  const int64_t total = flags.steps > 0 ? flags.steps : flags.epochs * per_epoch;

  int64_t step = 0, epoch = 0, batch_in_epoch = 0;
  double earlier_seconds = 0;  // training time of the sessions before a resume
  if (resumed) {
    resumed->restore_optimizer(optimizer);
    gamma_optimizer.load_state_tensors(resumed->tensors_under("extra."), "gamma_optim.");
    apps::restore_rank_generator(dist, *resumed, "noise", noise, noise_seed(flags.seed));
    const apps::RunPosition at = apps::resume_position(*resumed, per_epoch);
    step = at.step, epoch = at.epoch, batch_in_epoch = at.batch_in_epoch;
    earlier_seconds = at.train_seconds;
  }
  // Rank 0's weights on every rank; stage 2's gradients (log gamma_z's too) averaged.
  const std::unique_ptr<nn::DataParallel> parallel = dist.make_data_parallel(*model->stage2);

  // Keys read by vae_io's load_two_stage_vae (stage1, stage2) and by metrics.json's readers.
  const nlohmann::json run_config = {{"stage1", apps::vae_config_to_json(stage1_config)},
                                     {"stage2", apps::second_stage_config_to_json(second)},
                                     {"stage1_checkpoint", flags.stage1},
                                     {"dataset", flags.dataset.to_json()},
                                     {"train",
                                      {{"batch", flags.batch},
                                       {"lr", flags.lr},
                                       {"gamma_lr", flags.gamma_lr},
                                       {"epochs", flags.epochs},
                                       {"steps", total},
                                       {"eval_batch", flags.eval_batch}}},
                                     {"seed", flags.seed}};
  dist.check_same("training settings", run_config.dump());
  if (resumed)
    std::fprintf(stderr,
                 "train_two_stage: resumed from %s at step %lld of %lld (epoch %lld, batch %lld)\n",
                 resumed->path.c_str(), static_cast<long long>(step), static_cast<long long>(total),
                 static_cast<long long>(epoch + 1), static_cast<long long>(batch_in_epoch));

  const auto start = std::chrono::steady_clock::now();
  auto train_seconds = [&] { return earlier_seconds + seconds_since(start); };
  // Collective (every rank's noise stream goes in); only rank 0 writes the file.
  auto save_last = [&] {
    apps::TrainingState state =
        apps::resumable_state("two_stage_vae", run_config,
                              {step, epoch, batch_in_epoch, train_seconds()}, dist.world_size);
    apps::store_rank_generators(dist, state, "noise", noise);
    Checkpoint checkpoint = apps::make_training_checkpoint(
        *model, &optimizer, state, gamma_optimizer.state_tensors("gamma_optim."));
    if (dist.is_root()) save_checkpoint(last_path, checkpoint);
  };

  std::optional<apps::MetricsLog> log;  // rank 0 only
  if (dist.is_root()) {
    // metrics.json describes a finished run; this one is about to change the checkpoint.
    fs::remove(metrics_path);
    if (resumed) apps::truncate_log_after_step(log_path, step);
    log.emplace(log_path, resumed.has_value());
  }
  apps::install_interrupt_handler();
  const int64_t epochs_in_total = (total + per_epoch - 1) / per_epoch;
  bool interrupted = false;  // on any rank, so that all ranks stop at the same step
  while (step < total && !interrupted) {
    // This rank's rows: positions rank, rank + N, ... of the epoch's order, so a global batch
    // holds the same rows as a 1-process run's batch. A resumed epoch skips the batches
    // trained on before the checkpoint.
    const std::vector<int64_t> order = shuffled(train_mean.size(0), flags.seed, epoch);
    std::vector<int64_t> mine;
    mine.reserve(rows_per_rank);
    for (int64_t i = dist.rank; i < rows_per_rank * dist.world_size; i += dist.world_size)
      mine.push_back(order[i]);
    apps::ProgressBar bar(
        "stage 2 epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs_in_total),
        std::min(per_epoch - batch_in_epoch, total - step), "step");
    while (batch_in_epoch < per_epoch && step < total && !interrupted) {
      const int64_t first_row = batch_in_epoch * local_batch,
                    count = std::min(local_batch, rows_per_rank - first_row);
      Tensor index = to_device(
          Tensor::from_vector(
              std::vector<int64_t>(mine.begin() + first_row, mine.begin() + first_row + count),
              {count}),
          device);
      // Codes re-drawn from q(z|x) every time a row is used.
      Tensor z;
      {
        NoGradGuard no_grad;
        z = vae::reparameterize(
            {index_select(train_mean, 0, index), index_select(train_log_var, 0, index)}, &noise);
      }
      vae::VaeLoss loss = model->stage2->loss(z, &noise);
      optimizer.zero_grad();
      gamma_optimizer.zero_grad();
      parallel->backward(loss.total);
      optimizer.step();
      gamma_optimizer.step();
      const apps::GlobalVaeLoss global = apps::average_over_ranks(dist, loss);
      const double value = global.total;
      interrupted = global.interrupted;
      KITE_CHECK(std::isfinite(value),
                 "train_two_stage: the loss is " << value << " at step " << step + 1);
      ++step;
      ++batch_in_epoch;
      if (log && (step % flags.log_every == 0 || step == total))
        log->write({{"step", step},
                    {"epoch", epoch + 1},
                    {"loss", value},
                    {"kl", loss.kl},
                    {"sse", loss.sse},
                    {"gamma_z", loss.gamma}});
      char postfix[128];
      std::snprintf(postfix, sizeof postfix, "loss=%.4f kl=%.2f gamma_z=%.3g", value, loss.kl,
                    loss.gamma);
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
    if (dist.is_root())
      std::fprintf(stderr,
                   "\ntrain_two_stage: interrupted (signal %d) at step %lld; checkpoint saved to "
                   "%s\ntrain_two_stage: continue with: train_two_stage --resume --out %s\n",
                   apps::interrupt_signal(), static_cast<long long>(step), last_path.c_str(),
                   flags.out.c_str());
    return 0;
  }
  const double seconds = train_seconds();
  save_last();

  // Stage-2 loss on the test codes (one draw each).
  model->eval();
  double test_kl = 0, test_sse = 0;
  {
    NoGradGuard no_grad;
    Generator test_noise(flags.seed + 99);
    Tensor z = vae::reparameterize(
        {to_device(test_q.mean, device), to_device(test_q.log_var, device)}, &test_noise);
    vae::VaeLoss loss = model->stage2->loss(z, &test_noise);
    test_kl = loss.kl;
    test_sse = loss.sse;
  }

  if (!dist.is_root()) return 0;
  nlohmann::json metrics = {{"stage1_gamma", model->stage1->gamma()},
                            {"stage2_gamma", model->stage2->gamma()},
                            {"stage2_test_kl_per_code", test_kl},
                            {"stage2_test_sse_per_code", test_sse},
                            {"steps", step},
                            {"train_seconds", seconds},
                            {"world_size", dist.world_size},
                            {"checkpoint", last_path},
                            {"config", run_config}};
  apps::write_json_file(metrics_path, metrics);
  std::fprintf(
      stderr,
      "train_two_stage: stage-2 gamma %.4g, test KL %.2f, test code SSE %.3f; %.0f s; wrote %s\n",
      model->stage2->gamma(), test_kl, test_sse, seconds, last_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train stage 2 of the 2-stage VAE on a learnt-gamma stage-1 VAE's codes"};
  app.name("train_two_stage");
  Flags flags;
  app.add_option("--stage1", flags.stage1,
                 "A train_vae --learn-gamma checkpoint (required unless --resume)");
  app.add_option("--out", flags.out, "Output folder")->capture_default_str();
  apps::add_device_flag(app, flags.device);
  apps::add_distributed_flags(app, flags.dist);
  apps::add_dataset_flags(app, flags.dataset);
  app.add_option("--epochs", flags.epochs, "Epochs over the training codes (ignored with --steps)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--steps", flags.steps, "Total optimizer steps")->check(CLI::PositiveNumber);
  app.add_option("--batch", flags.batch, "Global batch size (split over the ranks)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", flags.lr, "Adam learning rate of the MLPs")->capture_default_str();
  app.add_option("--gamma-lr", flags.gamma_lr, "Adam learning rate of log gamma_z")
      ->capture_default_str();
  app.add_option("--hidden", flags.hidden, "Width of the MLPs")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--depth", flags.depth, "Hidden layers of each MLP")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--eval-batch", flags.eval_batch, "Batch size of the encoding passes")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  apps::add_resume_flags(app, flags.checkpoint_every, flags.log_every, flags.resume,
                         flags.overwrite);
  app.add_option("--seed", flags.seed, "Seed")->capture_default_str();
  app.add_option("--threads", flags.threads, "CPU threads (0: OpenMP's default)");
  // A resumed run names its stage 1 in its checkpoint; a new run must be given one.
  app.callback([&] {
    if (!flags.resume && flags.stage1.empty()) throw CLI::RequiredError("--stage1");
  });
  return apps::run_main(app, argc, argv, [&] {
    return apps::run_distributed("train_two_stage", [&] { return run(app, flags); });
  });
}
