#include "safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "../autograd/dispatch.hpp"

namespace tg {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this build writes native byte order");

constexpr std::uint64_t max_header_bytes = 100'000'000;

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::i64:
      return "I64";
  }
  return "?";
}

std::size_t element_size(DType dtype) { return dtype == DType::f32 ? 4 : 8; }

const void* raw_data(const Tensor& t) {
  return dispatch_any(t.dtype(), [&]<class T>() -> const void* { return t.value<T>().data(); });
}

// A file descriptor that is closed on every path out.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting failure (close can report a delayed write error).
  bool close() { return ::close(std::exchange(fd_, -1)) == 0; }

 private:
  int fd_;
};

bool write_all(int fd, const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

// Makes a completed rename survive a power cut: the directory entry is flushed too.
void sync_directory(const std::filesystem::path& directory) {
  FileDescriptor dir(::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY));
  if (dir.get() >= 0) ::fsync(dir.get());
}

}  // namespace

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__" || header.contains(name)) {
      fail("write_safetensors: {}: duplicate or reserved tensor name '{}'", path.string(), name);
    }
    if (!tensor.defined())
      fail("write_safetensors: {}: tensor '{}' is undefined", path.string(), name);
    const std::uint64_t bytes = tensor.numel() * element_size(tensor.dtype());
    header[name] = {
        {"dtype", safetensors_dtype(tensor.dtype())},
        {"shape", std::vector<std::size_t>(tensor.shape().begin(), tensor.shape().end())},
        {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Padding to 8 bytes keeps the data aligned for readers that map the file.
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::uint64_t header_size = text.size();

  // A unique temporary file beside the target (mkstemp: two writers never share one), written
  // and flushed to disk, then renamed over the target: readers see the old file or the new
  // one, never part of one.
  std::string temporary = path.string() + ".tmp.XXXXXX";
  FileDescriptor fd(::mkstemp(temporary.data()));
  if (fd.get() < 0) {
    fail("write_safetensors: cannot create a file beside {}: {}", path.string(),
         std::strerror(errno));
  }
  bool ok = ::fchmod(fd.get(), 0644) == 0 &&
            write_all(fd.get(), &header_size, sizeof header_size) &&
            write_all(fd.get(), text.data(), text.size());
  for (const auto& [name, tensor] : tensors) {
    ok = ok && write_all(fd.get(), raw_data(tensor), tensor.numel() * element_size(tensor.dtype()));
  }
  ok = ok && ::fsync(fd.get()) == 0;
  ok = fd.close() && ok;
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temporary.c_str());
    fail("write_safetensors: writing {} failed: {}", path.string(), reason);
  }
  sync_directory(path.parent_path());
}

SafeTensors read_safetensors(const std::filesystem::path& path) {
  const std::string where = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("read_safetensors: cannot open {}", where);
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  std::uint64_t header_size = 0;
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(&header_size), 8)) {
    fail("read_safetensors: {}: {} bytes, too short for the 8-byte header length at offset 0",
         where, file_size);
  }
  if (header_size > max_header_bytes || header_size > file_size - 8) {
    fail("read_safetensors: {}: header length {} at offset 0 exceeds the file ({} bytes)", where,
         header_size, file_size);
  }
  std::string text(header_size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_size));
  const std::uint64_t data_start = 8 + header_size;
  const std::uint64_t data_size = file_size - data_start;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail("read_safetensors: {}: corrupt JSON header at byte offset {}: {}", where, 8 + e.byte - 1,
         e.what());
  }
  if (!header.is_object())
    fail("read_safetensors: {}: the header at offset 8 is not a JSON object", where);

  SafeTensors result;
  struct Span {
    std::uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("read_safetensors: {}: __metadata__ is not an object", where);
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string())
          fail("read_safetensors: {}: metadata '{}' is not a string", where, key);
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const char* why) {
      fail("read_safetensors: {}: tensor '{}' in the header: {}", where, name, why);
    };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets")) {
      bad("expected an object with dtype, shape and data_offsets");
    }
    const auto& dtype_field = entry["dtype"];
    if (!dtype_field.is_string()) bad("dtype is not a string");
    const std::string dtype_name = dtype_field.get<std::string>();
    DType dtype;
    if (dtype_name == "F32") {
      dtype = DType::f32;
    } else if (dtype_name == "F64") {
      dtype = DType::f64;
    } else if (dtype_name == "I64") {
      dtype = DType::i64;
    } else {
      bad("dtype is not F32, F64 or I64");
    }
    Shape shape;
    if (!entry["shape"].is_array()) bad("shape is not an array");
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) bad("shape holds a value that is not a non-negative integer");
      shape.push_back(d.get<std::size_t>());
    }
    std::uint64_t count = 0;
    try {
      count = checked_numel(shape, "shape");
    } catch (const Error&) {
      bad("shape has more than 2^48 elements");
    }
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      bad("data_offsets is not [begin, end]");
    }
    const auto begin = offsets[0].get<std::uint64_t>();
    const auto end = offsets[1].get<std::uint64_t>();
    if (end < begin || end - begin != count * element_size(dtype)) {
      bad("data_offsets do not span shape x dtype bytes");
    }
    if (end > data_size) {
      fail(
          "read_safetensors: {}: tensor '{}' ends at byte offset {}, past the end of the file ({} "
          "bytes)",
          where, name, data_start + end, file_size);
    }
    spans.push_back({begin, end, name});

    Tensor t = zeros(shape, {.dtype = dtype});
    in.seekg(static_cast<std::streamoff>(data_start + begin));
    dispatch_any(dtype, [&]<class T>() {
      in.read(reinterpret_cast<char*>(t.value<T>().data()),
              static_cast<std::streamsize>(end - begin));
    });
    if (!in)
      fail("read_safetensors: {}: reading tensor '{}' at byte offset {} failed", where, name,
           data_start + begin);
    result.tensors.emplace(name, std::move(t));
  }
  // The data section must be exactly the tensors, back to back.
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::uint64_t expected = 0;
  for (const Span& span : spans) {
    if (span.begin != expected) {
      fail(
          "read_safetensors: {}: tensor '{}' starts at data offset {} but the previous one ends "
          "at {} (overlap or hole)",
          where, span.name, span.begin, expected);
    }
    expected = span.end;
  }
  if (expected != data_size) {
    fail("read_safetensors: {}: {} bytes of data after the last tensor, at byte offset {}", where,
         data_size - expected, data_start + expected);
  }
  return result;
}

}  // namespace tg
