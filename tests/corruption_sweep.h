#pragma once
// Corruption sweeps (docs/reliability.md): a small valid file, and thousands of corrupted variants of it
// made deterministically from a seeded Rng, each fed to a reader. Every variant must either read (a
// flipped pixel is still a valid file; the caller then checks the result agrees with the file) or throw
// a std::exception with a non-empty message. A std::bad_alloc is a failure: it means the reader
// believed a corrupt size and allocated before checking it. Crashes and out-of-bounds reads are what
// the sanitizer build (`make sanitize`) catches on the same variants.
//
// The corruptions, each a family of variants:
//   truncation      the file cut at every length (at most `max_truncations` of them: every length up to
//                   half that, then random lengths), and random garbage appended
//   bit flips       one random bit, or 2..16 random bits at once
//   byte values     a random byte set to 0x00, 0xFF, 0x80, a digit, a quote, a newline, a bracket
//   fields          each header field (binary, at an offset; or text, a run of digits) set to 0, 1, -1,
//                   2^31-1, 2^31, 2^32-1, 2^32, 2^63-1, 2^63, 2^64-1 and its own value +-1
// Used by tests/test_corruption_sweep.cpp (float64) and tests/f32/test_corruption_sweep_cli.cpp.
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include "core/random.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// Under AddressSanitizer every read costs a few times more; the sweeps then run a fraction of their
// variants (still over a thousand per reader). __SANITIZE_ADDRESS__ is set by g++ -fsanitize=address.
#ifdef __SANITIZE_ADDRESS__
constexpr int64_t kSweepScale = 4;
#else
constexpr int64_t kSweepScale = 1;
#endif

// A binary header field: `width` bytes at `offset`, big- or little-endian.
struct BinaryField {
    size_t offset;
    int width;
    bool big_endian;
};

struct SweepCounts {
    int64_t variants = 0;  // fed to the reader
    int64_t accepted = 0;  // read without an error (and checked by the caller)
    int64_t refused = 0;   // threw a std::exception with a message
};

// Feeds `bytes` to `read`, which returns normally or throws; counts the outcome. `family` names the
// kind of corruption in a failure's message.
inline void feed(const std::string& bytes, const std::function<void(const std::string&)>& read, SweepCounts& counts,
                 const std::string& family) {
    ++counts.variants;
    try {
        read(bytes);
        ++counts.accepted;
    } catch (const std::bad_alloc&) {
        FAIL_CHECK("std::bad_alloc escaped the reader (", family, ", ", bytes.size(), " bytes): it allocated from a "
                   "corrupt size before checking it");
    } catch (const std::exception& error) {
        ++counts.refused;
        CHECK_MESSAGE(std::string(error.what()).size() > 0, "an empty error message (", family, ")");
    }
}

// The values every header field is set to: the usual suspects of a corrupt or hostile size.
inline std::vector<uint64_t> suspicious_values(uint64_t current) {
    return {0,           1,           ~uint64_t{0},           (uint64_t{1} << 31) - 1, uint64_t{1} << 31,
            0xFFFFFFFFu, uint64_t{1} << 32, (uint64_t{1} << 63) - 1, uint64_t{1} << 63,
            current + 1, current - 1};
}

// The same as text: also numbers no integer type holds, fractions, signs and nothing at all.
inline std::vector<std::string> suspicious_texts(const std::string& current) {
    std::vector<std::string> texts = {"0", "1", "-1", "-0", "2147483647", "2147483648", "4294967295", "4294967296",
                                      "9223372036854775807", "9223372036854775808", "18446744073709551615",
                                      "18446744073709551616", "340282366920938463463374607431768211456", "1e308",
                                      "1e999", "0.5", "", "+1", "0x10"};
    texts.push_back(current + "0");
    texts.push_back(current + current);
    return texts;
}

inline void write_binary_field(std::string& bytes, const BinaryField& field, uint64_t value) {
    for (int i = 0; i < field.width; ++i) {
        const int shift = 8 * (field.big_endian ? field.width - 1 - i : i);
        bytes[field.offset + i] = static_cast<char>((value >> shift) & 0xFF);
    }
}

