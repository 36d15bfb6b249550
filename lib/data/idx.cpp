#include "idx.hpp"

#include <limits>
#include <string>

#include <zlib.h>

#include "../../autograd/error.hpp"

namespace tg::data {
namespace {

constexpr std::uint8_t unsigned_byte_type = 0x08;
constexpr std::size_t max_dims = 8;

// A gzip (or plain: zlib reads those through) stream that knows its offset.
class Reader {
 public:
  explicit Reader(const std::filesystem::path& path) : path_(path) {
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) fail("read_idx: cannot open {}", path.string());
  }
  ~Reader() { gzclose(file_); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Reads up to `size` bytes; returns how many were read (fewer only at the end).
  std::size_t read(void* out, std::size_t size) {
    std::size_t done = 0;
    auto* bytes = static_cast<unsigned char*>(out);
    while (done < size) {
      const auto chunk = static_cast<unsigned>(
          std::min<std::size_t>(size - done, std::numeric_limits<int>::max()));
      const int got = gzread(file_, bytes + done, chunk);
      if (got < 0) {
        int code = 0;
        fail("read_idx: {}: corrupt or unreadable data at byte offset {} ({})", path_.string(),
             offset_ + done, gzerror(file_, &code));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    offset_ += done;
    return done;
  }

  // Reads exactly `size` bytes of `what`, or throws.
  void read_exactly(void* out, std::size_t size, const char* what) {
    const std::size_t start = offset_;
    const std::size_t got = read(out, size);
    if (got != size) {
      fail(
          "read_idx: {}: truncated {} at byte offset {}: expected {} bytes, the file ends after "
          "{}",
          path_.string(), what, start, size, got);
    }
  }

  std::size_t offset() const { return offset_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  gzFile file_ = nullptr;
  std::size_t offset_ = 0;
};

}  // namespace

IdxArray read_idx(const std::filesystem::path& path) {
  Reader reader(path);
  std::uint8_t magic[4];
  reader.read_exactly(magic, 4, "header");
  if (magic[0] != 0 || magic[1] != 0) {
    fail(
        "read_idx: {}: not an IDX file: the magic number at byte offset 0 is {:02x} {:02x} {:02x} "
        "{:02x}, expected 00 00 <type> <dims>",
        path.string(), magic[0], magic[1], magic[2], magic[3]);
  }
  if (magic[2] != unsigned_byte_type) {
    fail(
        "read_idx: {}: element type 0x{:02x} at byte offset 2 is not supported (expected 0x08, "
        "unsigned byte)",
        path.string(), magic[2]);
  }
  const std::size_t rank = magic[3];
  if (rank == 0 || rank > max_dims) {
    fail("read_idx: {}: {} dims at byte offset 3, expected 1 to {}", path.string(), rank, max_dims);
  }

  IdxArray array;
  std::size_t count = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::size_t offset = reader.offset();
    std::uint8_t be[4];
    reader.read_exactly(be, 4, "dimension");
    const std::size_t dim = (std::size_t{be[0]} << 24) | (std::size_t{be[1]} << 16) |
                            (std::size_t{be[2]} << 8) | std::size_t{be[3]};
    if (dim == 0)
      fail("read_idx: {}: dimension {} at byte offset {} is 0", path.string(), d, offset);
    if (count > (std::size_t{1} << 40) / dim) {
      fail("read_idx: {}: dims at byte offset 4 describe more than 2^40 elements", path.string());
    }
    count *= dim;
    array.dims.push_back(dim);
  }

  // Read in slices, growing the array as data arrives: a header that claims more than the file
  // holds costs no more memory than the file, and fails as truncated.
  constexpr std::size_t slice = std::size_t{1} << 22;
  const std::size_t data_start = reader.offset();
  while (array.values.size() < count) {
    const std::size_t done = array.values.size();
    const std::size_t want = std::min(slice, count - done);
    array.values.resize(done + want);
    const std::size_t got = reader.read(array.values.data() + done, want);
    if (got != want) {
      fail(
          "read_idx: {}: truncated data at byte offset {}: expected {} bytes, the file ends after "
          "{}",
          path.string(), data_start, count, done + got);
    }
  }
  std::uint8_t extra = 0;
  if (reader.read(&extra, 1) != 0) {
    fail(
        "read_idx: {}: unexpected bytes after the data at byte offset {} (the header describes {} "
        "bytes of data)",
        path.string(), reader.offset() - 1, count);
  }
  return array;
}

}  // namespace tg::data
