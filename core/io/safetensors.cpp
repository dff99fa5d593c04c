#include "safetensors.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <limits>
#include <ostream>
#include <unordered_set>

#include "atomic_file.h"
#include "json.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// The dtype this build writes: its Scalar.
constexpr const char* kWriteDtype = sizeof(Scalar) == 4 ? "F32" : "F64";

// Every dtype of the safetensors format and its size in bytes. patchgrad reads the two float ones;
// knowing the others lets the error say "not supported" rather than "not a dtype".
struct DtypeInfo {
    const char* name;
    int64_t size;
};
constexpr std::array<DtypeInfo, 15> kDtypes = {{{"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1},
                                                {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2}, {"I32", 4},
                                                {"U32", 4}, {"F32", 4}, {"I64", 8}, {"U64", 8}, {"F64", 8}}};

// ---- little-endian bytes, whatever the machine's own order ---------------------------------------------

void append_le(std::string& out, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

uint64_t read_le(const char* p, int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return value;
}

std::string format_checksum(uint32_t crc) {
    char text[16];
    std::snprintf(text, sizeof(text), "crc32:%08x", crc);
    return text;
}

// One tensor's entry in the header, once validated.
struct Entry {
    std::string name;
    std::string dtype;
    int64_t dtype_size;
    Shape shape;
    int64_t begin, end;  // byte offsets into the data section, begin <= end <= data size
};

// A tensor's data_offsets as a part of a check's message, printed "[0, 48]" only if the check fails.
struct Offsets {
    int64_t begin, end;
};
std::ostream& operator<<(std::ostream& os, const Offsets& o) { return os << "[" << o.begin << ", " << o.end << "]"; }

// A header number that must be a whole number >= 0: element `index` of the tensor's `field` ("shape",
// "data_offsets"). `where` names the tensor. Called once per dimension: it builds no text unless it fails.
int64_t read_count(const Json& value, const std::string& where, const char* field, size_t index) {
    const bool ok = value.is_number() && value.as_number() >= 0 && value.as_number() <= 9007199254740992.0 &&
                    value.as_number() == static_cast<double>(static_cast<int64_t>(value.as_number()));
    check_io(ok, where, ": ", field, "[", index, "] is ", value, ", expected a whole number >= 0");
    return value.as_int();
}

// Validate one tensor entry of the header: {"dtype": ..., "shape": [...], "data_offsets": [begin, end]}.
Entry read_entry(const std::string& source, const std::string& name, const Json& spec, int64_t data_size) {
    const std::string where = source + ": tensor '" + name + "'";
    check_io(spec.is_object(), where, ": expected an object {\"dtype\", \"shape\", \"data_offsets\"} but found ",
             spec.type_name());
    for (const auto& [field, value] : spec.as_object())
        check_io(field == "dtype" || field == "shape" || field == "data_offsets", where, ": unknown field '", field,
                 "' (expected dtype, shape, data_offsets)");
    for (const char* field : {"dtype", "shape", "data_offsets"})
        check_io(spec.contains(field), where, ": missing field '", field, "'");

    Entry entry;
    entry.name = name;

    // dtype: one we read, with its element size.
    const Json& dtype = spec.at("dtype");
    check_io(dtype.is_string(), where, ": dtype is ", dtype.type_name(), ", expected a string such as \"F32\"");
    entry.dtype = dtype.as_string();
    entry.dtype_size = 0;
    for (const DtypeInfo& known : kDtypes)
        if (entry.dtype == known.name) entry.dtype_size = known.size;
    check_io(entry.dtype_size != 0, where, ": dtype '", entry.dtype, "' is not a safetensors dtype");
    check_io(entry.dtype == "F32" || entry.dtype == "F64", where, ": dtype '", entry.dtype,
             "' is not supported (patchgrad reads F32 and F64)");

    // shape: whole numbers >= 0 whose product times the element size fits in int64.
    const Json& shape = spec.at("shape");
    check_io(shape.is_array(), where, ": shape is ", shape.type_name(), ", expected an array of sizes");
    // Multiplied left to right, as numel_of does, every partial product must fit: (2^40, 2^40, 0) is refused.
    int64_t bytes = entry.dtype_size;
    for (size_t i = 0; i < shape.size(); ++i) {
        const int64_t size = read_count(shape.at(i), where, "shape", i);
        entry.shape.push_back(size);
        check_io(size == 0 || bytes <= std::numeric_limits<int64_t>::max() / size, where, ": shape ", shape, " ",
                 entry.dtype, " needs more than 2^63 bytes");
        bytes *= size;
    }

    // data_offsets: [begin, end] inside the data section, holding exactly the bytes the shape needs.
    const Json& offsets = spec.at("data_offsets");
    check_io(offsets.is_array() && offsets.size() == 2, where, ": data_offsets is ", [&] {
        return offsets.is_array() ? format_message("an array of ", offsets.size(), " elements") : offsets.type_name();
    }, ", expected [begin, end]");
    entry.begin = read_count(offsets.at(0), where, "data_offsets", 0);
    entry.end = read_count(offsets.at(1), where, "data_offsets", 1);
    check_io(entry.begin <= entry.end, where, ": data_offsets ", Offsets{entry.begin, entry.end},
             " begin after end");
    check_io(entry.end <= data_size, where, ": data_offsets ", Offsets{entry.begin, entry.end},
             " run past the end of the data section (", data_size, " bytes)");
    check_io(entry.end - entry.begin == bytes, where, ": data_offsets ", Offsets{entry.begin, entry.end},
             " hold ", entry.end - entry.begin, " bytes but shape ", entry.shape, " ", entry.dtype, " needs ", bytes);
    return entry;
}

// The tensors must tile the data section: sorted by offset, each starts where the previous one ended,
// the first at 0 and the last ending at the end. So no byte belongs to two tensors (an overlap would let
// two names alias one buffer) and none to no tensor (the format, like the safetensors library, allows no
// holes or trailing bytes: they could only be garbage or hidden data).
void check_tiling(const std::string& source, std::vector<Entry> entries, int64_t data_size) {
    // Stable, so that of two tensors at the same offsets the message blames the later one in the header.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;  // an empty tensor first at a tie
    });
    int64_t covered = 0;  // bytes [0, covered) belong to the tensors seen so far
    for (size_t i = 0; i < entries.size(); ++i) {
        const Entry& e = entries[i];
        const Entry& previous = entries[i ? i - 1 : 0];  // the check cannot fail for the first: covered is 0
        check_io(e.begin >= covered, source, ": tensor '", e.name, "' data_offsets ", Offsets{e.begin, e.end},
                 " overlap tensor '", previous.name, "' data_offsets ", Offsets{previous.begin, previous.end});
        check_io(e.begin == covered, source, ": bytes [", covered, ", ", e.begin,
                 ") of the data section belong to no tensor (the format allows no holes)");
        covered = e.end;
    }
    check_io(covered == data_size, source, ": the data section is ", data_size, " bytes but the tensors cover only ",
             covered, " (trailing bytes)");
}