inline uint64_t read_binary_field(const std::string& bytes, const BinaryField& field) {
    uint64_t value = 0;
    for (int i = 0; i < field.width; ++i) {
        const int shift = 8 * (field.big_endian ? field.width - 1 - i : i);
        value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[field.offset + i])) << shift;
    }
    return value;
}

// Every run of decimal digits in bytes[begin, end): the text fields of a header (sizes, offsets).
inline std::vector<std::pair<size_t, size_t>> digit_runs(const std::string& bytes, size_t begin, size_t end) {
    std::vector<std::pair<size_t, size_t>> runs;  // (offset, length)
    for (size_t i = begin; i < end;) {
        if (bytes[i] < '0' || bytes[i] > '9') {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < end && bytes[j] >= '0' && bytes[j] <= '9') ++j;
        runs.emplace_back(i, j - i);
        i = j;
    }
    return runs;
}

// The generic families (truncation, appended garbage, bit flips, byte values, binary fields), about
// (max_truncations + 3 * flips + 400 + 11 * fields) variants, each handed to `visit` with its family.
inline void for_each_variant(const std::string& valid, const std::vector<BinaryField>& fields, Rng& rng,
                             int64_t max_truncations, int64_t flips,
                             const std::function<void(const std::string&, const char*)>& visit) {
    const auto n = static_cast<int64_t>(valid.size());
    if (n <= max_truncations) {
        for (int64_t length = 0; length < n; ++length) visit(valid.substr(0, length), "truncation");
    } else {
        for (int64_t length = 0; length < max_truncations / 2; ++length) visit(valid.substr(0, length), "truncation");
        for (int64_t i = 0; i < max_truncations / 2; ++i)
            visit(valid.substr(0, max_truncations / 2 + rng.randint(n - max_truncations / 2)), "truncation");
    }
    for (int i = 0; i < 100; ++i) {
        std::string longer = valid;
        const int64_t extra = 1 + rng.randint(64);
        for (int64_t k = 0; k < extra; ++k) longer += static_cast<char>(rng.randint(256));
        visit(longer, "appended bytes");
    }
    for (int64_t i = 0; i < flips; ++i) {
        std::string flipped = valid;
        flipped[rng.randint(n)] ^= static_cast<char>(1 << rng.randint(8));
        visit(flipped, "one bit flip");
    }
    for (int64_t i = 0; i < 2 * flips; ++i) {
        std::string flipped = valid;
        const int64_t count = 2 + rng.randint(15);
        for (int64_t k = 0; k < count; ++k) flipped[rng.randint(n)] ^= static_cast<char>(1 << rng.randint(8));
        visit(flipped, "several bit flips");
    }
    const std::string specials = std::string("\x00\xff\x80\x7f", 4) + "09\"\n[]{}:,\\-. #e";
    for (int i = 0; i < 300; ++i) {
        std::string changed = valid;
        changed[rng.randint(n)] = specials[rng.randint(static_cast<int64_t>(specials.size()))];
        visit(changed, "byte value");
    }
    for (const BinaryField& field : fields)
        for (const uint64_t value : suspicious_values(read_binary_field(valid, field))) {
            std::string changed = valid;
            write_binary_field(changed, field, value);
            visit(changed, "header field");
        }
}

// Each text field bytes[offset, offset + length) replaced by each suspicious text; `rebuild` may repair
// what the change breaks on purpose (safetensors' header length), so that the field itself is tested.
inline void for_each_text_field_variant(const std::string& valid, const std::vector<std::pair<size_t, size_t>>& runs,
                                        const std::function<std::string(const std::string&)>& rebuild,
                                        const std::function<void(const std::string&, const char*)>& visit) {
    for (const auto& [offset, length] : runs)
        for (const std::string& text : suspicious_texts(valid.substr(offset, length))) {
            std::string changed = valid;
            changed.replace(offset, length, text);
            visit(rebuild(changed), "text field");
        }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
