// Preprocessing for FID-Inception: any image batch to the network's 3 x 299 x 299 input.
//
// Exactly (this is part of what an FID number means; statistics files record it):
//  1. uint8 pixels become float32 x = u / 255; float32/float64 images must already be in
//     [0, 1] (checked; float64 is rounded to float32);
//  2. one channel (gray) is replicated to three (RGB);
//  3. resized to 299 x 299 by bilinear interpolation on those float32 values with half-pixel
//     centres (PyTorch's F.interpolate(mode="bilinear", align_corners=False), no antialias,
//     no rounding back to uint8); images already 299 x 299 are not resampled;
//  4. mapped to TensorFlow's input range: x * (255 / 128) - 1, which equals (u - 128) / 128
//     for uint8 u, in [-1, 0.9921875].
// This is pytorch-fid's resize (its `resize_input`) followed by the TF graph's own scaling
// instead of pytorch-fid's 2x - 1. fid-helper-pytorch calls this resize mode
// "torch_bilinear_float"; its default, "nv_bilinear_float", samples at other positions.
// For downscaling (inputs larger than 299) the lack of antialiasing matters; this project's
// images are at most 256 x 256, so every resize here is an upscale.
#pragma once

#include "engine/tensor.h"

namespace kite::inception {

// One line for statistics files and --help.
inline constexpr const char* kPreprocessing =
    "uint8/255 -> float32; gray->RGB; bilinear resize to 299x299 (align_corners=false, "
    "no antialias, on float); x*255/128-1";

// images [N, 1 or 3, H, W] (uint8, or float in [0, 1]) on any device -> float32
// [N, 3, 299, 299] on the same device. Throws kite::Error for other shapes or channel
// counts and for float values outside [0, 1] (clamp generated images first).
Tensor preprocess(const Tensor& images);

}  // namespace kite::inception
