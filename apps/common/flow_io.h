// The stage-2 flow as the binaries see it: its configuration as JSON (stored in checkpoints),
// and loading a trained flow with the standardisation of the codes it was fitted to.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/common/training.h"
#include "models/flow/iresnet.h"
#include "models/prior/standardizer.h"

namespace kite::apps {

flow::Activation parse_activation(const std::string& name);  // "elu" or "lipswish"
nlohmann::json flow_config_to_json(const flow::IResNetConfig& config);
flow::IResNetConfig flow_config_from_json(const nlohmann::json& json);

struct LoadedFlow {
  std::shared_ptr<flow::IResNet> model;  // on the requested device, evaluation mode
  prior::Standardizer standardizer;      // raw code = standardizer.inverse(flow input)
  LoadedCheckpoint checkpoint;
};

// Reads a train_flow checkpoint (kind "flow").
LoadedFlow load_flow(const std::string& path, Device device);

}  // namespace kite::apps
