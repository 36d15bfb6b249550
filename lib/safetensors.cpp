#include "safetensors.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>
#include <system_error>

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

// The files a writer makes beside `path`: "<path>.tapegrad-tmp.<pid>.XXXXXX", a save's temporary
// file (renamed over `path` once complete), and "<path>.tapegrad-probe.<pid>.XXXXXX",
// check_writable's probe. mkstemp makes the name unique; the pid says whose it is.
std::string own_file_template(const std::filesystem::path& path, std::string_view kind) {
  return fmt::format("{}.tapegrad-{}.{}.XXXXXX", path.string(), kind, ::getpid());
}

// Creates such a file (filling in `name`) and takes an exclusive flock on it, which its writer
// holds until the file is renamed or removed: the mark of a live writer that remove_abandoned
// trusts where a pid cannot be checked (a writer in another container or on another machine).
// Returns the descriptor, or -1 with errno set.
int create_own_file(std::string& name) {
  const int fd = ::mkstemp(name.data());
  if (fd >= 0) ::flock(fd, LOCK_EX);  // may fail on a file system without locks: the pid remains
  return fd;
}

// If the writer of `file` ("<pid>.XXXXXX" after its prefix: `rest`) is gone (its pid runs no
// process here, and nobody holds the file's lock), the file opened with its lock taken; otherwise
// no descriptor.
FileDescriptor lock_if_abandoned(const std::filesystem::path& file, std::string_view rest) {
  const std::size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 9 || rest.size() - dot - 1 != 6 ||
      !std::all_of(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(dot),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return FileDescriptor(-1);
  }
  const long pid = std::strtol(std::string(rest.substr(0, dot)).c_str(), nullptr, 10);
  if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) {
    return FileDescriptor(-1);
  }
  const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return FileDescriptor(-1);
  }
  return FileDescriptor(fd);
}

// Removes the files beside `path` whose writer is gone: a writer killed between creating its
// temporary file and the rename leaves one (750 KB for the MNIST example), and they piled up run
// after run. A file some process still writes is left alone, and so is everything that does not
// have these files' names. Best effort: an error here never stops a save.
void remove_abandoned(const std::filesystem::path& path) {
  const std::string filename = path.filename().string();
  const std::filesystem::path directory =
      path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  std::error_code error;
  std::filesystem::directory_iterator it(directory, error);
  for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    for (std::string_view kind : {".tapegrad-tmp.", ".tapegrad-probe."}) {
      const std::string prefix = filename + std::string(kind);
      if (!name.starts_with(prefix)) continue;
      const FileDescriptor lock =
          lock_if_abandoned(it->path(), std::string_view(name).substr(prefix.size()));
      if (lock.get() >= 0) {
        std::error_code ignored;
        std::filesystem::remove(it->path(), ignored);
      }
    }
  }
}

// Makes a completed rename survive a power cut: the directory entry is flushed too.
void sync_directory(const std::filesystem::path& directory) {
  FileDescriptor dir(::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY));
  if (dir.get() >= 0) ::fsync(dir.get());
}

// Where the data section starts and how long it is, from the header length.
struct Sections {
  std::uint64_t file_size = 0;
  std::uint64_t data_start = 0;
  std::uint64_t data_size = 0;
};

// A tensor's entry in the header; its bytes are [begin, end) of the data section.
struct Entry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

Sections read_header_length(std::ifstream& in, const std::string& where, std::uint64_t file_size) {
  std::uint64_t header_size = 0;
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(&header_size), 8)) {
    fail("read_safetensors: {}: {} bytes, too short for the 8-byte header length at offset 0",
         where, file_size);
  }
  if (header_size > max_header_bytes || header_size > file_size - 8) {
    fail("read_safetensors: {}: header length {} at offset 0 exceeds the file ({} bytes)", where,
         header_size, file_size);
  }
  return {file_size, 8 + header_size, file_size - 8 - header_size};
}

nlohmann::json read_header(std::ifstream& in, const std::string& where, const Sections& sections) {
  std::string text(sections.data_start - 8, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(text.size()))) {
    fail("read_safetensors: {}: reading the {}-byte header at offset 8 failed", where, text.size());
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail("read_safetensors: {}: corrupt JSON header at byte offset {}: {}", where, 8 + e.byte - 1,
         e.what());
  } catch (const nlohmann::json::exception& e) {
    // Valid JSON that nlohmann cannot hold, e.g. a number beyond a double (out_of_range 406,
    // found by tests/fuzz/fuzz_safetensors: "24E526").
    fail("read_safetensors: {}: JSON header at offset 8 not readable: {}", where, e.what());
  }
  if (!header.is_object()) {
    fail("read_safetensors: {}: the header at offset 8 is not a JSON object", where);
  }
  return header;
}