// The data section's checksum, if the metadata has one, must match.
void check_checksum(const std::string& source, const StringPairs& metadata, std::string_view data) {
    for (const auto& [key, value] : metadata) {
        if (key != kChecksumKey) continue;
        bool well_formed = value.size() == 14 && value.compare(0, 6, "crc32:") == 0;
        for (size_t i = 6; well_formed && i < 14; ++i)
            well_formed = (value[i] >= '0' && value[i] <= '9') || (value[i] >= 'a' && value[i] <= 'f');
        check_io(well_formed, source, ": metadata ", kChecksumKey, " is \"", value,
                 "\", expected crc32: and 8 lowercase hex digits");
        const std::string found = format_checksum(crc32(data));
        check_io(value == found, source, ": checksum mismatch: the header says ", value, " but the data section has ",
                 found, " (the file is corrupt)");
    }
}

}  // namespace

// ---- CRC-32 ---------------------------------------------------------------------------------------------
// The remainder of the message, as a polynomial over GF(2), divided by 0x04C11DB7, bits taken lowest
// first (so the polynomial appears reversed, 0xEDB88320), starting from all ones and inverted at the end.
// The table holds the result of pushing each possible byte through the 8 shift-and-xor steps.
uint32_t crc32(std::string_view bytes) {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t byte = 0; byte < 256; ++byte) {
            uint32_t crc = byte;
            for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            t[byte] = crc;
        }
        return t;
    }();
    uint32_t crc = 0xFFFFFFFFu;
    for (const char c : bytes) crc = table[(crc ^ static_cast<unsigned char>(c)) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

// ---- writing --------------------------------------------------------------------------------------------

std::string encode_safetensors(const NamedTensors& tensors, const StringPairs& metadata) {
    // The data section: each tensor's elements in order, little-endian, in this build's Scalar.
    std::string data;
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) {
        if (key == kChecksumKey) continue;  // replaced by the checksum of this data section
        check(!meta.contains(key), "save_safetensors: metadata key '", key, "' appears twice");
        meta.set(key, value);
    }
    // The header's entries, built as a list: Json::set looks for the key first, which for every tensor
    // of a large model (14,000 of them) made the writing quadratic, 0.6 s a checkpoint. A hash set of the
    // names seen finds duplicates instead.
    Json::Object entries;
    entries.reserve(tensors.size() + 1);
    entries.emplace_back("__metadata__", Json());  // a placeholder: the metadata goes first, as in Python's writer
    std::unordered_set<std::string_view> names;
    for (const auto& [name, t] : tensors) {
        check(name != "__metadata__", "save_safetensors: '__metadata__' is reserved, not a tensor name");
        check(names.insert(name).second, "save_safetensors: tensor name '", name, "' appears twice");
        check(t.defined(), "save_safetensors: tensor '", name, "' is undefined");
        const uint64_t begin = data.size();
        const Scalar* values = t.data();
        for (int64_t i = 0; i < t.numel(); ++i) {
            if (sizeof(Scalar) == 4) append_le(data, std::bit_cast<uint32_t>(static_cast<float>(values[i])), 4);
            else append_le(data, std::bit_cast<uint64_t>(static_cast<double>(values[i])), 8);
        }
        Json shape = Json::array();
        for (int64_t size : t.shape()) shape.push_back(size);
        entries.emplace_back(name, Json::Object{{"dtype", kWriteDtype},
                                                {"shape", shape},
                                                {"data_offsets", Json::Array{Json(begin), Json(uint64_t(data.size()))}}});
    }
    meta.set(kChecksumKey, format_checksum(crc32(data)));
    entries.front().second = meta;
    const Json header(std::move(entries));

    // The header, padded with spaces (JSON whitespace) so that the data section starts 8-byte aligned.
    std::string header_text = header.dump();
    header_text.append((8 - (8 + header_text.size()) % 8) % 8, ' ');

    std::string file;
    file.reserve(8 + header_text.size() + data.size());
    append_le(file, header_text.size(), 8);
    file += header_text;
    file += data;
    return file;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const StringPairs& metadata) {
    write_file_atomically(path, encode_safetensors(tensors, metadata));
}

