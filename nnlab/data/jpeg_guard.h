// A check that stands in front of stb_image's JPEG decoder. Debian's stb_image (v2.27) builds
// each Huffman table of a DHT segment from 16 code-length counts without checking that they
// add up to at most 256, so a crafted JPEG writes past its 257-entry table (found by
// fuzz/fuzz_image; upstream v2.28 added the check). decode_image refuses such files first.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nnlab::data {

// "" when every Huffman table of the JPEG in bytes[0, size) declares at most 256 codes (or
// the bytes are not a JPEG); otherwise what is wrong, for the error message.
std::string jpeg_huffman_problem(const uint8_t* bytes, size_t size);

}  // namespace nnlab::data
