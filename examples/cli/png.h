#pragma once
// PNG files written (and read back) with the standard library alone: the pictures of `patchgrad attention`
// (examples/cli/attention.cpp, docs/seeing_inside.md). No zlib: the pixels go into *stored* deflate blocks,
// which PNG allows and every viewer reads. The file is larger than a compressed one (3 bytes per pixel plus
// 5 bytes per 65535), which for a few hundred thousand pixels does not matter.
//
// The format (PNG specification, ISO/IEC 15948; zlib RFC 1950; deflate RFC 1951), all integers big-endian
// unless said otherwise:
//   signature   8 bytes: 137 'P' 'N' 'G' '\r' '\n' 26 '\n'
//   chunks      each: length (4 bytes, of the data only), type (4 ASCII letters), data, CRC-32 of type + data
//     IHDR      width (4), height (4), bit depth 8, colour type (0 grey, 2 RGB), compression 0, filter 0,
//               interlace 0: 13 bytes
//     tEXt      optional, any number: keyword, a 0 byte, text (Latin-1): e.g. "Description" (a caption)
//     IDAT      a zlib stream of the filtered rows (one IDAT chunk here; readers concatenate several):
//                 CMF 0x78 (deflate, 32 KB window), FLG 0x01 (no dictionary; 0x7801 is a multiple of 31)
//                 stored blocks: 1 byte BFINAL | (BTYPE 00 << 1), LEN (2 bytes, little-endian),
//                                NLEN = ~LEN (2 bytes, little-endian), LEN raw bytes; LEN <= 65535
//                 Adler-32 of the uncompressed bytes (4 bytes): a = 1 + sum of bytes, b = sum of the a's,
//                 both mod 65521, stored as b << 16 | a
//               the uncompressed bytes: for each row, a filter-type byte (0: none) then width * channels
//               samples, left to right; pixels interleaved (R G B R G B ...)
//     IEND      no data
// The CRC-32 is the one of zip and safetensors (core/io/safetensors.h's crc32, polynomial 0xEDB88320).
//
// read_png reads what write_png writes (8-bit grey or RGB, stored blocks, filter 0) and trusts nothing: the
// signature, every chunk's length and CRC, the IHDR fields, the zlib header, each block's LEN/NLEN, the
// Adler-32 and the number of bytes are checked, each error (std::runtime_error) naming the source and the
// values. A PNG written by other tools (compressed blocks, other filters) is refused by name: it is there
// for the tests, not as a general decoder.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patchgrad::cli {

// An 8-bit image, pixels interleaved as PNG stores them: (H, W, C) row-major, C = 1 (grey) or 3 (RGB).
struct PngImage {
    int64_t width = 0;
    int64_t height = 0;
    int64_t channels = 3;
    std::vector<uint8_t> pixels;  // (H, W, C): sample c of pixel (y, x) at (y * W + x) * C + c
    std::vector<std::pair<std::string, std::string>> text;  // tEXt chunks: ("Description", "...")
};

// Adler-32 of `bytes` (RFC 1950): adler32("Wikipedia") == 0x11E60398.
uint32_t adler32(std::string_view bytes);

// A zlib stream (RFC 1950) of stored deflate blocks holding `bytes`; and its inverse, which accepts
// stored blocks only.
std::string zlib_stored(std::string_view bytes);
std::string zlib_unstored(std::string_view stream, const std::string& source);

// The bytes of a PNG file, and write_png: those bytes, written atomically (core/io/atomic_file.h).
std::string encode_png(const PngImage& image);
void write_png(const std::string& path, const PngImage& image);

// The inverse of encode_png (see the top of this file for what is accepted and checked).
PngImage decode_png(std::string_view bytes, const std::string& source = "png");
PngImage read_png(const std::string& path);

}  // namespace patchgrad::cli
