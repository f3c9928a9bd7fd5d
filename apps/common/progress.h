// A one-line terminal progress bar with rate, ETA and live metrics, redrawn in place:
//   train  42% |#########           | 420/1000 [00:12<00:17, 34.1 it/s] loss=0.0213
// When stderr is not a terminal (logs, CI) it prints a plain line every few percent instead.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace kite::apps {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "it");
  ~ProgressBar();
  // Advances by n and sets the text shown after the counters (e.g. "loss=0.0213").
  void update(int64_t n = 1, const std::string& postfix = "");
  void finish();
  double elapsed_seconds() const;

 private:
  void draw(bool final);

  std::string label_, unit_, postfix_;
  int64_t total_, count_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool interactive_;
  bool finished_ = false;
  int last_percent_printed_ = -1;
  int64_t last_drawn_count_ = -1;  // a log's last line already shows the final count
};

std::string format_duration(double seconds);  // "01:23" or "1:02:03"

}  // namespace kite::apps
