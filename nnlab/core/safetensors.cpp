#include "nnlab/core/safetensors.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

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
}  // namespace

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
  std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary);
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
  std::filesystem::rename(partial, path);
}

SafetensorsFile load_safetensors(const std::string& path, Backend& backend) {
  std::error_code ec;
  uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error(path + ": cannot read (" + ec.message() + ")");
  std::ifstream in(path, std::ios::binary);
  unsigned char len_bytes[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(len_bytes), 8))
    throw std::runtime_error(path + ": " + std::to_string(file_size) + " bytes, too short for a safetensors header");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | len_bytes[i];
  if (header_len > file_size - 8)
    throw std::runtime_error(path + ": header length " + std::to_string(header_len) + " exceeds the file (" +
                             std::to_string(file_size) + " bytes)");
  std::string text(static_cast<size_t>(header_len), '\0');
  in.read(text.data(), std::streamsize(header_len));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!header.is_object()) throw std::runtime_error(path + ": header is not a JSON object");
  uint64_t data_size = file_size - 8 - header_len;
  SafetensorsFile out;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      for (auto& [k, v] : entry.items())
        if (v.is_string()) out.metadata[k] = v.get<std::string>();
      continue;
    }
    std::string where = path + ": tensor \"" + name + "\"";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets") ||
        !entry["dtype"].is_string() || !entry["shape"].is_array() || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2)
      throw std::runtime_error(where + ": expected {\"dtype\", \"shape\", \"data_offsets\": [begin, end]}");
    DType dtype = parse_dtype(entry["dtype"].get<std::string>(), where);
    std::vector<int64_t> dims;
    uint64_t count = 1;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) throw std::runtime_error(where + ": shape holds a non-integer or negative size");
      uint64_t v = d.get<uint64_t>();
      if (v > data_size || (v && count > data_size / v))
        throw std::runtime_error(where + ": shape exceeds the " + std::to_string(data_size) + " bytes of data");
      count *= v;
      dims.push_back(int64_t(v));
    }
    const auto& off = entry["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw std::runtime_error(where + ": data_offsets must be non-negative integers");
    uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size)
      throw std::runtime_error(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                               "] fall outside the " + std::to_string(data_size) + " bytes of data");
    if (end - begin != count * dtype_size(dtype))
      throw std::runtime_error(where + ": shape and dtype need " + std::to_string(count * dtype_size(dtype)) +
                               " bytes, data_offsets give " + std::to_string(end - begin));
    std::vector<char> host(static_cast<size_t>(end - begin));
    in.seekg(std::streamoff(8 + header_len + begin));
    if (!in.read(host.data(), std::streamsize(host.size()))) throw std::runtime_error(where + ": read failed");
    Tensor t = Tensor::empty(Shape(dims), dtype, backend);
    backend.copy_from_host(t.raw(), host.data(), host.size());
    out.tensors.emplace(name, t);
  }
  return out;
}

}  // namespace nnlab
