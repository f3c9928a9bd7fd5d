// fit_gmm: RAE's ex-post density on the stage-1 autoencoder's codes: a full-covariance
// Gaussian mixture fitted by EM to codes_train (from `encode`), and the exact test NLL of
// the codes under it, beside the single full Gaussian and N(0, I) on standardised codes.
//
//   encode --checkpoint runs/ae/last.safetensors --out runs/ae/codes.safetensors
//   fit_gmm --codes runs/ae/codes.safetensors --out runs/gmm      # 10 components
//
// Writes into --out: gmm.safetensors (tensors gmm.weights [K], gmm.means [K, d],
// gmm.covariances [K, d, d], float64; metadata format "kite-gmm", codes, config) and
// metrics.json. NLLs are in nats per dimension of the raw codes.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/common/main.h"
#include "apps/common/metrics_log.h"
#include "engine/checkpoint.h"
#include "engine/error.h"
#include "models/prior/gaussian.h"
#include "models/prior/gmm.h"
#include "models/prior/standardizer.h"
#include "ops/ops.h"

namespace {

using namespace kite;

Tensor codes_named(const Checkpoint& file, const std::string& name, const std::string& path) {
  auto it = file.tensors.find(name);
  KITE_CHECK(it != file.tensors.end() && it->second.dim() == 2,
             path << ": no [n, d] tensor '" << name << "' (expected the output of `encode`)");
  return it->second;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fit a Gaussian-mixture prior (RAE's ex-post density) to autoencoder codes"};
  app.name("fit_gmm");
  std::string codes_path, out = "runs/gmm";
  prior::GmmOptions options;
  int threads = 0;
  app.add_option("--codes", codes_path, "Codes file written by `encode`")->required();
  app.add_option("--out", out, "Output folder")->capture_default_str();
  app.add_option("--components", options.components, "Mixture components")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-iterations", options.max_iterations, "EM iterations at most")
      ->capture_default_str();
  app.add_option("--tolerance", options.tolerance,
                 "Stop when the mean log-likelihood per code improves by less")
      ->capture_default_str();
  app.add_option("--covariance-floor", options.covariance_floor,
                 "Added to every covariance diagonal")
      ->capture_default_str();
  app.add_option("--seed", options.seed, "Seed of the k-means++ initialisation")
      ->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0: OpenMP's default)");
  return apps::run_main(app, argc, argv, [&] {
    apps::configure_threads(threads);
    std::filesystem::create_directories(out);
    const Checkpoint file = load_checkpoint(codes_path);
    Tensor train = to_dtype(codes_named(file, "codes_train", codes_path), DType::Float64);
    Tensor test = to_dtype(codes_named(file, "codes_test", codes_path), DType::Float64);
    const double d = static_cast<double>(train.size(1));

    const auto start = std::chrono::steady_clock::now();
    prior::GaussianMixture gmm = prior::GaussianMixture::fit(train, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    prior::FullGaussian gaussian = prior::FullGaussian::fit(train);
    prior::Standardizer standardizer = prior::Standardizer::fit(train);
    const double nll_gmm = -gmm.mean_log_likelihood(test) / d;
    const double nll_gmm_train = -gmm.mean_log_likelihood(train) / d;
    const double nll_gaussian = -mean(gaussian.log_prob(test)).item<double>() / d;
    // N(0, I) on standardised codes, moved back to raw codes by the standardiser's log-det.
    const double nll_normal =
        prior::standard_normal_nll_per_dim(standardizer.forward(test)) - standardizer.log_det() / d;

    Checkpoint saved;
    for (const auto& [name, tensor] : gmm.tensors()) saved.tensors["gmm." + name] = tensor;
    nlohmann::json config = {{"components", options.components},
                             {"max_iterations", options.max_iterations},
                             {"tolerance", options.tolerance},
                             {"covariance_floor", options.covariance_floor},
                             {"seed", options.seed}};
    saved.metadata["format"] = "kite-gmm";
    saved.metadata["codes"] = codes_path;
    saved.metadata["config"] = config.dump();
    if (file.metadata.count("checkpoint"))
      saved.metadata["autoencoder"] = file.metadata.at("checkpoint");
    save_checkpoint(out + "/gmm.safetensors", saved);
    nlohmann::json metrics = {{"test_nll_gmm", nll_gmm},
                              {"train_nll_gmm", nll_gmm_train},
                              {"test_nll_gaussian", nll_gaussian},
                              {"test_nll_normal", nll_normal},
                              {"units", "nats per dimension of the raw codes"},
                              {"em_iterations", gmm.history().size() - 1},
                              {"converged", gmm.converged()},
                              {"fit_seconds", seconds},
                              {"codes", codes_path},
                              {"config", config}};
    apps::write_json_file(out + "/metrics.json", metrics);
    std::printf(
        "fit_gmm: %lld components, %zu EM iterations%s, %.1f s\n"
        "test NLL (nats/dim of raw codes): GMM %.4f | full Gaussian %.4f | N(0,I) after "
        "standardising %.4f\nwrote %s/gmm.safetensors, %s/metrics.json\n",
        static_cast<long long>(options.components), gmm.history().size() - 1,
        gmm.converged() ? " (converged)" : " (iteration limit)", seconds, nll_gmm, nll_gaussian,
        nll_normal, out.c_str(), out.c_str());
    return 0;
  });
}
