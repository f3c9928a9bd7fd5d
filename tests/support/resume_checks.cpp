// The resume checks of resume_checks.h.
#include "resume_checks.h"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/checkpoint.h"
#include "engine/tensor.h"

namespace kite::test_support {

std::vector<std::string> tiny_vae_args(const std::filesystem::path& out, int steps) {
  return {"--dataset",
          "shapes",
          "--image-size",
          "28",
          "--train-limit",
          "256",
          "--test-limit",
          "64",
          "--channels",
          "8,16",
          "--latent",
          "4",
          "--batch",
          "32",
          "--learn-gamma",
          "--lr",
          "2e-3",
          "--log-every",
          "1",
          "--plot-images",
          "64",
          "--threads",
          "2",
          "--seed",
          "5",
          "--steps",
          std::to_string(steps),
          "--out",
          out.string()};
}

std::vector<std::vector<double>> logged_steps(const std::filesystem::path& dir,
                                              const std::vector<std::string>& fields) {
  std::vector<std::vector<double>> rows;
  std::ifstream in(dir / "log.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);
    EXPECT_EQ(record["step"].get<int64_t>(), static_cast<int64_t>(rows.size()) + 1) << line;
    std::vector<double> row;
    for (const std::string& field : fields) row.push_back(record.at(field).get<double>());
    rows.push_back(row);
  }
  return rows;
}

int64_t checkpoint_step(const std::filesystem::path& dir) {
  return std::stoll(load_checkpoint((dir / "last.safetensors").string()).metadata.at("step"));
}

void expect_identical_checkpoints(const std::filesystem::path& a, const std::filesystem::path& b,
                                  const std::vector<std::string>& must_hold) {
  const auto ta = load_checkpoint(a.string()).tensors, tb = load_checkpoint(b.string()).tensors;
  ASSERT_EQ(ta.size(), tb.size());
  for (const std::string& name : must_hold) EXPECT_TRUE(ta.count(name)) << name;
  for (const auto& [name, t] : ta) {
    ASSERT_TRUE(tb.count(name)) << name;
    EXPECT_EQ(to_double_vector(t), to_double_vector(tb.at(name))) << name;
  }
}

void expect_same_run(const std::filesystem::path& dir, const std::filesystem::path& straight,
                     const std::vector<std::string>& fields,
                     const std::vector<std::string>& must_hold) {
  const auto expected = logged_steps(straight, fields), got = logged_steps(dir, fields);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    for (size_t f = 0; f < fields.size(); ++f)
      EXPECT_EQ(got[i][f], expected[i][f]) << fields[f] << " at step " << i + 1;
  expect_identical_checkpoints(dir / "last.safetensors", straight / "last.safetensors", must_hold);
}

}  // namespace kite::test_support
