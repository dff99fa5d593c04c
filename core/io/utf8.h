#pragma once
// UTF-8, byte by byte (RFC 3629): the rules the JSON parser (core/io/json.h) reads strings by, and the test
// of a whole text that the JSON writer and the command line's printable() use.
#include <cstddef>
#include <string_view>

#include "core/scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// The number of bytes (1 to 4) of the UTF-8 sequence starting at p[0], or 0 if those bytes are not valid
// UTF-8; `available` is how many bytes there are from p[0] on.
size_t utf8_sequence_length(const unsigned char* p, size_t available);

// Is `text` valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF)? If not, and
// `bad_offset` is given, it receives the offset of the first byte of the offending sequence.
bool is_valid_utf8(std::string_view text, size_t* bad_offset = nullptr);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