std::map<std::string, std::string> parse_metadata(const std::string& where,
                                                  const nlohmann::json& field) {
  if (!field.is_object()) fail("read_safetensors: {}: __metadata__ is not an object", where);
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : field.items()) {
    if (!value.is_string()) fail("read_safetensors: {}: metadata '{}' is not a string", where, key);
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

std::optional<DType> parse_dtype(const std::string& text) {
  if (text == "F32") return DType::f32;
  if (text == "F64") return DType::f64;
  if (text == "I64") return DType::i64;
  return std::nullopt;
}

Entry parse_entry(const std::string& where, const std::string& name, const nlohmann::json& field) {
  auto bad = [&](const char* why) {
    fail("read_safetensors: {}: tensor '{}' in the header: {}", where, name, why);
  };
  if (!field.is_object() || !field.contains("dtype") || !field.contains("shape") ||
      !field.contains("data_offsets")) {
    bad("expected an object with dtype, shape and data_offsets");
  }
  Entry entry;
  entry.name = name;
  if (!field["dtype"].is_string()) bad("dtype is not a string");
  const std::optional<DType> dtype = parse_dtype(field["dtype"].get<std::string>());
  if (!dtype) bad("dtype is not F32, F64 or I64");
  entry.dtype = *dtype;
  if (!field["shape"].is_array()) bad("shape is not an array");
  for (const auto& d : field["shape"]) {
    if (!d.is_number_unsigned()) bad("shape holds a value that is not a non-negative integer");
    entry.shape.push_back(d.get<std::size_t>());
  }
  std::uint64_t count = 0;
  try {
    count = checked_numel(entry.shape, "shape");
  } catch (const Error&) {
    bad("shape has more than 2^48 elements");
  }
  const auto& offsets = field["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    bad("data_offsets is not [begin, end]");
  }
  entry.begin = offsets[0].get<std::uint64_t>();
  entry.end = offsets[1].get<std::uint64_t>();
  if (entry.end < entry.begin || entry.end - entry.begin != count * element_size(entry.dtype)) {
    bad("data_offsets do not span shape x dtype bytes");
  }
  return entry;
}

// The data section must be exactly the tensors, back to back, within the file. Checked before
// anything is allocated or read.
void check_layout(const std::string& where, std::vector<Entry> entries, const Sections& sections) {
  for (const Entry& entry : entries) {
    if (entry.end > sections.data_size) {
      fail(
          "read_safetensors: {}: tensor '{}' ends at byte offset {}, past the end of the file ({} "
          "bytes)",
          where, entry.name, sections.data_start + entry.end, sections.file_size);
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  std::uint64_t expected = 0;
  for (const Entry& entry : entries) {
    if (entry.begin != expected) {
      fail(
          "read_safetensors: {}: tensor '{}' starts at data offset {} but the previous one ends "
          "at {} (overlap or hole)",
          where, entry.name, entry.begin, expected);
    }
    expected = entry.end;
  }
  if (expected != sections.data_size) {
    fail("read_safetensors: {}: {} bytes of data after the last tensor, at byte offset {}", where,
         sections.data_size - expected, sections.data_start + expected);
  }
}

Tensor read_entry(std::ifstream& in, const std::string& where, const Entry& entry,
                  std::uint64_t data_start) {
  Tensor t = zeros(entry.shape, {.dtype = entry.dtype});
  in.seekg(static_cast<std::streamoff>(data_start + entry.begin));
  dispatch_any(entry.dtype, [&]<class T>() {
    in.read(reinterpret_cast<char*>(t.value<T>().data()),
            static_cast<std::streamsize>(entry.end - entry.begin));
  });
  if (!in) {
    fail("read_safetensors: {}: reading tensor '{}' at byte offset {} failed", where, entry.name,
         data_start + entry.begin);
  }
  return t;
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
  remove_abandoned(path);
  std::string temporary = own_file_template(path, "tmp");
  FileDescriptor fd(create_own_file(temporary));
  if (fd.get() < 0) {
    fail("write_safetensors: cannot create a file beside {}: {}", path.string(),
         std::strerror(errno));
  }
  // The lock lives as long as any descriptor of the file: this one keeps it past the close
  // below (which reports delayed write errors) until the rename is done.
  const FileDescriptor lock(::dup(fd.get()));
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

void check_writable(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    fail("check_writable: {} is a directory, not a file name", path.string());
  }
  remove_abandoned(path);
  std::string probe = own_file_template(path, "probe");
  const FileDescriptor fd(create_own_file(probe));
  if (fd.get() < 0) {
    fail("check_writable: cannot create a file beside {}: {}", path.string(), std::strerror(errno));
  }
  std::remove(probe.c_str());
}

SafeTensors read_safetensors(const std::filesystem::path& path) {
  const std::string where = path.string();
  // A directory opens as a stream on Linux, and its "size" was reported as 2^63 - 1 bytes.
  std::error_code error;
  if (std::filesystem::exists(path, error) && !std::filesystem::is_regular_file(path, error)) {
    fail("read_safetensors: {} is not a regular file", where);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("read_safetensors: cannot open {}", where);
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  const Sections sections = read_header_length(in, where, file_size);
  const nlohmann::json header = read_header(in, where, sections);

  SafeTensors result;
  std::vector<Entry> entries;
  for (const auto& [name, field] : header.items()) {
    if (name == "__metadata__") {
      result.metadata = parse_metadata(where, field);
    } else {
      entries.push_back(parse_entry(where, name, field));
    }
  }
  check_layout(where, entries, sections);
  for (const Entry& entry : entries) {
    result.tensors.emplace(entry.name, read_entry(in, where, entry, sections.data_start));
  }
  return result;
}

}  // namespace tg