// ---- reading, in three steps: the length, the header, the data -------------------------------------------
// decode_safetensors takes them on bytes in memory, load_safetensors on a file, reading the data section
// only once the header has passed: a large file with a broken header is refused after a few kilobytes.
namespace {

// What a checked header says: every tensor's entry and the metadata, in the header's order.
struct Header {
    std::vector<Entry> entries;
    StringPairs metadata;
};

// 1. The header length: the first 8 bytes of a file of file_size bytes; at most what the file holds after
//    them, and at most kMaxHeaderBytes.
uint64_t read_header_length(std::string_view first_8, uint64_t file_size, const std::string& source) {
    check_io(file_size >= 8, source, ": the file is ", file_size,
             " bytes, too short for the 8-byte header length a safetensors file starts with");
    const uint64_t header_size = read_le(first_8.data(), 8);
    check_io(header_size <= file_size - 8, source, ": header length ", header_size, " is larger than the ",
             file_size - 8, " bytes after it (truncated file?)");
    check_io(header_size <= kMaxHeaderBytes, source, ": header length ", header_size, " exceeds the limit of ",
             kMaxHeaderBytes, " bytes");
    return header_size;
}

// 2. and 3. The header, a JSON object (parse_json refuses duplicate keys, so duplicate tensor names), and
//    every entry in it checked against the data section's size, before anything is allocated from it.
Header read_header(std::string_view header_text, int64_t data_size, const std::string& source) {
    const Json header = parse_json(header_text, source + ": header");
    check_io(header.is_object(), source, ": header is ", header.type_name(), ", expected a JSON object");
    Header result;
    for (const auto& [name, spec] : header.as_object()) {
        if (name != "__metadata__") {
            result.entries.push_back(read_entry(source, name, spec, data_size));
            continue;
        }
        check_io(spec.is_object(), source, ": __metadata__ is ", spec.type_name(), ", expected an object of strings");
        for (const auto& [key, value] : spec.as_object()) {
            check_io(value.is_string(), source, ": __metadata__ '", key, "' is ", value.type_name(), " (", value,
                     "), expected a string");
            result.metadata.emplace_back(key, value.as_string());
        }
    }
    check_tiling(source, result.entries, data_size);
    return result;
}

// 4. The data section, whose size the header was checked against: the checksum, then each tensor
//    converted to Scalar.
SafetensorsFile read_tensors(Header header, std::string_view data, const std::string& source) {
    check_checksum(source, header.metadata, data);
    SafetensorsFile file;
    file.metadata = std::move(header.metadata);
    for (const Entry& e : header.entries) {
        Tensor t = Tensor::empty(e.shape);
        Scalar* out = t.data();
        const char* in = data.data() + e.begin;
        for (int64_t i = 0; i < t.numel(); ++i) {
            if (e.dtype == "F32") out[i] = static_cast<Scalar>(std::bit_cast<float>(uint32_t(read_le(in + 4 * i, 4))));
            else out[i] = static_cast<Scalar>(std::bit_cast<double>(read_le(in + 8 * i, 8)));
        }
        file.tensors.emplace_back(e.name, std::move(t));
    }
    return file;
}

}  // namespace

