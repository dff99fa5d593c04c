#pragma once
// safetensors: the checkpoint format of patchgrad (and of Hugging Face), byte by byte in
// docs/checkpoint_format.md.
//
//   [8 bytes]  N, the header's length, unsigned little-endian
//   [N bytes]  a JSON object, padded with spaces so that 8 + N is a multiple of 8:
//              {"__metadata__": {"key": "string value", ...},
//               "blocks.0.attn.qkv.weight": {"dtype": "F32", "shape": [192, 64], "data_offsets": [0, 49152]},
//               ...}
//   [rest]     the data section: every tensor's elements, row-major, little-endian; data_offsets
//              [begin, end) count bytes from the start of this section
//
//     save_safetensors("run/model.safetensors", model.named_parameters(), {{"epoch", "3"}});
//     SafetensorsFile file = load_safetensors("run/model.safetensors");
//     Tensor w = file.tensor("head.weight");
//
// Writing stores dtype F32 in the float32 build and F64 in the float64 build, the tensors in the order
// given, a CRC-32 of the data section in the metadata ("patchgrad.checksum": "crc32:1a2b3c4d"), and goes
// through write_file_atomically (core/io/atomic_file.h): a crash never leaves half a checkpoint.
//
// Reading accepts F32 and F64 in either build (converting to Scalar), and trusts nothing in the file: it
// checks the header length against the file size, the JSON, every dtype, shape and offset, that the
// tensors tile the data section exactly (no overlaps, no holes, nothing past the end), and the checksum
// when present, before it allocates anything sized by the header; load_safetensors reads the data section
// from the file only after the header has passed, so a large file with a broken header costs no more than
// its header. Every error names the file, the tensor or field, and the values that disagree.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;       // ("head.weight", tensor), in order
using StringPairs = std::vector<std::pair<std::string, std::string>>;  // metadata: ("epoch", "3"), in order

// The metadata key of the data section's checksum, written by save and checked by load.
constexpr const char* kChecksumKey = "patchgrad.checksum";
// The largest header a reader accepts. The reference models write about 30 KB; the largest model the
// flags allow (kMaxBlocks blocks, examples/cli/config.h), with AdamW's two moments and an EMA beside each
// parameter, 1.9 MB (a Swin of one-pixel patches, 14,000 tensors). 4 MB is twice that. Within it the JSON
// parser's value limit (kMaxJsonValues) bounds the memory a crafted header can take.
constexpr uint64_t kMaxHeaderBytes = 4 << 20;
// The largest safetensors file load_safetensors reads (a 1-billion-parameter model in float32).
constexpr uint64_t kMaxSafetensorsBytes = uint64_t(4) << 30;

// What a safetensors file holds: its tensors in the header's order, and its metadata (including the
// checksum entry, if the file has one).
struct SafetensorsFile {
    NamedTensors tensors;
    StringPairs metadata;
    const Tensor& tensor(std::string_view name) const;       // throws naming the missing tensor
    const std::string* find_metadata(std::string_view key) const;  // nullptr when absent
};

// The bytes of a safetensors file holding `tensors` and `metadata` plus the checksum entry (a checksum
// entry in `metadata` is replaced). Throws std::invalid_argument for duplicate or reserved names.
std::string encode_safetensors(const NamedTensors& tensors, const StringPairs& metadata = {});

// Parse and validate the bytes of a safetensors file; `source` (the file name) starts every error message.
SafetensorsFile decode_safetensors(std::string_view bytes, const std::string& source = "safetensors");

// encode + write_file_atomically; and a file read as decode reads bytes, the data section last.
void save_safetensors(const std::string& path, const NamedTensors& tensors, const StringPairs& metadata = {});
SafetensorsFile load_safetensors(const std::string& path);

// CRC-32 as in zip, PNG and Python's zlib.crc32 (IEEE polynomial, reflected): crc32("123456789") == 0xcbf43926.
uint32_t crc32(std::string_view bytes);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
