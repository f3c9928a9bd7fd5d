// experiments_table: gathers the metrics.json files of `evaluate` into the comparison table
// of apps/experiments.sh (markdown + JSON), so the script needs no Python or jq.
//
//   experiments_table --out runs/experiments/results
//     --reference runs/experiments/eval/reference/metrics.json
//     --row "decoupled AE + i-ResNet
//     (ours);eval/ours/metrics.json;812;eval/shapes_ae/metrics.json;mig_flow"
//
// A row is NAME;EVAL_JSON;TRAIN_SECONDS;MIG_JSON;MIG_KEY (the last two may be empty). The
// FID-Inception column comes from `fid distance --json`'s inception.json next to EVAL_JSON (and
// next to the reference's metrics.json for the floor). Missing metrics print as "n/a".
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/common/main.h"
#include "apps/common/metrics_log.h"
#include "engine/error.h"

namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream in(path);
  KITE_CHECK(in, "experiments_table: cannot read " << path);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    KITE_FAIL("experiments_table: " << path << ": " << e.what());
  }
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, separator)) parts.push_back(part);
  if (!text.empty() && text.back() == separator) parts.push_back("");
  return parts;
}

std::string cell(const json& value, const char* format) {
  if (!value.is_number()) return "n/a";
  char text[64];
  std::snprintf(text, sizeof text, format, value.get<double>());
  return text;
}

// A fraction in [0, 1] shown as a percentage.
std::string percent_cell(const json& value) {
  return value.is_number() ? cell(json(100 * value.get<double>()), "%.1f") : "n/a";
}

json value_or_null(const json& object, const std::string& key) {
  return object.is_object() && object.contains(key) ? object[key] : json();
}

// The FID of `fid distance --json` written as inception.json beside `metrics_path`, if any.
json inception_fid_beside(const std::string& metrics_path) {
  const std::filesystem::path path =
      std::filesystem::path(metrics_path).parent_path() / "inception.json";
  if (!std::filesystem::exists(path)) return json();
  return value_or_null(read_json(path.string()), "fid");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Gather evaluate's metrics.json files into the comparison table"};
  app.name("experiments_table");
  std::vector<std::string> rows;
  std::string reference, out = "results", note;
  app.add_option("--row", rows, "NAME;EVAL_JSON;TRAIN_SECONDS;MIG_JSON;MIG_KEY")->required();
  app.add_option("--reference", reference, "evaluate --reference's metrics.json");
  app.add_option("--out", out, "Output path without extension (.md and .json are written)");
  app.add_option("--note", note, "A line printed under the table (budget, subset sizes)");
  return kite::apps::run_main(app, argc, argv, [&] {
    json table = json::array();
    std::ostringstream md;
    md << "| model | test MSE (per pixel) | test SSE (per image) | FID-FMNIST | FID-Inception | "
          "sampling temperature | blends (%) | FID-FMNIST of reconstructions | latent NLL "
          "(nats/dim) | MIG (shapes) | training time (s) |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|\n";
    std::string version;
    for (const std::string& row : rows) {
      std::vector<std::string> parts = split(row, ';');
      KITE_CHECK(parts.size() >= 3,
                 "experiments_table: --row '" << row << "' needs NAME;EVAL_JSON;SECONDS");
      const json m = read_json(parts[1]);
      json mig;
      if (parts.size() >= 5 && !parts[3].empty())
        mig = value_or_null(read_json(parts[3]), parts[4]);
      const json seconds = parts[2].empty() ? json() : json(std::stod(parts[2]));
      if (m.contains("extractor_version")) version = m["extractor_version"].get<std::string>();
      json entry = {{"model", parts[0]},
                    {"test_mse", value_or_null(m, "test_mse")},
                    {"test_sse_per_image", value_or_null(m, "test_sse_per_image")},
                    {"fid_fmnist", value_or_null(m, "fid_fmnist")},
                    {"fid_inception", inception_fid_beside(parts[1])},
                    {"temperature", value_or_null(m, "temperature")},
                    {"blend_fraction", value_or_null(m, "sample_ambiguous_fraction")},
                    {"fid_fmnist_reconstructions", value_or_null(m, "fid_fmnist_reconstructions")},
                    {"latent_nll_per_dim", value_or_null(m, "latent_nll_per_dim")},
                    {"mig_shapes", mig},
                    {"train_seconds", seconds},
                    {"metrics", parts[1]}};
      table.push_back(entry);
      md << "| " << parts[0] << " | " << cell(entry["test_mse"], "%.5f") << " | "
         << cell(entry["test_sse_per_image"], "%.2f") << " | " << cell(entry["fid_fmnist"], "%.2f")
         << " | " << cell(entry["fid_inception"], "%.2f") << " | "
         << cell(entry["temperature"], "%g") << " | " << percent_cell(entry["blend_fraction"])
         << " | " << cell(entry["fid_fmnist_reconstructions"], "%.2f") << " | "
         << cell(entry["latent_nll_per_dim"], "%.3f") << " | " << cell(mig, "%.3f") << " | "
         << cell(seconds, "%.0f") << " |\n";
    }
    json result = {{"rows", table}};
    if (!reference.empty()) {
      const json r = read_json(reference);
      result["fid_floor_train_vs_test"] = value_or_null(r, "fid_fmnist_train_vs_test");
      result["fid_ceiling_noise_vs_test"] = value_or_null(r, "fid_fmnist_noise_vs_test");
      result["fid_inception_floor_train_vs_test"] = inception_fid_beside(reference);
      result["blend_fraction_train"] = value_or_null(r, "train_ambiguous_fraction");
      md << "| floor: training images vs test | 0 | 0 | "
         << cell(result["fid_floor_train_vs_test"], "%.2f") << " | "
         << cell(result["fid_inception_floor_train_vs_test"], "%.2f") << " | | "
         << percent_cell(result["blend_fraction_train"]) << " | | | | |\n"
         << "| ceiling: uniform noise vs test | | | "
         << cell(result["fid_ceiling_noise_vs_test"], "%.2f") << " | | | | | | | |\n";
      if (r.contains("extractor_version")) version = r["extractor_version"].get<std::string>();
    }
    result["extractor_version"] = version;
    result["note"] = note;
    md << "\nFID-FMNIST: Fréchet distance in the 128-d penultimate features of the project's "
          "Fashion-MNIST classifier, "
       << version
       << " (scores are comparable only with this extractor). FID-Inception: the "
          "standard scale (pool3 features of the TF FID-Inception graph, `fid`), comparable with "
          "published numbers at the same sample size. Blends: the share of samples to which "
          "that classifier gives no class a probability of 0.5 or more (images between "
          "classes; the floor row: real training images). FID-FMNIST of reconstructions: the "
          "test set's own reconstructions against the test set, the decoder's floor (what a "
          "prior as good as the encoder's codes would score). Sampling temperature: the scale of "
          "the noise each model samples from (1 = its density), picked from the run's "
          "TEMPERATURES by FID-FMNIST against training images, never the test set.\n";
    if (!note.empty()) md << "\n" << note << "\n";
    kite::apps::write_json_file(out + ".json", result);
    std::ofstream(out + ".md") << md.str();
    std::printf("%s\nwrote %s.md and %s.json\n", md.str().c_str(), out.c_str(), out.c_str());
    return 0;
  });
}
