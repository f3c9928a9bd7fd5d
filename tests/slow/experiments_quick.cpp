// The comparison script end to end in its --quick mode (tiny subsets and models): every row
// of the table is produced with finite metrics, the FID floor lies below the noise ceiling,
// MIG values are in [0, 1], and the gamma sweep wrote its table and pictures. With the
// FID-Inception weights fetched, every row also has an Inception FID (from evaluate's
// samples.npy); every model is sampled at two temperatures and kept at the one nearer the
// training images. Also the
// baseline binaries' flag handling (--help 0, bad flags 2, missing files 1).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "models/inception/weights.h"
#include "models/metrics/npy_format.h"

namespace kite {
namespace {

int run(const std::string& command, const std::string& log = "/dev/null") {
  int status = std::system((command + " > " + log + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string app(const std::string& name) { return std::string(KITE_APPS_DIR) + "/" + name; }

TEST(BaselineApps, HelpAndBadFlags) {
  for (const char* name : {"train_vae", "train_two_stage", "train_classifier", "fit_gmm",
                           "evaluate", "experiments_table"}) {
    EXPECT_EQ(run(app(name) + " --help"), 0) << name;
    EXPECT_EQ(run(app(name) + " --no-such-flag"), 2) << name;
  }
  EXPECT_EQ(run(app("fit_gmm") + " --codes /nonexistent/codes.safetensors"), 1);
  EXPECT_EQ(run(app("evaluate") + " --checkpoint /nonexistent/last.safetensors"), 1);
  EXPECT_EQ(run(app("train_two_stage") + " --stage1 /nonexistent/last.safetensors"), 1);
  EXPECT_EQ(run(app("train_vae") + " --gamma -1"), 2);
}

TEST(Experiments, QuickModeProducesTheWholeTable) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist"))
    GTEST_SKIP() << "Fashion-MNIST is not installed (/usr/share/datasets/fashion-mnist)";
  const std::filesystem::path repo =
      std::filesystem::path(KITE_TEST_DATA_DIR).parent_path().parent_path();
  const std::filesystem::path build = std::filesystem::path(KITE_APPS_DIR).parent_path();
  // Named by process: two test runs on one machine (two checkouts) must not share a folder.
  const std::string name = "/kite_experiments_quick_" + std::to_string(getpid());
  const std::string out = ::testing::TempDir() + name;
  std::filesystem::remove_all(out);
  const std::string log = ::testing::TempDir() + name + ".log";
  // The knobs that pass flags through: AE_FLAGS, FLOW_FLAGS, STAGE1_LR, STAGE1_SCHEDULE, SEED.
  const std::string command =
      "SKIP_BUILD=1 SEED=3 TEMPERATURES='0.8 1' STAGE1_LR=2e-3 STAGE1_SCHEDULE=cosine "
      "AE_FLAGS='--latent-noise 0.1' FLOW_FLAGS='--logdet roulette' "
      "KITE_BUILD_DIR=" +
      build.string() + " OUT=" + out + " bash " + (repo / "apps/experiments.sh").string() +
      " --quick";
  ASSERT_EQ(run(command, log), 0) << command << " (log: " << log << ")";

  std::ifstream in(out + "/results.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json results = nlohmann::json::parse(in);
  ASSERT_EQ(results["rows"].size(), 10u);
  const bool inception = std::filesystem::exists(inception::default_weights_path());
  if (!inception)
    std::printf("FID-Inception checks skipped: %s\n", inception::weights_fetch_hint().c_str());
  for (const auto& row : results["rows"]) {
    const std::string name = row["model"];
    EXPECT_TRUE(std::isfinite(row["test_mse"].get<double>())) << name;
    EXPECT_TRUE(std::isfinite(row["fid_fmnist"].get<double>())) << name;
    EXPECT_GE(row["fid_fmnist"].get<double>(), 0.0) << name;
    const double blends = row["blend_fraction"].get<double>();
    EXPECT_GE(blends, 0.0) << name;
    EXPECT_LE(blends, 1.0) << name;
    // Every row's model reconstructs, so every row has its decoder's floor.
    EXPECT_GE(row["fid_fmnist_reconstructions"].get<double>(), 0.0) << name;
    if (name.find("mixture base") != std::string::npos) {
      EXPECT_TRUE(row["mig_shapes"].is_null()) << name;  // the shapes run has no mixture flow
    } else {
      const double mig = row["mig_shapes"].get<double>();
      EXPECT_GE(mig, 0.0) << name;
      EXPECT_LE(mig, 1.0) << name;
    }
    if (inception) {
      ASSERT_TRUE(row["fid_inception"].is_number()) << name;
      EXPECT_GE(row["fid_inception"].get<double>(), 0.0) << name;
    }
  }
  if (inception) {
    EXPECT_TRUE(results["fid_inception_floor_train_vs_test"].is_number());
    // evaluate --save-samples: uint8 [16, 1, 28, 28], the input `fid stats` reads.
    std::ifstream npy(out + "/eval/ours/samples.npy", std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(npy)),
                                          std::istreambuf_iterator<char>());
    const metrics::NpyArray samples = metrics::decode_npy(bytes, "samples.npy");
    EXPECT_EQ(samples.descr, "|u1");
    EXPECT_EQ(samples.shape, (std::vector<std::size_t>{16, 1, 28, 28}));
  }
  // --temperature must be positive (every model samples at one; metrics.json records it).
  EXPECT_EQ(run(app("evaluate") + " --checkpoint " + out + "/ae/last.safetensors --gmm " + out +
                "/gmm/gmm.safetensors --temperature 0 --samples 8 --out " + out + "/eval/bad"),
            2);
  // --precise-bn recomputes the BatchNorm statistics first and says over how many batches.
  EXPECT_EQ(run(app("evaluate") + " --checkpoint " + out + "/ae/last.safetensors --precise-bn 2 " +
                "--train-limit 512 --test-limit 64 --out " + out + "/eval/precise_bn"),
            0);
  {
    std::ifstream file(out + "/eval/precise_bn/metrics.json");
    const nlohmann::json precise = nlohmann::json::parse(file);
    EXPECT_EQ(precise["precise_bn_batches"].get<int>(), 2);
    EXPECT_TRUE(std::isfinite(precise["test_mse"].get<double>()));
  }
  EXPECT_EQ(run(app("evaluate") + " --checkpoint " + out + "/ae/last.safetensors --precise-bn -1"),
            2);
  // Rows with an autoencoder prior report an exact latent NLL; ours is the first row.
  EXPECT_TRUE(results["rows"][0]["latent_nll_per_dim"].is_number());
  EXPECT_TRUE(results["rows"][1]["latent_nll_per_dim"].is_number());  // ours, mixture base
  EXPECT_TRUE(results["rows"][3]["latent_nll_per_dim"].is_number());  // AE + GMM
  {
    std::ifstream file(out + "/flow_mixture/metrics.json");
    EXPECT_EQ(nlohmann::json::parse(file)["base_components"].get<int>(), 2);
  }
  EXPECT_LT(results["fid_floor_train_vs_test"].get<double>(),
            results["fid_ceiling_noise_vs_test"].get<double>());
  EXPECT_EQ(results["extractor_version"].get<std::string>().rfind("fmnist-cnn-v1:", 0), 0u);
  EXPECT_TRUE(std::filesystem::exists(out + "/results.md"));
  EXPECT_TRUE(std::filesystem::exists(out + "/sweep/sweep.md"));
  EXPECT_TRUE(std::filesystem::exists(out + "/sweep/gamma_0.1/posterior.png"));
  EXPECT_TRUE(std::filesystem::exists(out + "/eval/ours/samples.png"));
  // evaluate splits FID-FMNIST into its mean and covariance terms, and keeps the statistics
  // of the samples, the test images and the reconstructions.
  std::ifstream ours_metrics(out + "/eval/ours/metrics.json");
  const nlohmann::json ours = nlohmann::json::parse(ours_metrics);
  EXPECT_NEAR(
      ours["fid_fmnist_mean_term"].get<double>() + ours["fid_fmnist_covariance_term"].get<double>(),
      ours["fid_fmnist"].get<double>(), 1e-9 * (1 + ours["fid_fmnist"].get<double>()));
  EXPECT_GT(ours["sample_feature_spread_ratio"].get<double>(), 0.0);
  // TEMPERATURES: each row kept the temperature whose samples were nearer the training images.
  EXPECT_TRUE(std::filesystem::exists(out + "/eval/temperatures.md"));
  auto metrics_of = [&](const std::string& dir) {  // evaluate's metrics.json under eval/
    std::ifstream file(out + "/eval/" + dir + "/metrics.json");
    return nlohmann::json::parse(file);
  };
  for (const char* name :
       {"ours", "ours_mixture", "ae_gmm", "ae_gaussian", "vae_learnt_gamma", "two_stage"}) {
    const nlohmann::json cold = metrics_of(std::string("temperatures/") + name + "/T0.8");
    const nlohmann::json plain = metrics_of(std::string("temperatures/") + name + "/T1");
    EXPECT_EQ(cold["temperature"].get<double>(), 0.8) << name;
    const double picked =
        cold["fid_fmnist_vs_train"].get<double>() < plain["fid_fmnist_vs_train"].get<double>()
            ? 0.8
            : 1.0;
    EXPECT_EQ(metrics_of(name)["temperature"].get<double>(), picked) << name;
  }
  EXPECT_GT(ours["reconstruction_feature_spread_ratio"].get<double>(), 0.0);
  for (const char* file : {"samples", "test", "reconstructions"})
    EXPECT_TRUE(std::filesystem::exists(out + "/eval/ours/fid_stats_" + file + ".npz")) << file;
  // The knobs reached the binaries, and the table's note says so.
  std::ifstream ae_metrics(out + "/ae/metrics.json");
  const nlohmann::json ae = nlohmann::json::parse(ae_metrics);
  EXPECT_EQ(ae["config"]["train"]["latent_noise"].get<double>(), 0.1);
  EXPECT_TRUE(ae["config"]["train"]["learn_gamma"].get<bool>());  // AE_LEARN_GAMMA's default
  EXPECT_LT(ae["gamma"].get<double>(), 1.0);
  EXPECT_EQ(ae["config"]["train"]["lr"].get<double>(), 2e-3);
  EXPECT_EQ(ae["config"]["train"]["lr_schedule"].get<std::string>(), "cosine");
  // SEED reaches the training and the sampling of every model; check one of each kind.
  EXPECT_EQ(ae["config"]["seed"].get<int>(), 3);
  for (const char* model : {"flow", "flow_mixture"}) {
    std::ifstream file(out + "/" + model + "/metrics.json");
    EXPECT_EQ(nlohmann::json::parse(file)["seed"].get<int>(), 3) << model;
  }
  for (const char* row : {"ours", "ae_gmm", "two_stage"})
    EXPECT_EQ(metrics_of(row)["seed"].get<int>(), 3) << row;
  const std::string note = results["note"];
  for (const char* part :
       {"Seed 3.", "Adam lr 2e-3 (cosine schedule", "--logdet roulette",
        "autoencoder with a learnt gamma", "autoencoder --latent-noise 0.1", "picked from (0.8 1)"})
    EXPECT_NE(note.find(part), std::string::npos) << note;
}

}  // namespace
}  // namespace kite
