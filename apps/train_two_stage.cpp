// train_two_stage: stage 2 of the 2-stage VAE (Dai & Wipf 2019). Takes a stage-1 VAE with a
// learnt gamma (train_vae --learn-gamma), encodes the training set once (mu, log sigma^2),
// and trains a second VAE on codes re-drawn z ~ q(z|x) every batch. Generation then runs
// u ~ N(0, I) -> stage-2 decoder -> stage-1 decoder (`evaluate` does it).
//
//   train_vae --learn-gamma --out runs/vae_learnt
//   train_two_stage --stage1 runs/vae_learnt/last.safetensors --out runs/two_stage
//
// Writes into --out: last.safetensors (kind "two_stage_vae": both stages), log.jsonl,
// metrics.json (stage-2 loss parts on the test codes, both gammas, training time).
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

struct Flags {
  std::string stage1, out = "runs/two_stage", device = "cpu";
  int64_t batch = 64, epochs = 10, hidden = 1024, depth = 3, eval_batch = 500, log_every = 50;
  double lr = 5e-4, gamma_lr = 1e-2;
  uint64_t seed = 0;
  int threads = 0;
  apps::DistributedFlags dist;
  apps::DatasetFlags dataset;
};

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

int run(const CLI::App& app, Flags& flags) {
  apps::configure_threads(flags.threads);
  // Data parallel under mpirun (world size 1 otherwise): --batch is the global batch.
  const apps::Distributed dist =
      apps::setup_distributed(flags.dist, apps::resolve_device(flags.device));
  const Device device = dist.device;
  if (dist.is_root()) std::filesystem::create_directories(flags.out);
  apps::LoadedVae first = apps::load_vae(flags.stage1, device);
  const vae::VaeConfig stage1_config = first.model->config();
  KITE_CHECK(stage1_config.learn_gamma,
             "train_two_stage: " << flags.stage1
                                 << " has a fixed gamma; the 2-stage VAE's stage 1 learns it "
                                    "(train_vae --learn-gamma)");
  // The data of stage 1 unless dataset flags say otherwise.
  const nlohmann::json& stored = first.checkpoint.state.config;
  apps::DatasetFlags dataset_flags =
      stored.contains("dataset")
          ? apps::override_dataset_flags(app, apps::DatasetFlags::from_json(stored["dataset"]),
                                         flags.dataset)
          : flags.dataset;
  const apps::Datasets sets = apps::load_datasets(dataset_flags);

  vae::SecondStageConfig second{stage1_config.architecture.latent_dim, flags.hidden, flags.depth};
  Generator init_generator(flags.seed + 1);
  auto model =
      std::make_shared<vae::TwoStageVae>(stage1_config, second, DType::Float32, &init_generator);
  model->stage1->load_state_dict(first.model->state_dict());
  model->to(device);
  model->eval();

  std::fprintf(stderr, "train_two_stage: stage 1 %s (gamma %.4g); encoding %lld training images\n",
               flags.stage1.c_str(), first.model->gamma(), static_cast<long long>(sets.train->n));
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
  Generator noise(dist.rank_seed(flags.seed ^ 0x5ec0ddull));
  // Rank 0's weights on every rank; stage 2's gradients (log gamma_z's too) averaged.
  const std::unique_ptr<nn::DataParallel> parallel = dist.make_data_parallel(*model->stage2);

  // Every rank gets the same number of rows (the tail that does not divide evenly is
  // dropped), so all ranks run the same steps; one rank is the whole set.
  const int64_t rows_per_rank = train_mean.size(0) / dist.world_size;
  KITE_CHECK(rows_per_rank > 0, "train_two_stage: " << train_mean.size(0)
                                                    << " training codes are too few for "
                                                    << dist.world_size << " ranks");
  const int64_t local_batch = dist.local_batch(flags.batch);
  const int64_t per_epoch = (rows_per_rank + local_batch - 1) / local_batch;
  std::optional<apps::MetricsLog> log;  // rank 0 only
  if (dist.is_root()) log.emplace(flags.out + "/log.jsonl");
  apps::install_interrupt_handler();
  const auto start = std::chrono::steady_clock::now();
  int64_t step = 0;
  bool interrupted = false;  // on any rank, so that all ranks stop at the same step
  for (int64_t epoch = 0; epoch < flags.epochs && !interrupted; ++epoch) {
    // This rank's rows: positions rank, rank + N, ... of the epoch's order, so a global batch
    // holds the same rows as a 1-process run's batch.
    const std::vector<int64_t> order = shuffled(train_mean.size(0), flags.seed, epoch);
    std::vector<int64_t> mine;
    mine.reserve(rows_per_rank);
    for (int64_t i = dist.rank; i < rows_per_rank * dist.world_size; i += dist.world_size)
      mine.push_back(order[i]);
    apps::ProgressBar bar(
        "stage 2 epoch " + std::to_string(epoch + 1) + "/" + std::to_string(flags.epochs),
        per_epoch, "step");
    for (int64_t b = 0; b < per_epoch && !interrupted; ++b) {
      const int64_t first_row = b * local_batch,
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
      if (log && step % flags.log_every == 0)
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
    }
    bar.finish();
  }
  const double train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

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

  apps::TrainingState state;
  state.kind = "two_stage_vae";
  state.step = step;
  state.epoch = flags.epochs;
  state.config = {{"stage1", apps::vae_config_to_json(stage1_config)},
                  {"stage2", apps::second_stage_config_to_json(second)},
                  {"stage1_checkpoint", flags.stage1},
                  {"dataset", dataset_flags.to_json()},
                  {"train",
                   {{"batch", flags.batch},
                    {"lr", flags.lr},
                    {"gamma_lr", flags.gamma_lr},
                    {"epochs", flags.epochs}}},
                  {"seed", flags.seed}};
  if (!dist.is_root()) return 0;
  save_checkpoint(flags.out + "/last.safetensors",
                  apps::make_training_checkpoint(*model, &optimizer, state));
  nlohmann::json metrics = {{"stage1_gamma", model->stage1->gamma()},
                            {"stage2_gamma", model->stage2->gamma()},
                            {"stage2_test_kl_per_code", test_kl},
                            {"stage2_test_sse_per_code", test_sse},
                            {"steps", step},
                            {"train_seconds", train_seconds},
                            {"world_size", dist.world_size},
                            {"checkpoint", flags.out + "/last.safetensors"},
                            {"config", state.config}};
  apps::write_json_file(flags.out + "/metrics.json", metrics);
  std::fprintf(
      stderr,
      "train_two_stage: stage-2 gamma %.4g, test KL %.2f, test code SSE %.3f; %.0f s; wrote %s\n",
      model->stage2->gamma(), test_kl, test_sse, train_seconds,
      (flags.out + "/last.safetensors").c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train stage 2 of the 2-stage VAE on a learnt-gamma stage-1 VAE's codes"};
  app.name("train_two_stage");
  Flags flags;
  app.add_option("--stage1", flags.stage1, "A train_vae --learn-gamma checkpoint")->required();
  app.add_option("--out", flags.out, "Output folder")->capture_default_str();
  apps::add_device_flag(app, flags.device);
  apps::add_distributed_flags(app, flags.dist);
  apps::add_dataset_flags(app, flags.dataset);
  app.add_option("--epochs", flags.epochs, "Epochs over the training codes")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
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
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "Seed")->capture_default_str();
  app.add_option("--threads", flags.threads, "CPU threads (0: OpenMP's default)");
  return apps::run_main(app, argc, argv, [&] {
    return apps::run_distributed("train_two_stage", [&] { return run(app, flags); });
  });
}
