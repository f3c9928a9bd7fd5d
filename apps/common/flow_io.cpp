// Flow configuration and loading (see flow_io.h).
#include "apps/common/flow_io.h"

#include "ops/factory.h"

namespace kite::apps {

flow::Activation parse_activation(const std::string& name) {
  if (name == "elu") return flow::Activation::ELU;
  if (name == "lipswish") return flow::Activation::LipSwish;
  KITE_FAIL("activation must be elu or lipswish, got '" << name << "'");
}

nlohmann::json flow_config_to_json(const flow::IResNetConfig& c) {
  return {{"dim", c.dim},
          {"blocks", c.blocks},
          {"hidden", c.hidden},
          {"coeff", c.coeff},
          {"power_iterations", c.power_iterations},
          {"activation", c.activation == flow::Activation::ELU ? "elu" : "lipswish"},
          {"actnorm", c.actnorm},
          {"base_components", c.base_components}};
}

flow::IResNetConfig flow_config_from_json(const nlohmann::json& j) {
  try {
    flow::IResNetConfig c;
    c.dim = j.at("dim").get<int64_t>();
    c.blocks = j.at("blocks").get<int>();
    c.hidden = j.at("hidden").get<int64_t>();
    c.coeff = j.at("coeff").get<double>();
    c.power_iterations = j.at("power_iterations").get<int>();
    c.activation = parse_activation(j.at("activation").get<std::string>());
    c.actnorm = j.at("actnorm").get<bool>();
    c.base_components = j.value("base_components", int64_t{0});  // absent before session 7: N(0, I)
    return c;
  } catch (const nlohmann::json::exception& e) {
    KITE_FAIL("flow configuration: " << e.what());
  }
}

LoadedFlow load_flow(const std::string& path, Device device) {
  LoadedFlow out;
  out.checkpoint = read_training_checkpoint(path, "flow");
  flow::IResNetConfig config = flow_config_from_json(out.checkpoint.state.config);
  auto extra = out.checkpoint.tensors_under("extra.");
  KITE_CHECK(extra.count("standardizer.mean") && extra.count("standardizer.std"),
             "checkpoint " << path << ": no code standardisation (extra.standardizer.*)");
  const DType dtype = extra.at("standardizer.mean").dtype();
  out.model =
      out.checkpoint.restore_for_inference(std::make_shared<flow::IResNet>(config, dtype), device);
  out.standardizer = {to_device(extra.at("standardizer.mean"), device),
                      to_device(extra.at("standardizer.std"), device)};
  return out;
}

}  // namespace kite::apps