SafetensorsFile decode_safetensors(std::string_view bytes, const std::string& source) {
    const uint64_t header_size = read_header_length(bytes.substr(0, 8), bytes.size(), source);
    const std::string_view data = bytes.substr(8 + header_size);
    Header header = read_header(bytes.substr(8, header_size), static_cast<int64_t>(data.size()), source);
    return read_tensors(std::move(header), data, source);
}

SafetensorsFile load_safetensors(const std::string& path) {
    RegularFileReader file(path, kMaxSafetensorsBytes);
    const uint64_t size = file.size();
    const uint64_t header_size = read_header_length(file.read(0, std::min<uint64_t>(size, 8)), size, path);
    const uint64_t data_begin = 8 + header_size;
    Header header = read_header(file.read(8, header_size), static_cast<int64_t>(size - data_begin), path);
    return read_tensors(std::move(header), file.read(data_begin, size - data_begin), path);
}

const Tensor& SafetensorsFile::tensor(std::string_view name) const {
    for (const auto& [key, t] : tensors)
        if (key == name) return t;
    std::string names;
    for (size_t i = 0; i < tensors.size() && i < 10; ++i) names += (i ? ", '" : "'") + tensors[i].first + "'";
    if (tensors.size() > 10) names += ", ...";
    check_io(false, "safetensors: no tensor named '", name, "' (the file has ", tensors.empty() ? "none" : names, ")");
    return tensors.front().second;  // unreachable
}

const std::string* SafetensorsFile::find_metadata(std::string_view key) const {
    for (const auto& [k, value] : metadata)
        if (k == key) return &value;
    return nullptr;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
