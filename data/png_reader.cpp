// PNG decoding through libpng into planar 8-bit gray or RGB.
//
// libpng reports errors by calling an error function that must not return; we longjmp out
// of it. A longjmp skips C++ destructors, so the function that calls setjmp owns nothing
// with a destructor: the libpng structs and buffers belong to its caller, which turns the
// failure into a kite::Error after the jump has landed.
#include "data/png_reader.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/error.h"

namespace kite::data {

namespace {

// Refuse images over 1 GiB decoded: far beyond any dataset image, and it stops a corrupt
// header from asking for an absurd allocation.
constexpr uint64_t kMaxImageBytes = uint64_t{1} << 30;
// Deflate turns at most 2 bits into 258 bytes, so compressed data expands at most 1032:1.
constexpr uint64_t kMaxDeflateRatio = 1032;

// What libpng's callbacks see. Plain data only, because of the longjmp.
struct PngReadState {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t offset = 0;
  std::jmp_buf jump;
  char message[256] = {};
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngReadState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  std::longjmp(state->jump, 1);
}

// Warnings concern ancillary chunks (bad ICC profiles, text); the pixels are unaffected.
void on_png_warning(png_structp, png_const_charp) {}

void read_from_memory(png_structp png, png_bytep out, size_t length) {
  auto* state = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (length > state->size - state->offset) png_error(png, "unexpected end of file (truncated)");
  std::memcpy(out, state->data + state->offset, length);
  state->offset += length;
}

// Owns libpng's read and info structs.
class PngReadHandle {
 public:
  explicit PngReadHandle(PngReadState* state) {
    // Created with libpng's default handlers: ours would jump to a jmp_buf not yet set.
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    if (png_) info_ = png_create_info_struct(png_);
    if (png_) png_set_error_fn(png_, state, on_png_error, on_png_warning);
  }
  ~PngReadHandle() { png_destroy_read_struct(&png_, info_ ? &info_ : nullptr, nullptr); }
  PngReadHandle(const PngReadHandle&) = delete;
  PngReadHandle& operator=(const PngReadHandle&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

// Runs libpng. Returns false when libpng raised an error (its text is in state.message).
// Output goes to the caller's objects: `interleaved` gets rows of channels*width bytes.
bool run_libpng(PngReadState& state, const PngReadHandle& handle, const std::string& name,
                Image& image, std::vector<uint8_t>& interleaved, std::vector<png_bytep>& rows) {
  png_structp png = handle.png();
  png_infop info = handle.info();
  if (setjmp(state.jump)) return false;

  png_set_read_fn(png, &state, read_from_memory);
  png_read_info(png, info);
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, nullptr, nullptr, nullptr);

  const uint64_t bits_per_pixel = uint64_t{png_get_channels(png, info)} * bit_depth;
  const uint64_t stored_bytes = uint64_t{height} * ((width * bits_per_pixel + 7) / 8 + 1);
  KITE_CHECK(stored_bytes / kMaxDeflateRatio <= state.size,
             name << ": corrupt PNG: header announces " << width << "x" << height
                  << " pixels, more than its " << state.size << " bytes could hold");

  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16) png_set_scale_16(png);
  png_set_strip_alpha(png);  // also removes the alpha that a palette's tRNS expands into
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  const int channels = png_get_channels(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  KITE_CHECK((channels == 1 || channels == 3) && row_bytes == uint64_t{width} * channels,
             name << ": unexpected PNG layout after conversion: " << channels << " channels, "
                  << row_bytes << " bytes per row of " << width << " pixels");
  KITE_CHECK(uint64_t{height} * row_bytes <= kMaxImageBytes,
             name << ": PNG of " << width << "x" << height << " pixels is too large (over "
                  << kMaxImageBytes << " bytes decoded)");

  image.c = channels;
  image.h = height;
  image.w = width;
  interleaved.resize(height * row_bytes);
  rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = interleaved.data() + y * row_bytes;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);  // checks the CRCs up to IEND: a cut-off tail is an error
  return true;
}

}  // namespace

bool looks_like_png(const uint8_t* data, size_t size) {
  return size >= 8 && png_sig_cmp(data, 0, 8) == 0;
}

Image decode_png(const uint8_t* data, size_t size, const std::string& name) {
  KITE_CHECK(size > 0, name << ": empty file (0 bytes), expected a PNG image");
  KITE_CHECK(looks_like_png(data, size),
             name << ": not a PNG file (the first bytes are not the PNG signature)");
  PngReadState state;
  state.data = data;
  state.size = size;
  PngReadHandle handle(&state);
  KITE_CHECK(handle.png() && handle.info(), name << ": cannot create libpng decoder");

  Image image;
  std::vector<uint8_t> interleaved;
  std::vector<png_bytep> rows;
  if (!run_libpng(state, handle, name, image, interleaved, rows)) {
    KITE_FAIL(name << ": corrupt PNG: " << state.message);
  }

  // Interleaved rows (RGBRGB...) to planar channels.
  const int64_t plane = image.h * image.w;
  image.pixels.resize(image.c * plane);
  for (int64_t p = 0; p < plane; ++p) {
    for (int64_t ch = 0; ch < image.c; ++ch)
      image.pixels[ch * plane + p] = interleaved[p * image.c + ch];
  }
  return image;
}

}  // namespace kite::data
