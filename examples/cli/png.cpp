// PNG writing and reading with stored deflate blocks: the format is described at the top of png.h.
#include "examples/cli/png.h"

#include <algorithm>

#include "core/io/atomic_file.h"
#include "core/check.h"
#include "core/io/safetensors.h"
#include "datasets/image_file.h"

namespace patchgrad::cli {

namespace {

constexpr std::string_view kSignature{"\x89PNG\r\n\x1a\n", 8};
constexpr size_t kMaxStoredBlock = 65535;
constexpr int64_t kMaxSide = 1 << 16;  // the reader's bound: enough for any picture this program draws

void append_u32_be(std::string& out, uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xFF));
}

uint32_t read_u32_be(std::string_view bytes, size_t at) {
    uint32_t value = 0;
    for (size_t i = 0; i < 4; ++i) value = value << 8 | static_cast<uint8_t>(bytes[at + i]);
    return value;
}

uint16_t read_u16_le(std::string_view bytes, size_t at) {
    return static_cast<uint16_t>(static_cast<uint8_t>(bytes[at]) | static_cast<uint8_t>(bytes[at + 1]) << 8);
}

// length, type, data, CRC-32 of type + data
void append_chunk(std::string& out, const std::string& type, const std::string& data) {
    append_u32_be(out, static_cast<uint32_t>(data.size()));
    const std::string type_and_data = type + data;
    out += type_and_data;
    append_u32_be(out, crc32(type_and_data));
}

}  // namespace

uint32_t adler32(std::string_view bytes) {
    constexpr uint32_t kModulus = 65521;
    uint32_t a = 1, b = 0;
    for (char byte : bytes) {
        a = (a + static_cast<uint8_t>(byte)) % kModulus;
        b = (b + a) % kModulus;
    }
    return b << 16 | a;
}

std::string zlib_stored(std::string_view bytes) {
    std::string out = {'\x78', '\x01'};  // CMF: deflate, 32 KB window; FLG: no dictionary, (CMF*256+FLG) % 31 == 0
    size_t at = 0;
    do {  // at least one block, even for no bytes at all
        const size_t length = std::min(kMaxStoredBlock, bytes.size() - at);
        const bool final_block = at + length == bytes.size();
        out.push_back(final_block ? '\x01' : '\x00');  // BFINAL in bit 0, BTYPE 00 (stored) in bits 1-2
        const uint16_t len = static_cast<uint16_t>(length), nlen = static_cast<uint16_t>(~len);
        out.push_back(static_cast<char>(len & 0xFF));
        out.push_back(static_cast<char>(len >> 8));
        out.push_back(static_cast<char>(nlen & 0xFF));
        out.push_back(static_cast<char>(nlen >> 8));
        out.append(bytes.substr(at, length));
        at += length;
    } while (at < bytes.size());
    append_u32_be(out, adler32(bytes));
    return out;
}

std::string zlib_unstored(std::string_view stream, const std::string& source) {
    check_io(stream.size() >= 2 + 5 + 4, source, ": zlib stream of ", stream.size(), " bytes is too short");
    const uint8_t cmf = static_cast<uint8_t>(stream[0]), flg = static_cast<uint8_t>(stream[1]);
    check_io((cmf & 0x0F) == 8 && (cmf * 256 + flg) % 31 == 0 && !(flg & 0x20), source,
             ": zlib header bytes ", int{cmf}, " ", int{flg}, " are not deflate without a dictionary with a valid check");
    std::string out;
    size_t at = 2;
    bool final_block = false;
    while (!final_block) {
        check_io(at + 5 <= stream.size(), source, ": zlib stream ends inside a block header at byte ", at);
        const uint8_t header = static_cast<uint8_t>(stream[at]);
        final_block = header & 1;
        check_io((header >> 1) == 0, source, ": deflate block type ", (header >> 1) & 3,
                 " at byte ", at, "; only stored blocks (type 0) are read here");
        const uint16_t len = read_u16_le(stream, at + 1), nlen = read_u16_le(stream, at + 3);
        check_io(static_cast<uint16_t>(~len) == nlen, source, ": stored block at byte ", at, ": LEN ", len,
                 " and NLEN ", nlen, " are not complements");
        at += 5;
        check_io(at + len <= stream.size(), source, ": stored block of ", len, " bytes runs past the stream's end");
        out.append(stream.substr(at, len));
        at += len;
    }
    check_io(at + 4 == stream.size(), source, ": zlib stream has ", stream.size() - at,
             " bytes after the last block, expected the 4 of the Adler-32");
    const uint32_t stored = read_u32_be(stream, at), computed = adler32(out);
    check_io(stored == computed, source, ": Adler-32 is ", stored, ", the data's is ", computed);
    return out;
}

