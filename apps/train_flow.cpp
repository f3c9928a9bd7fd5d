// train_flow: stage 2 of the decoupled VAE. Fits an i-ResNet flow by maximum likelihood to
// the standardised latent codes of a trained autoencoder (the output of `encode`), and
// reports every epoch, on the same codes, the exact test NLL of three priors:
//   N(0, I)        what a VAE assumes
//   full Gaussian  the simplest fitted prior (the flow must beat it to earn its place)
//   the flow       exact log-determinants
// plus inverse residuals and the spectral norm of every SN layer. The flow's base is N(0, I)
// (the paper's) or, with --base-components K, a learnt K-component Gaussian mixture.
//
//   train_flow --codes runs/ae/codes.safetensors --out runs/flow
#include <cmath>
#include <csignal>
#include <filesystem>
#include <numeric>
#include <optional>

#include "apps/common/distributed.h"
#include "apps/common/flow_io.h"
#include "apps/common/main.h"
#include "apps/common/metrics_log.h"
#include "apps/common/progress.h"
#include "apps/common/training.h"
#include "engine/checkpoint.h"
#include "models/flow/evaluate.h"
#include "models/optim/adam.h"
#include "models/optim/lr_schedule.h"
#include "models/prior/gaussian.h"
#include "models/prior/gmm.h"
#include "models/prior/standardizer.h"
#include "ops/ops.h"

using namespace kite;

namespace {

struct Options {
  std::string codes, out = "runs/flow", device = "cpu", activation = "elu", logdet = "exact",
                     dtype = "float32";
  std::string resume;
  int blocks = 10, power_iterations = 1, series_terms = 5, threads = 0, epochs = 10;
  int64_t hidden = 128, batch = 256, warmup = 200, validation = 5000, inverse_samples = 10000;
  int64_t base_components = 0;
  double coeff = 0.9, lr = 1e-3, min_lr_ratio = 0.05, clip = 1.0;
  uint64_t seed = 0;
};

flow::LogdetMethod parse_logdet(const std::string& name) {
  if (name == "exact") return flow::LogdetMethod::Exact;
  if (name == "series") return flow::LogdetMethod::Series;
  if (name == "roulette") return flow::LogdetMethod::RussianRoulette;
  KITE_FAIL("--logdet must be exact, series or roulette, got '" << name << "'");
}

Tensor load_codes(const Checkpoint& file, const std::string& name, const std::string& path) {
  auto it = file.tensors.find(name);
  KITE_CHECK(it != file.tensors.end(),
             path << ": no tensor '" << name << "' (expected the output of `encode`)");
  KITE_CHECK(it->second.dim() == 2 && it->second.size(0) > 1,
             path << ": '" << name << "' must be [n, d], got " << describe(it->second));
  return it->second;
}

// Rows of `codes` in a random order of the epoch (Philox stream of (seed, epoch)).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  Generator generator;
  generator.set_state({seed ^ 0x5eed, static_cast<uint64_t>(epoch) << 36});
  std::vector<double> u(n);
  generator.fill_uniform(u.data(), n);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[i], order[std::min<int64_t>(i, (1.0 - u[i]) * (i + 1))]);
  return order;
}

