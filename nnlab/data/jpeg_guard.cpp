#include "nnlab/data/jpeg_guard.h"

namespace nnlab::data {

std::string jpeg_huffman_problem(const uint8_t* bytes, size_t size) {
  // Start of image as stb_image accepts it: 0xFF, any number of 0xFF fill bytes, 0xD8.
  size_t pos = 1;
  if (size < 2 || bytes[0] != 0xFF) return "";  // not a JPEG
  while (pos < size && bytes[pos] == 0xFF) ++pos;
  if (pos == size || bytes[pos] != 0xD8) return "";
  ++pos;
  // Walks the markers as a decoder does: each segment is skipped by its length; after a
  // start of scan (SOS) the entropy-coded data runs to the next 0xFF that is neither a
  // stuffed 0xFF00 nor a restart marker (progressive files put DHTs between scans).
  while (pos + 1 < size) {
    if (bytes[pos] != 0xFF) {
      ++pos;  // inside entropy-coded data
      continue;
    }
    uint8_t marker = bytes[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0x00 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      pos += 2;  // stuffed byte, restart marker, TEM: no length follows
      continue;
    }
    if (marker == 0xD9) return "";  // end of image
    if (pos + 3 >= size) return "";  // truncated: the decoder reports it
    size_t length = size_t(bytes[pos + 2]) << 8 | bytes[pos + 3];
    size_t begin = pos + 4, end = pos + 2 + length;
    if (length < 2) return "";  // malformed: the decoder rejects it
    if (marker == 0xC4) {  // DHT: tables of (class/id byte, 16 counts, the symbols)
      // Like stb_image, trust the declared length and read bytes past the end as zeros.
      size_t at = begin;
      while (at < end && at < size) {
        unsigned codes = 0;
        for (size_t i = 1; i <= 16; ++i) codes += at + i < size ? bytes[at + i] : 0;
        if (codes > 256)
          return "corrupt JPEG: a Huffman table declares " + std::to_string(codes) +
                 " codes, at most 256 are possible";
        at += 17 + codes;
      }
    }
    pos = end;
  }
  return "";
}

}  // namespace nnlab::data