std::string encode_png(const PngImage& image) {
    check(image.channels == 1 || image.channels == 3, "encode_png: channels ", image.channels, ", expected 1 or 3");
    check(image.width >= 1 && image.height >= 1, "encode_png: size ", image.width, "x", image.height,
          ", expected at least 1x1");
    const int64_t row_bytes = image.width * image.channels;
    check(static_cast<int64_t>(image.pixels.size()) == image.height * row_bytes, "encode_png: ",
          image.pixels.size(), " samples for a ", image.width, "x", image.height, "x", image.channels, " image");

    std::string header;
    append_u32_be(header, static_cast<uint32_t>(image.width));
    append_u32_be(header, static_cast<uint32_t>(image.height));
    header += {'\x08', image.channels == 3 ? '\x02' : '\x00', '\x00', '\x00', '\x00'};

    std::string raw;  // every row: filter type 0, then its samples
    raw.reserve(static_cast<size_t>(image.height * (row_bytes + 1)));
    for (int64_t y = 0; y < image.height; ++y) {
        raw.push_back('\0');
        raw.append(reinterpret_cast<const char*>(image.pixels.data() + y * row_bytes), static_cast<size_t>(row_bytes));
    }

    std::string out(kSignature);
    append_chunk(out, "IHDR", header);
    for (const auto& [keyword, text] : image.text) {
        check(!keyword.empty() && keyword.size() < 80 && keyword.find('\0') == std::string::npos,
              "encode_png: tEXt keyword '", keyword, "' must have 1 to 79 characters and no 0 byte");
        append_chunk(out, "tEXt", keyword + '\0' + text);
    }
    append_chunk(out, "IDAT", zlib_stored(raw));
    append_chunk(out, "IEND", "");
    return out;
}

void write_png(const std::string& path, const PngImage& image) { write_file_atomically(path, encode_png(image)); }

PngImage decode_png(std::string_view bytes, const std::string& source) {
    check_io(bytes.substr(0, 8) == kSignature, source, ": not a PNG file (the 8-byte signature is wrong)");
    PngImage image;
    std::string idat;
    bool seen_header = false, seen_end = false;
    size_t at = 8;
    while (!seen_end) {
        check_io(at + 12 <= bytes.size(), source, ": file ends at byte ", bytes.size(), " without an IEND chunk");
        const uint32_t length = read_u32_be(bytes, at);
        const std::string type(bytes.substr(at + 4, 4));
        check_io(length <= bytes.size() - at - 12, source, ": chunk '", type, "' at byte ", at, " claims ", length,
                 " bytes, more than the file holds");
        const std::string_view data = bytes.substr(at + 8, length);
        const uint32_t stored = read_u32_be(bytes, at + 8 + length);
        const uint32_t computed = crc32(bytes.substr(at + 4, 4 + length));
        check_io(stored == computed, source, ": chunk '", type, "' at byte ", at, ": CRC ", stored,
                 ", computed ", computed);
        check_io(seen_header || type == "IHDR", source, ": the first chunk is '", type, "', expected 'IHDR'");
        if (type == "IHDR") {
            check_io(!seen_header && length == 13, source, ": IHDR must come once with 13 bytes, got ", length);
            image.width = read_u32_be(data, 0);
            image.height = read_u32_be(data, 4);
            const uint8_t depth = data[8], colour = data[9];
            check_io(image.width >= 1 && image.height >= 1 && image.width <= kMaxSide && image.height <= kMaxSide,
                     source, ": IHDR size ", image.width, "x", image.height, " is outside 1..", kMaxSide);
            check_io(depth == 8 && (colour == 0 || colour == 2), source, ": IHDR bit depth ", int{depth},
                     " colour type ", int{colour}, "; only 8-bit grey (0) and RGB (2) are read here");
            check_io(data[10] == 0 && data[11] == 0 && data[12] == 0, source,
                     ": IHDR compression, filter and interlace must be 0, got ", int{uint8_t(data[10])}, ", ",
                     int{uint8_t(data[11])}, ", ", int{uint8_t(data[12])});
            image.channels = colour == 2 ? 3 : 1;
            seen_header = true;
        } else if (type == "IDAT") {
            idat.append(data);
        } else if (type == "tEXt") {
            const size_t zero = data.find('\0');
            check_io(zero != std::string_view::npos, source, ": tEXt chunk without the 0 byte after its keyword");
            image.text.emplace_back(std::string(data.substr(0, zero)), std::string(data.substr(zero + 1)));
        } else if (type == "IEND") {
            seen_end = true;
        }  // other ancillary chunks: their CRC was checked, their content is not needed
        at += 12 + length;
    }
    check_io(at == bytes.size(), source, ": ", bytes.size() - at, " bytes after the IEND chunk");
    const std::string raw = zlib_unstored(idat, source);
    const int64_t row_bytes = image.width * image.channels;
    check_io(static_cast<int64_t>(raw.size()) == image.height * (row_bytes + 1), source, ": image data holds ",
             raw.size(), " bytes, a ", image.width, "x", image.height, "x", image.channels, " image needs ",
             image.height * (row_bytes + 1));
    image.pixels.resize(static_cast<size_t>(image.height * row_bytes));
    for (int64_t y = 0; y < image.height; ++y) {
        const char filter = raw[static_cast<size_t>(y * (row_bytes + 1))];
        check_io(filter == 0, source, ": row ", y, " uses filter type ", int{uint8_t(filter)},
                 "; only type 0 (none) is read here");
        std::copy_n(raw.data() + y * (row_bytes + 1) + 1, row_bytes, image.pixels.data() + y * row_bytes);
    }
    return image;
}

PngImage read_png(const std::string& path) { return decode_png(read_file(path, kMaxImageFileBytes), path); }

}  // namespace patchgrad::cli
