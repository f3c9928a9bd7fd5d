// PNG encoding through libpng: 8-bit gray or RGB from planar pixels.
//
// Error handling follows png_reader.cpp: libpng's error callback longjmps to a function
// that owns no C++ objects; the caller turns the failure into a kite::Error.
#include "data/png_writer.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>

#include "data/file_bytes.h"
#include "engine/error.h"

namespace kite::data {

namespace {

struct PngWriteState {
  std::vector<uint8_t>* out = nullptr;
  std::jmp_buf jump;
  char message[256] = {};
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngWriteState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  std::longjmp(state->jump, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

void write_to_memory(png_structp png, png_bytep data, size_t length) {
  auto* state = static_cast<PngWriteState*>(png_get_io_ptr(png));
  bool out_of_memory = false;
  try {
    state->out->insert(state->out->end(), data, data + length);
  } catch (const std::bad_alloc&) {
    out_of_memory = true;  // png_error longjmps, which must not happen inside a catch
  }
  if (out_of_memory) png_error(png, "out of memory");
}

void flush_nothing(png_structp) {}

class PngWriteHandle {
 public:
  explicit PngWriteHandle(PngWriteState* state) {
    png_ = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    if (png_) info_ = png_create_info_struct(png_);
    if (png_) png_set_error_fn(png_, state, on_png_error, on_png_warning);
  }
  ~PngWriteHandle() { png_destroy_write_struct(&png_, info_ ? &info_ : nullptr); }
  PngWriteHandle(const PngWriteHandle&) = delete;
  PngWriteHandle& operator=(const PngWriteHandle&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

// Returns false when libpng raised an error (text in state.message).
bool run_libpng(PngWriteState& state, const PngWriteHandle& handle, int64_t c, int64_t h, int64_t w,
                std::vector<png_bytep>& rows) {
  png_structp png = handle.png();
  png_infop info = handle.info();
  if (setjmp(state.jump)) return false;
  png_set_write_fn(png, &state, write_to_memory, flush_nothing);
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), 8,
               c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_png(int64_t c, int64_t h, int64_t w, const uint8_t* pixels) {
  KITE_CHECK(c == 1 || c == 3,
             "encode_png: " << c << " channels; PNG writing supports 1 (gray) or 3 (RGB)");
  KITE_CHECK(h > 0 && w > 0 && h <= 0x7fffffff && w <= 0x7fffffff,
             "encode_png: image size " << h << "x" << w << " is not a valid PNG size");
  KITE_CHECK(pixels != nullptr, "encode_png: null pixel pointer");

  // Planar to the interleaved rows libpng wants.
  std::vector<uint8_t> interleaved(c * h * w);
  const int64_t plane = h * w;
  for (int64_t p = 0; p < plane; ++p) {
    for (int64_t ch = 0; ch < c; ++ch) interleaved[p * c + ch] = pixels[ch * plane + p];
  }
  std::vector<png_bytep> rows(h);
  for (int64_t y = 0; y < h; ++y) rows[y] = interleaved.data() + y * w * c;

  std::vector<uint8_t> out;
  PngWriteState state;
  state.out = &out;
  PngWriteHandle handle(&state);
  KITE_CHECK(handle.png() && handle.info(), "encode_png: cannot create libpng encoder");
  if (!run_libpng(state, handle, c, h, w, rows)) {
    KITE_FAIL("encode_png: libpng failed on a " << c << "x" << h << "x" << w
                                                << " image: " << state.message);
  }
  return out;
}

void write_png(const std::string& path, int64_t c, int64_t h, int64_t w, const uint8_t* pixels) {
  std::vector<uint8_t> bytes;
  try {
    bytes = encode_png(c, h, w, pixels);
  } catch (const Error& error) {
    KITE_FAIL(path << ": " << error.what());
  }
  write_file_bytes(path, bytes);
}

}  // namespace kite::data
