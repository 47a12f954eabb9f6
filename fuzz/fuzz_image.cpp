// Image files as an image folder reads them: decoded by stb_image (PNG, JPEG, BMP), then
// converted to planar CHW at other sizes and channel counts.
#include "fuzz/fuzz_input.h"
#include "nnlab/data/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = nnlab::fuzz::write_input(data, size, "image.png");
  nnlab::fuzz::expect_success_or_clear_error(path, [&] {
    nnlab::data::Image img = nnlab::data::decode_image(path);
    nnlab::data::to_chw(img, 3, 32, 32);
    nnlab::data::to_chw(img, 1, 7, 5);
  });
  return 0;
}
