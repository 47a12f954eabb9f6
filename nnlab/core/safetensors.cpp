#include "nnlab/core/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <tuple>

#include "nnlab/core/backend.h"

namespace nnlab {
namespace {
const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I32: return "I32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
  }
  return "?";
}

DType parse_dtype(const std::string& s, const std::string& where) {
  if (s == "F32") return DType::F32;
  if (s == "F64") return DType::F64;
  if (s == "I32") return DType::I32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  throw std::runtime_error(where + ": dtype \"" + s + "\", expected F32, F64, I32, F16 or BF16");
}

// A file type in words, for an error about a target that is not a regular file.
std::string kind_of(std::filesystem::file_type type) {
  using std::filesystem::file_type;
  switch (type) {
    case file_type::directory:
      return "a directory";
    case file_type::fifo:
      return "a fifo";
    case file_type::socket:
      return "a socket";
    case file_type::character:
      return "a character device";
    case file_type::block:
      return "a block device";
    default:
      return "of an unknown type";
  }
}

// The file a write to `path` replaces: `path`, or where its chain of symlinks ends (a symlink is
// written through, so the link itself survives). Refuses anything but a regular file or nothing.
std::filesystem::path write_target(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path target = path;
  std::error_code ec;
  for (int hops = 0; fs::is_symlink(fs::symlink_status(target, ec)); ++hops) {
    if (hops == 40) throw std::runtime_error(path + ": too many levels of symbolic links");
    fs::path next = fs::read_symlink(target, ec);
    if (ec) throw std::runtime_error(path + ": cannot read the symlink (" + ec.message() + ")");
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  std::string named =
      target == fs::path(path) ? path : path + " (a symlink to " + target.string() + ")";
  fs::file_status status = fs::status(target, ec);
  if (fs::exists(status) && !fs::is_regular_file(status))
    throw std::runtime_error(named + ": is " + kind_of(status.type()) + ", not a regular file");
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error(dir.string() + ": no such directory (writing " + named + ")");
  return target;
}

// Creates the temporary file a write goes through, replacing whatever stale entry has its name
// (a fifo there would block the open).
std::ofstream open_partial(const std::string& partial) {
  std::error_code ignored;
  std::filesystem::remove(partial, ignored);
  std::ofstream out(partial, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(partial + ": cannot create (" + std::strerror(errno) + ")");
  return out;
}
}  // namespace

void check_safetensors_writable(const std::string& path) {
  std::string partial = write_target(path).string() + ".partial";
  open_partial(partial).close();
  std::filesystem::remove(partial);
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    header[name] = {{"dtype", safetensors_dtype(t.dtype())}, {"shape", t.shape().dims()},
                    {"data_offsets", {offset, offset + t.bytes()}}};
    offset += t.bytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the format pads the header with spaces
  std::string target = write_target(path).string(), partial = target + ".partial";
  {
    std::ofstream out = open_partial(partial);
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out.put(char(n >> (8 * i)));
    out << text;
    for (const auto& [name, t] : tensors) {
      std::vector<char> host(t.bytes());
      t.backend().copy_to_host(host.data(), t.raw(), t.bytes());
      out.write(host.data(), std::streamsize(host.size()));
    }
    if (!out.flush()) throw std::runtime_error(partial + ": write failed");
  }
  std::filesystem::rename(partial, target);
}

namespace {
// The file's header, parsed and checked against the file's size.
struct Header {
  uint64_t header_len = 0, data_size = 0;
  nlohmann::json json;
};

Header read_header(const std::string& path, std::ifstream& in) {
  std::error_code ec;
  uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error(path + ": cannot read (" + ec.message() + ")");
  unsigned char len_bytes[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(len_bytes), 8))
    throw std::runtime_error(path + ": " + std::to_string(file_size) + " bytes, too short for a safetensors header");
  Header h;
  for (int i = 7; i >= 0; --i) h.header_len = h.header_len << 8 | len_bytes[i];
  if (h.header_len > file_size - 8)
    throw std::runtime_error(path + ": header length " + std::to_string(h.header_len) +
                             " exceeds the file (" + std::to_string(file_size) + " bytes)");
  std::string text(static_cast<size_t>(h.header_len), '\0');
  in.read(text.data(), std::streamsize(h.header_len));
  try {
    h.json = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!h.json.is_object()) throw std::runtime_error(path + ": header is not a JSON object");
  h.data_size = file_size - 8 - h.header_len;
  return h;
}

std::map<std::string, std::string> metadata_of(const nlohmann::json& header) {
  std::map<std::string, std::string> out;
  if (header.contains("__metadata__"))
    for (auto& [k, v] : header["__metadata__"].items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

// One tensor's entry of the header, checked on its own.
struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> dims;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& entry,
                  uint64_t data_size) {
  std::string where = path + ": tensor \"" + name + "\"";
  if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
      !entry.contains("data_offsets") || !entry["dtype"].is_string() ||
      !entry["shape"].is_array() || !entry["data_offsets"].is_array() ||
      entry["data_offsets"].size() != 2)
    throw std::runtime_error(where +
                             ": expected {\"dtype\", \"shape\", \"data_offsets\": [begin, end]}");
  Entry e{name, parse_dtype(entry["dtype"].get<std::string>(), where), {}, 0, 0};
  const auto& off = entry["data_offsets"];
  if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    throw std::runtime_error(where + ": data_offsets must be non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  std::string range = "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
  if (e.begin > e.end)
    throw std::runtime_error(where + ": data_offsets " + range + " end before they begin");
  if (e.end > data_size)
    throw std::runtime_error(where + ": data_offsets " + range + " fall outside the " +
                             std::to_string(data_size) + " bytes of data");
  uint64_t count = 1;
  for (const auto& d : entry["shape"]) {
    if (!d.is_number_unsigned())
      throw std::runtime_error(where + ": shape holds a non-integer or negative size");
    uint64_t v = d.get<uint64_t>();
    if (v > data_size || (v && count > data_size / v))
      throw std::runtime_error(where + ": shape exceeds the " + std::to_string(data_size) +
                               " bytes of data");
    count *= v;
    e.dims.push_back(int64_t(v));
  }
  if (e.end - e.begin != count * dtype_size(e.dtype))
    throw std::runtime_error(where + ": shape and dtype need " +
                             std::to_string(count * dtype_size(e.dtype)) +
                             " bytes, data_offsets give " + std::to_string(e.end - e.begin));
  return e;
}

std::string span(const Entry& e) {
  return "\"" + e.name + "\" [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ")";
}

// The format requires the byte ranges, in order, to tile the data: each tensor begins where the
// previous one ends, the first at 0, the last at the end. Overlapping tensors would load as
// aliases of each other's bytes, and a gap hides data no tensor accounts for.
void check_tiling(const std::string& path, std::vector<Entry>& entries, uint64_t data_size) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < covered)
      throw std::runtime_error(path + ": tensors " + span(*previous) + " and " + span(e) +
                               " overlap");
    if (e.begin > covered)
      throw std::runtime_error(path + ": bytes [" + std::to_string(covered) + ", " +
                               std::to_string(e.begin) + ") of the data belong to no tensor (" +
                               (previous ? "between \"" + previous->name + "\" and" : "before") +
                               " \"" + e.name + "\")");
    covered = e.end;
    previous = &e;
  }
  if (covered != data_size)
    throw std::runtime_error(
        path + ": bytes [" + std::to_string(covered) + ", " + std::to_string(data_size) +
        ") of the data belong to no tensor (" +
        (previous ? "after \"" + previous->name + "\"" : "the header lists none") + ")");
}
}  // namespace

std::map<std::string, std::string> load_safetensors_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return metadata_of(read_header(path, in).json);
}

SafetensorsFile load_safetensors(const std::string& path, Backend& backend) {
  std::ifstream in(path, std::ios::binary);
  Header header = read_header(path, in);
  SafetensorsFile out;
  out.metadata = metadata_of(header.json);
  std::vector<Entry> entries;
  for (auto& [name, entry] : header.json.items())
    if (name != "__metadata__") entries.push_back(parse_entry(path, name, entry, header.data_size));
  check_tiling(path, entries, header.data_size);
  for (const Entry& e : entries) {
    std::vector<char> host(static_cast<size_t>(e.end - e.begin));
    in.seekg(std::streamoff(8 + header.header_len + e.begin));
    if (!in.read(host.data(), std::streamsize(host.size())))
      throw std::runtime_error(path + ": tensor \"" + e.name + "\": read failed");
    Tensor t = Tensor::empty(Shape(e.dims), e.dtype, backend);
    backend.copy_from_host(t.raw(), host.data(), host.size());
    out.tensors.emplace(e.name, t);
  }
  return out;
}

}  // namespace nnlab
