// JPEG decoding through libjpeg-turbo into planar 8-bit gray or RGB.
//
// libjpeg's default error handler calls exit(). We install one that longjmps back to the
// decoder instead; as in png_reader.cpp, the function that calls setjmp owns nothing with a
// destructor, and its caller turns the failure into a kite::Error.
#include "data/jpeg_reader.h"

// jpeglib.h needs size_t and FILE declared before it.
#include <jerror.h>
#include <jpeglib.h>
#include <cstdio>

#include <csetjmp>
#include <vector>

#include "engine/error.h"

namespace kite::data {

namespace {

constexpr uint64_t kMaxImageBytes = uint64_t{1} << 30;
// libjpeg's own working memory (whole-image coefficient buffers of progressive files).
constexpr long kMaxDecoderMemory = 512L << 20;

// libjpeg's error manager first, so libjpeg's pointer to it is also a pointer to this.
struct JpegErrorState {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void jump_with_message(j_common_ptr cinfo) {
  auto* state = reinterpret_cast<JpegErrorState*>(cinfo->err);
  if (state->manager.msg_code == JWRN_JPEG_EOF) {
    std::snprintf(state->message, sizeof state->message, "truncated (data ends before the image)");
  } else {
    state->manager.format_message(cinfo, state->message);
  }
  std::longjmp(state->jump, 1);
}

void on_jpeg_error_exit(j_common_ptr cinfo) { jump_with_message(cinfo); }

// level -1 is a warning (corrupt or missing data that libjpeg would paper over); levels
// 0 and up are trace messages, which we do not print.
void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) jump_with_message(cinfo);
}

// Owns the decompressor; destroys it only if it was created.
struct JpegDecoder {
  jpeg_decompress_struct cinfo{};
  JpegErrorState errors{};
  bool created = false;
  ~JpegDecoder() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

// Runs libjpeg. Returns false when it raised an error or warning (text in errors.message).
bool run_libjpeg(JpegDecoder& decoder, const uint8_t* data, size_t size, const std::string& name,
                 Image& image, std::vector<uint8_t>& interleaved, std::vector<uint8_t>& row) {
  jpeg_decompress_struct* cinfo = &decoder.cinfo;
  cinfo->err = jpeg_std_error(&decoder.errors.manager);
  decoder.errors.manager.error_exit = on_jpeg_error_exit;
  decoder.errors.manager.emit_message = on_jpeg_message;
  if (setjmp(decoder.errors.jump)) return false;

  jpeg_create_decompress(cinfo);
  decoder.created = true;
  cinfo->mem->max_memory_to_use = kMaxDecoderMemory;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  cinfo->out_color_space = cinfo->jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  const uint64_t decoded_bytes = uint64_t{cinfo->image_width} * cinfo->image_height *
                                 (cinfo->out_color_space == JCS_GRAYSCALE ? 1 : 3);
  KITE_CHECK(decoded_bytes <= kMaxImageBytes,
             name << ": JPEG of " << cinfo->image_width << "x" << cinfo->image_height
                  << " pixels is too large (over " << kMaxImageBytes << " bytes decoded)");
  jpeg_start_decompress(cinfo);

  const size_t row_bytes = size_t{cinfo->output_width} * cinfo->output_components;
  image.c = cinfo->output_components;
  image.h = cinfo->output_height;
  image.w = cinfo->output_width;
  row.resize(row_bytes);
  // Grow the output as rows arrive rather than allocating what the header claims: a
  // corrupt header then costs only as much memory as the data actually decodes to.
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row_pointer = row.data();
    if (jpeg_read_scanlines(cinfo, &row_pointer, 1) != 1) {
      std::snprintf(decoder.errors.message, sizeof decoder.errors.message,
                    "decoder returned no scanline at row %u", cinfo->output_scanline);
      return false;
    }
    interleaved.insert(interleaved.end(), row.begin(), row.end());
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

bool looks_like_jpeg(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff;
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  KITE_CHECK(size > 0, name << ": empty file (0 bytes), expected a JPEG image");
  KITE_CHECK(looks_like_jpeg(data, size),
             name << ": not a JPEG file (it does not start with the marker ff d8 ff)");
  JpegDecoder decoder;
  Image image;
  std::vector<uint8_t> interleaved, row;
  if (!run_libjpeg(decoder, data, size, name, image, interleaved, row)) {
    KITE_FAIL(name << ": corrupt JPEG: " << decoder.errors.message);
  }
  KITE_CHECK(image.c == 1 || image.c == 3,
             name << ": JPEG decoded to " << image.c << " channels, expected 1 or 3");

  const int64_t plane = image.h * image.w;
  image.pixels.resize(image.c * plane);
  for (int64_t p = 0; p < plane; ++p) {
    for (int64_t ch = 0; ch < image.c; ++ch)
      image.pixels[ch * plane + p] = interleaved[p * image.c + ch];
  }
  return image;
}

}  // namespace kite::data
