#include "nnlab/data/image.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "nnlab/data/dataset.h"
#include "nnlab/data/jpeg_guard.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#include <stb/stb_image.h>

namespace nnlab::data {

// The largest image decode_image accepts: 2^26 pixels (8192 x 8192), 256 MiB as RGBA. The
// header is read first, so a file claiming more is refused before anything is allocated.
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;

// Image files larger than this are refused unread (an 8192 x 8192 RGBA BMP is 256 MiB).
constexpr uintmax_t kMaxImageFileBytes = uintmax_t(1) << 28;

namespace {
std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) throw DataError(path + ": cannot read (" + ec.message() + ")");
  if (file_bytes > kMaxImageFileBytes)
    throw DataError(path + ": " + std::to_string(file_bytes) + " bytes, more than the " +
                    std::to_string(kMaxImageFileBytes) + "-byte limit for an image file");
  std::vector<uint8_t> bytes(static_cast<size_t>(file_bytes));
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size())))
    throw DataError(path + ": cannot read");
  return bytes;
}

// The header of the image in `bytes`, read by the stb_image reader of the format its
// signature names. stbi_info tries every format in turn and, when all fail, reports "unknown
// image type", which hides the reason the file's own format gave ("too large", "bad component
// count"); asking that format alone keeps it. Returns false with stbi_failure_reason() set.
bool read_header_of_own_format(const std::vector<uint8_t>& bytes, const char** format, int* w,
                               int* h, int* c) {
  stbi__context s;
  stbi__start_mem(&s, bytes.data(), int(bytes.size()));
  if (stbi__png_test(&s)) {
    *format = "PNG";
    return stbi__png_info(&s, w, h, c) != 0;
  }
  if (stbi__jpeg_test(&s)) {
    *format = "JPEG";
    return stbi__jpeg_info(&s, w, h, c) != 0;
  }
  if (stbi__bmp_test(&s)) {
    *format = "BMP";
    if (!stbi__bmp_info(&s, w, h, c)) return false;
    // A negative height marks a top-down BMP: the header query passes the sign on, the decoder
    // reads the rows in that order and reports the height itself.
    if (*h < 0 && *h != std::numeric_limits<int>::min()) *h = -*h;
    return true;
  }
  *format = "PNG, JPEG or BMP";
  return stbi__err("unknown image type", "Image not of any known type, or corrupt");
}

// Every check made before stb_image decodes anything: the JPEG guard, a header stb_image
// understands, and the pixel limit.
ImageHeader checked_header(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::string problem = jpeg_huffman_problem(bytes.data(), bytes.size());
  if (!problem.empty()) throw DataError(path + ": " + problem);
  int w = 0, h = 0, c = 0;
  const char* format = "";
  if (!read_header_of_own_format(bytes, &format, &w, &h, &c))
    throw DataError(path + ": not a readable " + format + " image (" + stbi_failure_reason() + ")");
  if (w < 1 || h < 1)
    throw DataError(path + ": image is " + std::to_string(w) + "x" + std::to_string(h) +
                    " pixels, expected at least 1x1");
  if (int64_t(w) * int64_t(h) > kMaxImagePixels)
    throw DataError(path + ": image is " + std::to_string(w) + "x" + std::to_string(h) +
                    " pixels, more than the " + std::to_string(kMaxImagePixels) + "-pixel limit");
  return {w, h, c};
}
}  // namespace

ImageHeader read_image_header(const std::string& path) { return checked_header(path, read_file(path)); }

Image decode_image(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  ImageHeader header = checked_header(path, bytes);
  int w = 0, h = 0, c = 0;
  unsigned char* data = stbi_load_from_memory(bytes.data(), int(bytes.size()), &w, &h, &c, 0);
  if (!data) throw DataError(path + ": cannot decode image (" + stbi_failure_reason() + ")");
  if (w != header.width || h != header.height || c != header.channels) {
    stbi_image_free(data);
    throw DataError(path + ": decoded " + std::to_string(w) + "x" + std::to_string(h) + "x" +
                    std::to_string(c) + ", but the header says " + std::to_string(header.width) +
                    "x" + std::to_string(header.height) + "x" + std::to_string(header.channels));
  }
  Image img{w, h, c, std::vector<uint8_t>(data, data + size_t(w) * size_t(h) * size_t(c))};
  stbi_image_free(data);
  return img;
}

std::vector<uint8_t> to_chw(const Image& img, int64_t channels, int64_t height, int64_t width) {
  std::vector<uint8_t> out(static_cast<size_t>(channels * height * width));
  int64_t src_colour = img.channels >= 3 ? 3 : 1;  // alpha is dropped
  // The value of source channel `ch` (after channel conversion) at integer pixel (y, x).
  auto at = [&](int64_t y, int64_t x, int64_t ch) -> double {
    const uint8_t* p = img.pixels.data() + (y * img.width + x) * img.channels;
    if (channels == 1 && src_colour == 3) return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    return p[src_colour == 1 ? 0 : ch];
  };
  double sy = double(img.height) / double(height), sx = double(img.width) / double(width);
  for (int64_t y = 0; y < height; ++y) {
    double fy = std::max(0.0, (double(y) + 0.5) * sy - 0.5);
    int64_t y0 = std::min<int64_t>(int64_t(fy), img.height - 1), y1 = std::min<int64_t>(y0 + 1, img.height - 1);
    double wy = fy - double(y0);
    for (int64_t x = 0; x < width; ++x) {
      double fx = std::max(0.0, (double(x) + 0.5) * sx - 0.5);
      int64_t x0 = std::min<int64_t>(int64_t(fx), img.width - 1), x1 = std::min<int64_t>(x0 + 1, img.width - 1);
      double wx = fx - double(x0);
      for (int64_t ch = 0; ch < channels; ++ch) {
        double v = (1 - wy) * ((1 - wx) * at(y0, x0, ch) + wx * at(y0, x1, ch)) +
                   wy * ((1 - wx) * at(y1, x0, ch) + wx * at(y1, x1, ch));
        out[size_t((ch * height + y) * width + x)] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

}  // namespace nnlab::data
