// Image decoding (PNG, JPEG, BMP via stb_image) and the conversions the loaders need:
// interleaved HWC pixels to planar CHW, channel count changes, bilinear resizing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nnlab::data {

struct Image {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // interleaved HWC, as decoded
};

struct ImageHeader {
  int64_t width = 0, height = 0, channels = 0;
};
// The size of the image in `path`, after the checks decode_image makes before decoding (a
// file of at most 256 MiB, a header stb_image reads, at most 2^26 pixels, sound JPEG Huffman
// tables); throws DataError naming the file and what is wrong.
ImageHeader read_image_header(const std::string& path);

// Throws DataError naming the file and stb_image's reason when it cannot be decoded.
Image decode_image(const std::string& path);

// Planar CHW bytes with `channels` channels (grey <-> RGB by replication or ITU-R 601 luma;
// alpha dropped) and size height x width (bilinear, pixel centres aligned as PIL does).
std::vector<uint8_t> to_chw(const Image& img, int64_t channels, int64_t height, int64_t width);

}  // namespace nnlab::data
