#pragma once
// The examples' --log FILE: one CSV row per epoch, for scripts/plot_metrics.py and spreadsheets.
//
//   epoch,loss,accuracy,lr,img_per_s
//   1,0.512345,0.8512,0.1,2345.6
//
// loss is the epoch's mean training loss, accuracy the test accuracy after it, lr the learning
// rate the epoch trained with, img_per_s its training throughput.
//
// The whole file is rewritten after every epoch, to a temporary file renamed over it (as
// checkpoints are), rather than appended to: whoever reads it while training runs (a plot) or
// after a crash sees whole rows only, and a resumed run keeps exactly the rows of the epochs its
// checkpoint holds. A row is added before the epoch's checkpoint is saved, so a crash between the
// two leaves a row that the resumed run drops and writes anew, never an epoch without its row.
// One row per epoch keeps the rewrite negligible.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace examples {

struct EpochMetrics {
  std::int64_t epoch = 0;
  double loss = 0.0;
  double accuracy = 0.0;
  double lr = 0.0;
  double img_per_s = 0.0;
};

class MetricsLog {
 public:
  // The first line of every log.
  static constexpr const char* header = "epoch,loss,accuracy,lr,img_per_s";

  // No path: a log that writes nothing. Otherwise checks that `path` can be written (before any
  // training), and with `resumed_epoch` > 0 keeps the rows of epochs 1..resumed_epoch of the log
  // already at `path` (none if there is no file; tg::Error if the file is not such a log).
  explicit MetricsLog(std::filesystem::path path = {}, std::int64_t resumed_epoch = 0);

  // Adds the row and rewrites the file; tg::Error if that fails.
  void add(const EpochMetrics& metrics);

  const std::vector<std::string>& rows() const { return rows_; }

 private:
  void write() const;

  std::filesystem::path path_;
  std::vector<std::string> rows_;  // without the header, each without its newline
};

}  // namespace examples