Tensor rows(const Tensor& codes, const std::vector<int64_t>& order, int64_t start, int64_t count) {
  std::vector<int64_t> index(order.begin() + start, order.begin() + start + count);
  return index_select(codes, 0, to_device(Tensor::from_vector(index, {count}), codes.device()));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Stage 2 of the decoupled VAE: fit an i-ResNet flow to standardised latent codes"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.name("train_flow");
  Options o;
  apps::DistributedFlags dist_flags;
  apps::add_distributed_flags(app, dist_flags);
  app.add_option("--codes", o.codes, "Codes file written by `encode` (codes_train, codes_test)")
      ->required();
  app.add_option("--out", o.out, "Output folder (checkpoints, log.jsonl, metrics.json)");
  app.add_option("--device", o.device, "cpu or cuda[:i]");
  app.add_option("--dtype", o.dtype, "float32 or float64")
      ->check(CLI::IsMember({"float32", "float64"}));
  app.add_option("--seed", o.seed, "Seed for initialisation, shuffling and probes");
  app.add_option("--threads", o.threads, "CPU threads (0: OpenMP default)");
  app.add_option("--epochs", o.epochs, "Training epochs")->check(CLI::PositiveNumber);
  app.add_option("--batch", o.batch, "Batch size")->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr,
                 "Peak learning rate (Adam), reached after --warmup steps, then cosine decay");
  app.add_option("--warmup", o.warmup, "Linear warm-up steps");
  app.add_option("--clip", o.clip, "Gradient-norm clip (0: off)");
  app.add_option("--blocks", o.blocks, "Residual blocks")->check(CLI::PositiveNumber);
  app.add_option("--hidden", o.hidden, "Hidden width of each block's MLP")
      ->check(CLI::PositiveNumber);
  app.add_option("--coeff", o.coeff, "Lipschitz coefficient c of each SN layer, in (0, 1)");
  app.add_option("--activation", o.activation, "elu or lipswish");
  app.add_option("--power-iterations", o.power_iterations, "Power iterations per training step");
  app.add_option("--base-components", o.base_components,
                 "Base distribution: 0 for N(0, I) (the paper's), K > 0 for a learnable "
                 "K-component Gaussian mixture, started from an EM fit")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--logdet", o.logdet,
                 "Training log-det: exact, series (Hutchinson, truncated) or roulette");
  app.add_option("--series-terms", o.series_terms, "Terms of the truncated series");
  app.add_option("--validation", o.validation,
                 "Training codes held out to pick the best checkpoint");
  app.add_option("--inverse-samples", o.inverse_samples,
                 "Base samples for the final inverse check");
  app.add_option("--resume", o.resume,
                 "Continue from this checkpoint (e.g. runs/flow/last.safetensors)");

  return apps::run_main(app, argc, argv, [&] {
    return apps::run_distributed("train_flow", [&] {
      apps::configure_threads(o.threads);
      // Data parallel under mpirun: --batch is the global batch, each rank takes batch / N rows.
      const apps::Distributed dist = apps::setup_distributed(dist_flags, Device::parse(o.device));
      const Device device = dist.device;
      const DType dtype = o.dtype == "float64" ? DType::Float64 : DType::Float32;
      const flow::LogdetMethod train_logdet = parse_logdet(o.logdet);
      manual_seed(dist.rank_seed(o.seed));  // Hutchinson probes: a stream per rank
      apps::install_interrupt_handler();

      Checkpoint codes_file = load_checkpoint(o.codes);
      Tensor train_all = to_dtype(load_codes(codes_file, "codes_train", o.codes), dtype);
      Tensor test = to_dtype(load_codes(codes_file, "codes_test", o.codes), dtype);
      KITE_CHECK(train_all.size(1) == test.size(1),
                 o.codes << ": train and test codes differ in size");
      const int64_t d = train_all.size(1);
      const int64_t n_val = std::min(o.validation, train_all.size(0) / 10);
      // The validation rows are the last rows in a fixed shuffled order of the training codes.
      std::vector<int64_t> split = epoch_order(train_all.size(0), o.seed, -1);
      const int64_t n_train = train_all.size(0) - n_val;
      Tensor train = rows(train_all, split, 0, n_train),
             val = rows(train_all, split, n_train, n_val);

      prior::Standardizer standardizer = prior::Standardizer::fit(train);
      Tensor train_s = to_device(standardizer.forward(train), device);
      Tensor val_s = to_device(standardizer.forward(val), device);
      Tensor test_s = to_device(standardizer.forward(test), device);

      // The two reference priors, on the same standardised codes.
      prior::FullGaussian gaussian = prior::FullGaussian::fit(train_s);
      const double nll_normal = prior::standard_normal_nll_per_dim(test_s);
      const double nll_gaussian = -mean(gaussian.log_prob(test_s)).item<double>() / d;

      flow::IResNetConfig config{d,       o.blocks,           o.hidden,
                                 o.coeff, o.power_iterations, apps::parse_activation(o.activation),
                                 true,    o.base_components};
      flow::IResNet model(config, dtype);
      model.to(device);
      {
        // Data-initialise every ActNorm with one forward pass on a large batch.
        NoGradGuard no_grad;
        model.forward(narrow(train_s, 0, 0, std::min<int64_t>(n_train, 4096)));
      }
      if (model.mixture_base() && o.resume.empty()) {
        // Fit the base by EM to where the initial flow sends the training codes: training then
        // starts from that mixture's likelihood and learns base and flow together.
        NoGradGuard no_grad;
        Tensor z = to_device(to_dtype(model.transform(train_s), DType::Float64), Device::cpu());
        prior::GmmOptions gmm_options;
        gmm_options.components = o.base_components;
        gmm_options.seed = o.seed;
        prior::GaussianMixture fitted = prior::GaussianMixture::fit(z, gmm_options);
        model.mixture_base()->set_from(fitted);
        std::printf(
            "mixture base: %lld components fitted by EM (%zu iterations, %s), %.4f nats/dim\n",
            static_cast<long long>(o.base_components), fitted.history().size(),
            fitted.converged() ? "converged" : "not converged",
            -fitted.history().back() / static_cast<double>(d));
      }
      optim::Adam optimizer(model.parameters(), {o.lr, 0.9, 0.99, 1e-8, 0.0, false});
      const int64_t local_batch = dist.local_batch(o.batch);
      const int64_t steps_per_epoch = (n_train + o.batch - 1) / o.batch;
      // Warm-up takes at most a tenth of the run.
      o.warmup = std::min<int64_t>(o.warmup, std::max<int64_t>(1, steps_per_epoch * o.epochs / 10));
      auto schedule = std::make_shared<optim::WarmupLr>(
          std::make_shared<optim::CosineLr>(o.lr, o.lr * o.min_lr_ratio,
                                            steps_per_epoch * o.epochs),
          o.warmup);

      if (dist.is_root()) std::filesystem::create_directories(o.out);
      apps::CheckpointKeeper keeper(o.out, true);
      int start_epoch = 0, epoch_in_progress = 0;
      auto checkpoint = [&](int next_epoch) {
        apps::TrainingState state;
        state.kind = "flow";
        state.step = optimizer.step_count();
        state.epoch = next_epoch;
        apps::store_rank_generators(dist, state, "default", default_generator());
        state.metadata["world_size"] = std::to_string(dist.world_size);
        state.config = apps::flow_config_to_json(config);
        state.config["codes"] = o.codes;
        state.metadata["dtype"] = o.dtype;
        return apps::make_training_checkpoint(
            model, &optimizer, state,
            {{"standardizer.mean", standardizer.mean}, {"standardizer.std", standardizer.stddev}});
      };
      if (!o.resume.empty()) {
        apps::LoadedCheckpoint loaded = apps::read_training_checkpoint(o.resume, "flow");
        loaded.restore_model(model);
        loaded.restore_optimizer(optimizer);
        apps::restore_rank_generator(dist, loaded, "default", default_generator(), o.seed);
        keeper.restore(loaded);
        start_epoch = static_cast<int>(loaded.state.epoch);
        std::printf("resumed from %s at epoch %d\n", o.resume.c_str(), start_epoch);
      }

      // Rank 0's weights everywhere (after a resume too); gradients averaged over the ranks.
      const std::unique_ptr<nn::DataParallel> parallel = dist.make_data_parallel(model);
      dist.check_same("flow settings", apps::flow_config_to_json(config).dump() + o.codes +
                                           std::to_string(o.batch) + std::to_string(o.lr));
      // Only rank 0 writes files; the others print nothing (see apps/common/distributed.h).
      std::optional<apps::MetricsLog> log;
      if (dist.is_root()) log.emplace(o.out + "/log.jsonl", !o.resume.empty());
      auto save_best = [&](Checkpoint c, double metric) {
        if (dist.is_root()) keeper.save_if_best(std::move(c), metric);
      };
      auto save_last = [&](Checkpoint c) {
        if (dist.is_root()) keeper.save_last(std::move(c));
      };
      bool interrupted = false;  // on any rank: all ranks stop at the same step
      std::printf(
          "train_flow: %lld train / %lld validation / %lld test codes, d = %lld, %lld parameters\n",
          static_cast<long long>(n_train), static_cast<long long>(n_val),
          static_cast<long long>(test.size(0)), static_cast<long long>(d),
          static_cast<long long>(model.num_parameters()));
      std::printf("test NLL (nats/dim): N(0, I) %.4f | full Gaussian %.4f\n", nll_normal,
                  nll_gaussian);

      flow::LogdetOptions train_options{train_logdet, o.series_terms, nullptr, false};
      nlohmann::json final_metrics;
      for (int epoch = start_epoch;
           epoch < o.epochs && !(interrupted = dist.any(apps::interrupt_requested())); ++epoch) {
        epoch_in_progress = epoch;
        model.train();
        std::vector<int64_t> order = epoch_order(n_train, o.seed, epoch);
        apps::ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs),
                              steps_per_epoch, "step");
        double running = 0;
        for (int64_t s = 0; s < steps_per_epoch && !interrupted; ++s) {
          const int64_t start = s * o.batch, count = std::min(o.batch, n_train - start);
          // This rank's equal share of the global batch (with several ranks, the last batch of
          // an epoch drops the count % N rows that do not divide evenly).
          const int64_t share =
              dist.distributed() ? std::min(local_batch, count / dist.world_size) : count;
          if (share == 0) break;
          dist.maybe_inject_failure(optimizer.step_count() + 1);
          Tensor x = rows(train_s, order, start + dist.rank * share, share);
          Tensor loss = model.nll_per_dim(x, train_options);
          optimizer.zero_grad();
          parallel->backward(loss);
          std::vector<Tensor> grads;
          for (auto& p : model.parameters())
            if (p.grad().defined()) grads.push_back(p.grad());
          double grad_norm = o.clip > 0 ? clip_grad_norm_(grads, o.clip) : 0.0;
          optim::apply_schedule(optimizer, *schedule);
          optimizer.step();
          std::vector<double> reduced = {loss.item<double>(),
                                         apps::interrupt_requested() ? 1.0 : 0.0};
          dist.average(reduced);  // the global batch's loss; any rank's Ctrl-C
          const double value = reduced[0];
          interrupted = reduced[1] > 0;
          KITE_CHECK(std::isfinite(value), "train_flow: loss became " << value << " at epoch "
                                                                      << epoch + 1 << " step " << s
                                                                      << " (try a lower --lr)");
          running = s == 0 ? value : 0.98 * running + 0.02 * value;
          char postfix[96];
          std::snprintf(postfix, sizeof postfix, "nll=%.4f lr=%.2e", running,
                        optimizer.learning_rate());
          bar.update(1, postfix);
          if (s % 50 == 0 && log)
            log->write({{"epoch", epoch},
                        {"step", optimizer.step_count()},
                        {"loss", value},
                        {"grad_norm", grad_norm},
                        {"lr", optimizer.learning_rate()}});
        }
        bar.finish();
        if (interrupted) break;
        // One power iteration per step leaves sigma slightly underestimated (the applied norm
        // a little above c); converge before evaluating and saving, as the paper re-imposed
        // spectral normalisation with many iterations.
        model.converge_spectral_norms();
        model.eval();
        const double val_nll = flow::nll_per_dim(model, val_s);
        const double test_nll = flow::nll_per_dim(model, test_s);
        std::vector<double> sigmas = model.spectral_norms(1000);
        const double max_sigma = *std::max_element(sigmas.begin(), sigmas.end());
        std::printf(
            "epoch %d: test NLL (nats/dim) N(0,I) %.4f | Gaussian %.4f | flow %.4f   "
            "(val %.4f, max sigma %.4f)\n",
            epoch + 1, nll_normal, nll_gaussian, test_nll, val_nll, max_sigma);
        if (log)
          log->write({{"epoch", epoch + 1},
                      {"val_nll", val_nll},
                      {"test_nll", test_nll},
                      {"test_nll_normal", nll_normal},
                      {"test_nll_gaussian", nll_gaussian},
                      {"max_sigma", max_sigma}});
        save_best(checkpoint(epoch + 1), val_nll);
        save_last(checkpoint(epoch + 1));
      }
      if (interrupted) {
        // Resuming restarts the interrupted epoch (epochs are short); weights keep their progress.
        save_last(checkpoint(epoch_in_progress));
        std::printf("interrupted: checkpoint at %s (resume with --resume %s)\n",
                    keeper.last_path().c_str(), keeper.last_path().c_str());
        return 0;
      }

      // Final report from the best checkpoint (rank 0 wrote it; the others wait for it).
      dist.communicator->barrier();
      if (std::filesystem::exists(keeper.best_path()))
        apps::read_training_checkpoint(keeper.best_path(), "flow").restore_model(model);
      model.eval();
      const double test_nll = flow::nll_per_dim(model, test_s);
      Generator generator(o.seed + 1);
      flow::InverseStats inverse =
          flow::check_inverse_on_samples(model, o.inverse_samples, 1.0, {}, &generator);
      std::vector<double> sigmas = model.spectral_norms(2000);
      final_metrics = {{"test_nll_flow", test_nll},
                       {"test_nll_normal", nll_normal},
                       {"test_nll_gaussian", nll_gaussian},
                       {"best_val_nll", keeper.best_metric().value_or(NAN)},
                       {"inverse_samples", o.inverse_samples},
                       {"inverse_max_residual", inverse.max_residual},
                       {"inverse_iterations", inverse.iterations},
                       {"max_sigma", *std::max_element(sigmas.begin(), sigmas.end())},
                       {"coeff", o.coeff},
                       {"base_components", o.base_components},
                       {"seed", o.seed},
                       {"nats_per_dim_flow_minus_gaussian", test_nll - nll_gaussian}};
      if (dist.is_root()) apps::write_json_file(o.out + "/metrics.json", final_metrics);
      std::printf(
          "best checkpoint: test NLL %.4f nats/dim (Gaussian %.4f, N(0,I) %.4f); inverse on %lld "
          "samples: max residual %.2e after <= %d iterations; max sigma %.4f (c = %.2f)\n",
          test_nll, nll_gaussian, nll_normal, static_cast<long long>(o.inverse_samples),
          inverse.max_residual, inverse.iterations, final_metrics["max_sigma"].get<double>(),
          o.coeff);
      std::printf("wrote %s, %s, %s/log.jsonl, %s/metrics.json\n", keeper.best_path().c_str(),
                  keeper.last_path().c_str(), o.out.c_str(), o.out.c_str());
      return 0;
    });
  });
}
