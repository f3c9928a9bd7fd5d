// Metric logs: one JSON object per line (JSONL) per logged step, and a final metrics.json.
#pragma once

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace kite::apps {

class MetricsLog {
 public:
  // Appends to path (creating parent folders); append = false truncates first.
  explicit MetricsLog(const std::string& path, bool append = false);
  void write(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream out_;
};

// Writes JSON to path atomically (temp file + rename), pretty-printed.
void write_json_file(const std::string& path, const nlohmann::json& value);

}  // namespace kite::apps
