// The comparison script end to end in its --quick mode (tiny subsets and models): every row
// of the table is produced with finite metrics, the FID floor lies below the noise ceiling,
// MIG values are in [0, 1], and the gamma sweep wrote its table and pictures. Also the
// baseline binaries' flag handling (--help 0, bad flags 2, missing files 1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

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
  const std::string out = ::testing::TempDir() + "/kite_experiments_quick";
  std::filesystem::remove_all(out);
  const std::string log = ::testing::TempDir() + "/kite_experiments_quick.log";
  const std::string command = "SKIP_BUILD=1 KITE_BUILD_DIR=" + build.string() + " OUT=" + out +
                              " bash " + (repo / "apps/experiments.sh").string() + " --quick";
  ASSERT_EQ(run(command, log), 0) << command << " (log: " << log << ")";

  std::ifstream in(out + "/results.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json results = nlohmann::json::parse(in);
  ASSERT_EQ(results["rows"].size(), 9u);
  for (const auto& row : results["rows"]) {
    const std::string name = row["model"];
    EXPECT_TRUE(std::isfinite(row["test_mse"].get<double>())) << name;
    EXPECT_TRUE(std::isfinite(row["fid_fmnist"].get<double>())) << name;
    EXPECT_GE(row["fid_fmnist"].get<double>(), 0.0) << name;
    const double mig = row["mig_shapes"].get<double>();
    EXPECT_GE(mig, 0.0) << name;
    EXPECT_LE(mig, 1.0) << name;
  }
  // Rows with an autoencoder prior report an exact latent NLL; ours is the first row.
  EXPECT_TRUE(results["rows"][0]["latent_nll_per_dim"].is_number());
  EXPECT_TRUE(results["rows"][2]["latent_nll_per_dim"].is_number());
  EXPECT_LT(results["fid_floor_train_vs_test"].get<double>(),
            results["fid_ceiling_noise_vs_test"].get<double>());
  EXPECT_EQ(results["extractor_version"].get<std::string>().rfind("fmnist-cnn-v1:", 0), 0u);
  EXPECT_TRUE(std::filesystem::exists(out + "/results.md"));
  EXPECT_TRUE(std::filesystem::exists(out + "/sweep/sweep.md"));
  EXPECT_TRUE(std::filesystem::exists(out + "/sweep/gamma_0.1/posterior.png"));
  EXPECT_TRUE(std::filesystem::exists(out + "/eval/ours/samples.png"));
}

}  // namespace
}  // namespace kite
