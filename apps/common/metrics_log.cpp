// JSONL metric logs (see metrics_log.h).
#include "apps/common/metrics_log.h"

#include <cstdio>
#include <filesystem>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace kite::apps {

MetricsLog::MetricsLog(const std::string& path, bool append) : path_(path) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  out_.open(path, append ? std::ios::app : std::ios::trunc);
  KITE_CHECK(out_.good(), "metrics log: cannot open " << path << " for writing");
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << record.dump() << "\n";
  out_.flush();
  KITE_CHECK(out_.good(), "metrics log: write to " << path_ << " failed");
}

void write_json_file(const std::string& path, const nlohmann::json& value) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  write_file_atomically(path, value.dump(2) + "\n");
}

}  // namespace kite::apps
