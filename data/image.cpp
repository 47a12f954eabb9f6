#include "data/image.h"

#include <algorithm>
#include <cmath>

#include "data/dataset.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO_WARNINGS
#include <stb/stb_image.h>

namespace nnlab::data {

// The largest image decode_image accepts: 2^26 pixels (8192 x 8192), 256 MiB as RGBA. The
// header is read first, so a file claiming more is refused before anything is allocated.
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;

Image decode_image(const std::string& path) {
  int w = 0, h = 0, c = 0;
  if (!stbi_info(path.c_str(), &w, &h, &c))
    throw DataError(path + ": cannot decode image (" + stbi_failure_reason() + ")");
  if (int64_t(w) * int64_t(h) > kMaxImagePixels)
    throw DataError(path + ": image is " + std::to_string(w) + "x" + std::to_string(h) +
                    " pixels, more than the " + std::to_string(kMaxImagePixels) + "-pixel limit");
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &c, 0);
  if (!data) throw DataError(path + ": cannot decode image (" + stbi_failure_reason() + ")");
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
