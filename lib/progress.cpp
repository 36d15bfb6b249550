#include "progress.hpp"

#include <unistd.h>
#include <algorithm>

#include <fmt/format.h>

namespace tg {
namespace {
constexpr std::size_t bar_width = 30;
constexpr auto redraw_interval = std::chrono::milliseconds(100);
}  // namespace

ProgressBar::ProgressBar(std::size_t total, std::string label, std::FILE* stream)
    : total_(std::max<std::size_t>(total, 1)),
      label_(std::move(label)),
      stream_(stream),
      interactive_(::isatty(::fileno(stream)) != 0),
      start_(std::chrono::steady_clock::now()) {}

std::string ProgressBar::line(std::size_t done, double loss, double seconds) const {
  const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate : 0.0;
  const auto filled = static_cast<std::size_t>(fraction * bar_width);
  return fmt::format("{} [{}{}] {}/{} {:.0f} img/s loss {:.4f} ETA {:.0f}s", label_,
                     std::string(filled, '#'), std::string(bar_width - filled, '.'), done, total_,
                     rate, loss, eta);
}

void ProgressBar::update(std::size_t done, double loss) {
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - start_).count();
  if (interactive_) {
    if (now - last_draw_ < redraw_interval && done < total_) return;
    last_draw_ = now;
    fmt::print(stream_, "\r{}\033[K", line(done, loss, seconds));
    std::fflush(stream_);
    return;
  }
  const std::size_t tenth = done * 10 / total_;
  if (tenth < next_report_ || tenth == 0) return;
  next_report_ = tenth + 1;
  fmt::print(stream_, "{}\n", line(done, loss, seconds));
}

void ProgressBar::finish() {
  if (interactive_) fmt::print(stream_, "\n");
}

}  // namespace tg
