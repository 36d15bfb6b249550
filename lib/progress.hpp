#pragma once
// A progress line for a training epoch, on stderr: images/s, running loss, ETA.
// On a terminal it redraws one line in place; otherwise (a log file, CI) it prints a plain
// line at every tenth of the epoch, so logs stay readable.

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

namespace tg {

class ProgressBar {
 public:
  // `total`: images in the epoch; `label`: printed first, e.g. "epoch 3".
  ProgressBar(std::size_t total, std::string label, std::FILE* stream = stderr);
  // `done` images so far; `loss`: mean loss so far.
  void update(std::size_t done, double loss);
  // Ends the line (on a terminal).
  void finish();

 private:
  std::string line(std::size_t done, double loss, double seconds) const;

  std::size_t total_;
  std::string label_;
  std::FILE* stream_;
  bool interactive_;
  std::size_t next_report_ = 0;  // plain mode: the next tenth to report
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace tg
