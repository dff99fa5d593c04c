#include "datasets/image_file.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/io/atomic_file.h"
#include "core/check.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// A cursor over the header: skips whitespace and comments, reads decimal fields.
struct HeaderReader {
    std::string_view bytes;
    const std::string& source;
    size_t pos = 0;

    void skip_space_and_comments() {
        while (pos < bytes.size()) {
            if (is_space(bytes[pos])) {
                ++pos;
            } else if (bytes[pos] == '#') {
                while (pos < bytes.size() && bytes[pos] != '\n' && bytes[pos] != '\r') ++pos;
            } else {
                break;
            }
        }
    }

    // A decimal field in [1, max]; `what` names it ("width", "height", "maxval").
    int64_t field(const char* what, int64_t max) {
        const size_t before = pos;
        skip_space_and_comments();
        check_io(pos < bytes.size(), source, ": the header ends before the ", what, " (", bytes.size(),
                 " bytes in all)");
        check_io(pos > before, source, ": byte ", pos, ": expected whitespace before the ", what);
        const size_t start = pos;
        int64_t value = 0;
        while (pos < bytes.size() && bytes[pos] >= '0' && bytes[pos] <= '9') {
            value = value * 10 + (bytes[pos] - '0');
            check_io(value <= max, source, ": the ", what, " ", bytes.substr(start, pos - start + 1),
                     "... is larger than ", max);
            ++pos;
        }
        check_io(pos > start, source, ": byte ", start, ": expected the ", what, " as a decimal number, found ",
                 printable(start));
        check_io(value >= 1, source, ": the ", what, " is 0, expected 1 or more");
        return value;
    }

    std::string printable(size_t at) const {
        if (at >= bytes.size()) return "the end of the file";
        const auto c = static_cast<unsigned char>(bytes[at]);
        if (c >= 32 && c < 127) return std::string("'") + static_cast<char>(c) + "'";
        char text[16];
        std::snprintf(text, sizeof text, "byte 0x%02x", c);
        return text;
    }
};

}  // namespace

Image decode_pnm(std::string_view bytes, const std::string& source) {
    check_io(bytes.size() >= 2, source, ": ", bytes.size(), " bytes, too short for a PGM/PPM header");
    check_io(bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '6'), source, ": magic '",
             std::string(1, std::isprint(static_cast<unsigned char>(bytes[0])) ? bytes[0] : '?'),
             std::string(1, std::isprint(static_cast<unsigned char>(bytes[1])) ? bytes[1] : '?'),
             "', expected 'P5' (binary PGM) or 'P6' (binary PPM)",
             bytes[1] == '2' || bytes[1] == '3' ? " (this is the text variant; convert it to binary)" : "");
    HeaderReader header{bytes, source, 2};
    Image image;
    image.channels = bytes[1] == '6' ? 3 : 1;
    image.width = header.field("width", kMaxImageSide);
    image.height = header.field("height", kMaxImageSide);
    const int64_t maxval = header.field("maxval", 65535);
    check_io(header.pos < bytes.size() && is_space(bytes[header.pos]), source, ": byte ", header.pos,
             ": expected one whitespace byte after maxval, found ", header.printable(header.pos));
    ++header.pos;
    const int64_t samples = image.channels * image.height * image.width;
    check_io(samples <= kMaxImageSamples, source, ": ", image.width, "x", image.height, "x", image.channels,
             " = ", samples, " samples, more than the ", kMaxImageSamples, " accepted");
    const int64_t sample_bytes = maxval < 256 ? 1 : 2;
    const int64_t raster = samples * sample_bytes;
    const auto available = static_cast<int64_t>(bytes.size() - header.pos);
    check_io(available >= raster, source, ": truncated: the header (", image.width, "x", image.height, ", ",
             image.channels == 3 ? "RGB" : "grey", ", maxval ", maxval, ") needs ", raster,
             " bytes of pixels, the file has ", available);
    check_io(available == raster, source, ": ", available - raster, " bytes after the ", raster,
             " bytes of pixels (several images in one file are not supported)");

    // Planar (C, H, W) from the file's interleaved (H, W, C): the file's sample i is channel c of pixel
    // (y, x), i = (y * W + x) * C + c. Loops rather than divisions of i: a 48 MB image is 48 million samples.
    const int64_t C = image.channels, H = image.height, W = image.width;
    image.pixels.resize(static_cast<size_t>(samples));
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data() + header.pos);
    int64_t i = 0;
    for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
            for (int64_t c = 0; c < C; ++c, ++i) {
                const int64_t value = sample_bytes == 1 ? data[i] : data[2 * i] * 256 + data[2 * i + 1];
                check_io(value <= maxval, source, ": sample ", i, " (row ", y, ", column ", x, ") is ", value,
                         ", above maxval ", maxval);
                const int64_t scaled = maxval == 255 ? value : (value * 255 + maxval / 2) / maxval;
                image.pixels[(c * H + y) * W + x] = static_cast<uint8_t>(scaled);
            }
    return image;
}

Image read_pnm(const std::string& path) { return decode_pnm(read_file(path, kMaxImageFileBytes), path); }

