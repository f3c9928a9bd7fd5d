// A folder of PNG/JPEG files read as one ImageSet (no labels), e.g. CelebA's img_align_celeba.
//
// Files are taken in byte-wise sorted name order, so the same folder always gives the same
// set and the same split. Each image is center-cropped, then resized, as the options say;
// after that every image must have the same channels and size.
#pragma once

#include <cstdint>
#include <string>

#include "data/image_set.h"

namespace kite::data {

struct ImageFolderOptions {
  int64_t crop = 0;            // center crop to crop x crop first; 0 = no crop
  int64_t resize = 0;          // then resize to resize x resize; 0 = keep the size
  bool gray_to_rgb = false;    // turn gray images into RGB (else gray next to RGB is an error)
  double test_fraction = 0.0;  // the last round(n * test_fraction) sorted files are the test split
  Split split = Split::Train;  // which part to return
};

// Non-image entries (other extensions, sub-folders) are skipped with a warning on stderr.
// Throws kite::Error naming the folder or file for: a missing folder, no images, a file that
// does not decode, an image smaller than the crop, mixed channel counts or sizes, an empty split.
ImageSet load_image_folder(const std::string& dir, const ImageFolderOptions& options = {});

}  // namespace kite::data
