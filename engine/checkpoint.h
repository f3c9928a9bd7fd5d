// Saving and loading named tensors (weights, optimizer state, checkpoints) as safetensors,
// with string metadata (step, RNG state, configuration). Tensors may live on any device and
// in any layout; loading returns CPU tensors.
#pragma once

#include <map>
#include <string>

#include "engine/tensor.h"

namespace kite {

struct Checkpoint {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Atomic: a crash or error never leaves a half-written file at `path`.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
Checkpoint load_checkpoint(const std::string& path);

}  // namespace kite
