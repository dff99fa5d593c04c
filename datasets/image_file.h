#pragma once
// Binary PGM (P5, grey) and PPM (P6, colour) images: the simplest image files there are, for
// `patchgrad predict` (examples/cli/predict.cpp). Any other format converts to them with standard tools
// (`convert photo.jpg photo.ppm` with ImageMagick, `pngtopnm`, or PIL's `Image.save("x.ppm")`).
//
// The format (netpbm's pgm(5) and ppm(5)):
//   "P5" or "P6"             the magic number
//   whitespace               blanks, tabs, CR, LF; a '#' starts a comment running to the end of the line
//   width  whitespace  height  whitespace  maxval        ASCII decimal; 0 < maxval < 65536
//   one whitespace byte      then the raster:
//   height rows of width pixels, each 1 (P5) or 3 (P6, R G B) samples; a sample is 1 byte when
//   maxval < 256, else 2 bytes, most significant first; every sample <= maxval
//
// decode_pnm trusts nothing: every malformed header (wrong magic, a missing or non-numeric field, zero or
// oversized sizes, maxval out of range, no whitespace after maxval), a raster shorter or longer than the
// header says, and a sample above maxval are refused with a std::runtime_error naming the source, the
// field and the values, before anything sized by the header is allocated.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// The largest image file read_pnm reads (read_file refuses larger ones, and FIFOs and devices): a
// 16-megapixel colour photo, 4608 x 3456 x 3 = 47.8 MB. predict shrinks any image to the model's side
// (32 or 28), so a larger file would cost memory (its bytes, then its pixels) and add nothing.
constexpr uint64_t kMaxImageFileBytes = 48 << 20;

// The largest image accepted: a side of 65535 pixels at most and 2^28 samples (256 MB) in all.
constexpr int64_t kMaxImageSide = 65535;
constexpr int64_t kMaxImageSamples = int64_t{1} << 28;

// An image as bytes, planar like a dataset's images: pixels (C, H, W) row-major, C = 1 (grey) or 3 (RGB).
struct Image {
    int64_t channels = 0;  // C
    int64_t height = 0;    // H
    int64_t width = 0;     // W
    std::vector<uint8_t> pixels;  // (C, H, W): pixel (c, y, x) at (c * H + y) * W + x
};

// Samples of maxval > 255 are scaled to 0..255 (round(v * 255 / maxval)), as are those of maxval < 255.
Image decode_pnm(std::string_view bytes, const std::string& source = "image");
Image read_pnm(const std::string& path);

// P5 for one channel, P6 for three; maxval 255.
std::string encode_pnm(const Image& image);
void write_pnm(const std::string& path, const Image& image);  // atomically (core/io/atomic_file.h)

// To `channels` (1 or 3): RGB -> grey by the ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B (PIL's "L"
// conversion); grey -> RGB by repeating the grey value in each channel.
Image convert_channels(const Image& image, int64_t channels);

// To height x width. Bilinear with pixel centres at half-integers (PyTorch's interpolate with
// align_corners=False, OpenCV's INTER_LINEAR): output pixel x samples the input at
// (x + 0.5) * in_width / width - 0.5, clamped to the edge. When shrinking by a factor of 2 or more, the
// image is first averaged over f x f blocks (f = the whole part of the factor), so a large photo is not
// reduced to a few aliased samples.
Image resize_bilinear(const Image& image, int64_t height, int64_t width);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
