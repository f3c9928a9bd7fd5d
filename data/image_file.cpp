// One image file, PNG or JPEG, chosen by its content rather than its name.
#include "data/image_file.h"

#include "data/file_bytes.h"
#include "data/jpeg_reader.h"
#include "data/png_reader.h"
#include "engine/error.h"

namespace kite::data {

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  KITE_CHECK(size > 0, name << ": empty file (0 bytes), expected a PNG or JPEG image");
  if (looks_like_png(data, size)) return decode_png(data, size, name);
  if (looks_like_jpeg(data, size)) return decode_jpeg(data, size, name);
  KITE_FAIL(name << ": not a PNG or JPEG image (unrecognised signature)");
}

Image read_image(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path);
}

bool is_image_file_name(const std::string& name) {
  return has_suffix(name, ".png") || has_suffix(name, ".jpg") || has_suffix(name, ".jpeg");
}

}  // namespace kite::data
