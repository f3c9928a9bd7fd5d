// A folder of PNG/JPEG files read as one ImageSet (no labels).
#include "data/image_folder.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <iostream>
#include <vector>

#include "data/image_file.h"
#include "data/resize.h"
#include "engine/error.h"

namespace kite::data {

namespace {

namespace fs = std::filesystem;

// Only the first few skipped entries are named, so a stray folder cannot flood the log.
constexpr int kMaxWarnings = 10;
// Images decoded in parallel per round; bounds the memory held besides the result.
constexpr int64_t kChunk = 256;

// Sorted image paths of `dir`; warns about everything else.
std::vector<std::string> list_image_files(const std::string& dir) {
  std::error_code ec;
  KITE_CHECK(fs::exists(dir, ec), dir << ": no such folder");
  KITE_CHECK(fs::is_directory(dir, ec), dir << ": is a file, expected a folder of images");
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(it->path());
  }
  KITE_CHECK(!ec, dir << ": cannot list folder: " << ec.message());
  KITE_CHECK(!entries.empty(), dir << ": folder is empty, expected PNG or JPEG images");
  std::sort(entries.begin(), entries.end());  // byte-wise, independent of the locale

  std::vector<std::string> images;
  int skipped = 0;
  for (const auto& path : entries) {
    const bool is_file = fs::is_regular_file(path, ec);
    if (is_file && is_image_file_name(path.filename().string())) {
      images.push_back(path.string());
      continue;
    }
    if (skipped++ < kMaxWarnings) {
      std::cerr << "kite: warning: load_image_folder: skipping " << path.string()
                << (is_file ? " (not a .png/.jpg/.jpeg file)\n" : " (not a regular file)\n");
    }
  }
  if (skipped > kMaxWarnings) {
    std::cerr << "kite: warning: load_image_folder: skipped " << skipped - kMaxWarnings
              << " more entries of " << dir << "\n";
  }
  KITE_CHECK(!images.empty(), dir << ": no PNG or JPEG images among its " << entries.size()
                                  << " entries (all skipped)");
  return images;
}

Image load_one(const std::string& path, const ImageFolderOptions& options) {
  Image image = read_image(path);
  if (options.crop > 0) image = center_crop(image, options.crop, options.crop, path);
  if (options.resize > 0) image = resize_image(image, options.resize, options.resize);
  if (options.gray_to_rgb) image = gray_to_rgb(image);
  return image;
}

}  // namespace

ImageSet load_image_folder(const std::string& dir, const ImageFolderOptions& options) {
  KITE_CHECK(options.crop >= 0 && options.resize >= 0, dir << ": crop " << options.crop
                                                           << " and resize " << options.resize
                                                           << " must not be negative");
  KITE_CHECK(options.test_fraction >= 0.0 && options.test_fraction < 1.0,
             dir << ": test_fraction " << options.test_fraction << " must lie in [0, 1)");
  const std::vector<std::string> files = list_image_files(dir);

  const int64_t total = static_cast<int64_t>(files.size());
  const int64_t test_count = std::llround(total * options.test_fraction);
  const int64_t first = options.split == Split::Train ? 0 : total - test_count;
  const int64_t count = options.split == Split::Train ? total - test_count : test_count;
  KITE_CHECK(count > 0, dir << ": the " << split_name(options.split) << " split is empty (" << total
                            << " images, test_fraction " << options.test_fraction << ")");

  ImageSet set;
  set.n = count;
  std::string reference_file;
  std::vector<Image> decoded(kChunk);
  std::vector<std::exception_ptr> failures(kChunk);
  for (int64_t start = 0; start < count; start += kChunk) {
    const int64_t chunk = std::min(kChunk, count - start);
    // Exceptions must not leave an OpenMP region: each is kept, and the first rethrown.
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < chunk; ++i) {
      try {
        decoded[i] = load_one(files[first + start + i], options);
      } catch (...) {
        failures[i] = std::current_exception();
      }
    }
    for (int64_t i = 0; i < chunk; ++i) {
      if (failures[i]) std::rethrow_exception(failures[i]);
    }

    for (int64_t i = 0; i < chunk; ++i) {
      const Image& image = decoded[i];
      const std::string& file = files[first + start + i];
      if (reference_file.empty()) {
        reference_file = file;
        set.c = image.c;
        set.h = image.h;
        set.w = image.w;
        set.pixels.reserve(count * image.pixels.size());
      }
      KITE_CHECK(image.c == set.c, dir << ": mixed channel counts: " << reference_file << " has "
                                       << set.c << " channels but " << file << " has " << image.c
                                       << " (set gray_to_rgb to convert gray images)");
      KITE_CHECK(image.h == set.h && image.w == set.w,
                 dir << ": mixed image sizes: " << reference_file << " is " << set.h << "x" << set.w
                     << " but " << file << " is " << image.h << "x" << image.w
                     << " (set crop and/or resize)");
      set.pixels.insert(set.pixels.end(), image.pixels.begin(), image.pixels.end());
    }
  }
  return set;
}

}  // namespace kite::data