std::string encode_pnm(const Image& image) {
    const int64_t C = image.channels, H = image.height, W = image.width;
    check((C == 1 || C == 3) && H >= 1 && W >= 1 && static_cast<int64_t>(image.pixels.size()) == C * H * W,
          "encode_pnm: image of shape ", Shape{C, H, W}, " with ", image.pixels.size(),
          " bytes, expected 1 or 3 channels and C*H*W bytes");
    std::string out = (C == 3 ? "P6\n" : "P5\n") + std::to_string(W) + " " + std::to_string(H) + "\n255\n";
    for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
            for (int64_t c = 0; c < C; ++c) out += static_cast<char>(image.pixels[(c * H + y) * W + x]);
    return out;
}

void write_pnm(const std::string& path, const Image& image) { write_file_atomically(path, encode_pnm(image)); }

Image convert_channels(const Image& image, int64_t channels) {
    check(channels == 1 || channels == 3, "convert_channels: channels ", channels, ", expected 1 or 3");
    check(image.channels == 1 || image.channels == 3, "convert_channels: the image has ", image.channels,
          " channels, expected 1 or 3");
    if (image.channels == channels) return image;
    const int64_t plane = image.height * image.width;
    Image out{channels, image.height, image.width, std::vector<uint8_t>(static_cast<size_t>(channels * plane))};
    if (channels == 3) {  // grey -> RGB: the same value in each channel
        for (int64_t c = 0; c < 3; ++c) std::copy(image.pixels.begin(), image.pixels.end(), out.pixels.begin() + c * plane);
    } else {  // RGB -> grey: BT.601 luma
        const uint8_t* p = image.pixels.data();
        for (int64_t i = 0; i < plane; ++i) {
            const double luma = 0.299 * p[i] + 0.587 * p[plane + i] + 0.114 * p[2 * plane + i];
            out.pixels[i] = static_cast<uint8_t>(std::min(255.0, std::round(luma)));
        }
    }
    return out;
}

// The mean of each f_y x f_x block; rows and columns left over at the bottom and right are dropped.
static Image box_shrink(const Image& image, int64_t fy, int64_t fx) {
    const int64_t C = image.channels, H = image.height / fy, W = image.width / fx;
    Image out{C, H, W, std::vector<uint8_t>(static_cast<size_t>(C * H * W))};
    for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                int64_t sum = 0;
                for (int64_t dy = 0; dy < fy; ++dy)
                    for (int64_t dx = 0; dx < fx; ++dx)
                        sum += image.pixels[(c * image.height + y * fy + dy) * image.width + x * fx + dx];
                out.pixels[(c * H + y) * W + x] = static_cast<uint8_t>((sum + fy * fx / 2) / (fy * fx));
            }
    return out;
}

Image resize_bilinear(const Image& image, int64_t height, int64_t width) {
    check(height >= 1 && width >= 1, "resize_bilinear: target ", height, "x", width, ", expected positive sizes");
    check(image.channels >= 1 && image.height >= 1 && image.width >= 1 &&
              static_cast<int64_t>(image.pixels.size()) == image.channels * image.height * image.width,
          "resize_bilinear: image of shape ", Shape{image.channels, image.height, image.width}, " with ",
          image.pixels.size(), " bytes");
    const int64_t fy = image.height / height, fx = image.width / width;
    if (fy >= 2 || fx >= 2) return resize_bilinear(box_shrink(image, std::max<int64_t>(1, fy), std::max<int64_t>(1, fx)),
                                                    height, width);
    const int64_t C = image.channels, H = image.height, W = image.width;
    if (H == height && W == width) return image;
    Image out{C, height, width, std::vector<uint8_t>(static_cast<size_t>(C * height * width))};
    // Where output coordinate o samples the input: (o + 0.5) * in / out - 0.5, clamped to [0, in - 1];
    // then the two neighbours i0 <= s <= i1 and the weight of i1.
    const auto source = [](int64_t o, int64_t in, int64_t out_size, int64_t& i0, int64_t& i1, double& w1) {
        double s = (static_cast<double>(o) + 0.5) * static_cast<double>(in) / static_cast<double>(out_size) - 0.5;
        s = std::clamp(s, 0.0, static_cast<double>(in - 1));
        i0 = static_cast<int64_t>(std::floor(s));
        i1 = std::min(i0 + 1, in - 1);
        w1 = s - static_cast<double>(i0);
    };
    for (int64_t y = 0; y < height; ++y) {
        int64_t y0, y1;
        double wy;
        source(y, H, height, y0, y1, wy);
        for (int64_t x = 0; x < width; ++x) {
            int64_t x0, x1;
            double wx;
            source(x, W, width, x0, x1, wx);
            for (int64_t c = 0; c < C; ++c) {
                const uint8_t* p = image.pixels.data() + c * H * W;
                const double top = (1 - wx) * p[y0 * W + x0] + wx * p[y0 * W + x1];
                const double bottom = (1 - wx) * p[y1 * W + x0] + wx * p[y1 * W + x1];
                const double value = (1 - wy) * top + wy * bottom;
                out.pixels[(c * height + y) * width + x] = static_cast<uint8_t>(std::clamp(std::round(value), 0.0, 255.0));
            }
        }
    }
    return out;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
