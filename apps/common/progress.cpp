// Progress bar (see progress.h).
#include "apps/common/progress.h"

#include <unistd.h>

#include <cstdio>

namespace kite::apps {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buffer[32];
  if (s >= 3600)
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buffer, sizeof buffer, "%02lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  return buffer;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      interactive_(isatty(fileno(stderr)) != 0) {}

ProgressBar::~ProgressBar() { finish(); }

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::update(int64_t n, const std::string& postfix) {
  count_ += n;
  if (!postfix.empty()) postfix_ = postfix;
  auto now = std::chrono::steady_clock::now();
  if (interactive_) {
    if (now - last_draw_ > std::chrono::milliseconds(100) || count_ >= total_) {
      last_draw_ = now;
      draw(false);
    }
  } else {
    int percent = total_ > 0 ? static_cast<int>(100 * count_ / total_) : 0;
    if (percent / 10 != last_percent_printed_ / 10 || count_ >= total_) {
      last_percent_printed_ = percent;
      draw(false);
    }
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!interactive_ && last_drawn_count_ == count_) return;  // no repeated line in a log
  draw(true);
}

void ProgressBar::draw(bool final) {
  last_drawn_count_ = count_;
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? count_ / elapsed : 0.0;
  const double eta = rate > 0 && total_ > count_ ? (total_ - count_) / rate : 0.0;
  const int percent = total_ > 0 ? static_cast<int>(100 * count_ / total_) : 100;
  constexpr int kWidth = 20;
  int filled = total_ > 0 ? static_cast<int>(kWidth * count_ / total_) : kWidth;
  if (filled > kWidth) filled = kWidth;
  std::string bar(filled, '#');
  bar += std::string(kWidth - filled, ' ');
  std::fprintf(stderr, "%s%s %3d%% |%s| %lld/%lld [%s<%s, %.1f %s/s] %s%s",
               interactive_ ? "\r" : "", label_.c_str(), percent, bar.c_str(),
               static_cast<long long>(count_), static_cast<long long>(total_),
               format_duration(elapsed).c_str(), format_duration(eta).c_str(), rate, unit_.c_str(),
               postfix_.c_str(), interactive_ ? "\033[K" : "\n");
  if (final && interactive_) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace kite::apps
