#include "utf8.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// The number of bytes of the UTF-8 sequence starting at p[0], or 0 if those bytes are not valid UTF-8
// (RFC 3629, table 3-7 of the Unicode standard):
//
//   first byte   then                               code points
//   00..7F       -                                  U+0000..U+007F
//   C2..DF       80..BF                             U+0080..U+07FF      (C0, C1 would be overlong)
//   E0           A0..BF  80..BF                     U+0800..U+0FFF      (E0 80..9F would be overlong)
//   E1..EC       80..BF  80..BF                     U+1000..U+CFFF
//   ED           80..9F  80..BF                     U+D000..U+D7FF      (ED A0..BF are surrogates)
//   EE..EF       80..BF  80..BF                     U+E000..U+FFFF
//   F0           90..BF  80..BF  80..BF             U+10000..U+3FFFF    (F0 80..8F would be overlong)
//   F1..F3       80..BF  80..BF  80..BF             U+40000..U+FFFFF
//   F4           80..8F  80..BF  80..BF             U+100000..U+10FFFF  (beyond is not Unicode)
// `available` is how many bytes there are from p[0] on: a sequence cut short is invalid too.
size_t utf8_sequence_length(const unsigned char* p, size_t available) {
    const unsigned char b0 = p[0];
    size_t length;
    unsigned char second_low = 0x80, second_high = 0xBF;  // the range allowed for the second byte
    if (b0 <= 0x7F) return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        if (b0 == 0xE0) second_low = 0xA0;
        if (b0 == 0xED) second_high = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        if (b0 == 0xF0) second_low = 0x90;
        if (b0 == 0xF4) second_high = 0x8F;
    } else {
        return 0;  // 80..BF (a continuation byte with no lead), C0, C1, F5..FF
    }
    if (available < length) return 0;
    if (p[1] < second_low || p[1] > second_high) return 0;
    for (size_t i = 2; i < length; ++i)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return length;
}

bool is_valid_utf8(std::string_view text, size_t* bad_offset) {
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(text.data());
    size_t i = 0;
    while (i < text.size()) {
        const size_t length = utf8_sequence_length(bytes + i, text.size() - i);
        if (length == 0) {
            if (bad_offset) *bad_offset = i;
            return false;
        }
        i += length;
    }
    return true;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
