#include "metrics_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fmt/core.h>
#include <tapegrad.hpp>

namespace examples {
namespace {

// The epoch number a row starts with, or -1 if the row is not five comma-separated fields.
std::int64_t row_epoch(const std::string& row) {
  std::size_t commas = 0;
  for (char c : row) commas += c == ',';
  if (commas != 4) return -1;
  std::int64_t epoch = -1;
  const char* end = row.data() + row.find(',');
  const auto [stop, error] = std::from_chars(row.data(), end, epoch);
  if (error != std::errc{} || stop != end || epoch < 1) return -1;
  return epoch;
}

bool write_all(int fd, const std::string& text) {
  const char* bytes = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, bytes, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes += written;
    left -= static_cast<std::size_t>(written);
  }
  return true;
}

}  // namespace

MetricsLog::MetricsLog(std::filesystem::path path, std::int64_t resumed_epoch)
    : path_(std::move(path)) {
  if (path_.empty()) return;
  try {
    tg::check_writable(path_);
  } catch (const tg::Error& e) {
    throw tg::Error(fmt::format("--log: {}", e.what()));
  }
  if (resumed_epoch <= 0) return;
  std::ifstream in(path_);
  if (!in) {
    fmt::print(stderr, "note: no metrics log at {} to continue: it starts at epoch {}\n",
               path_.string(), resumed_epoch + 1);
    return;
  }
  std::string line;
  if (!std::getline(in, line) || line != header) {
    tg::fail("--log: {} is not a metrics log (its first line is not '{}'): not overwritten",
             path_.string(), header);
  }
  for (std::size_t number = 2; std::getline(in, line); ++number) {
    const std::int64_t epoch = row_epoch(line);
    if (epoch < 0) {
      tg::fail("--log: {}: line {} is not a row of a metrics log: '{}'", path_.string(), number,
               line);
    }
    // Epochs after the checkpoint's are run again, and get their rows again.
    if (epoch <= resumed_epoch) rows_.push_back(line);
  }
}

void MetricsLog::add(const EpochMetrics& m) {
  if (path_.empty()) return;
  rows_.push_back(fmt::format("{},{:.6f},{:.4f},{:.6g},{:.1f}", m.epoch, m.loss, m.accuracy, m.lr,
                              m.img_per_s));
  write();
}

void MetricsLog::write() const {
  std::string text = std::string(header) + "\n";
  for (const std::string& row : rows_) text += row + "\n";
  // The temporary file is named and locked as tg::write_safetensors names and locks its own
  // ("<path>.tapegrad-tmp.<pid>.XXXXXX"), so that tg::check_writable at the next start removes
  // one a killed run left behind.
  std::string temporary = fmt::format("{}.tapegrad-tmp.{}.XXXXXX", path_.string(), ::getpid());
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) {
    tg::fail("--log: cannot create a file beside {}: {}", path_.string(), std::strerror(errno));
  }
  ::flock(fd, LOCK_EX);  // held until the close below: the mark of a live writer
  bool ok = ::fchmod(fd, 0644) == 0 && write_all(fd, text) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(temporary.c_str(), path_.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temporary.c_str());
    tg::fail("--log: writing {} failed: {}", path_.string(), reason);
  }
}

}  // namespace examples
