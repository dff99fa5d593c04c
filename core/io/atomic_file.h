#pragma once
// Whole-file reads and crash-safe whole-file writes, for checkpoints (core/io/safetensors.h), config.json and
// metrics. docs/checkpoint_format.md ("Atomic writes") tells the story.
//
// write_file_atomically(path, bytes) leaves `path` holding either its old contents or all of `bytes`,
// never a mix and never a truncated file, even if the process is killed, the disk fills up or the
// machine loses power half way. It
//   1. writes the bytes to PATH.tmp-<pid>-<random>, a new file in the same directory (so on the same file
//      system), created exclusively (O_CREAT | O_EXCL | O_NOFOLLOW): never a file or a link that was there
//      before, so a link planted under a guessed name cannot redirect the write to another file,
//   2. fsyncs it: the bytes are on disk before the name points at them,
//   3. renames it over PATH: POSIX rename replaces the name in one step; readers see old or new, and
//   4. fsyncs the directory, so the rename itself is on disk.
// On any failure (including a short write: a full disk, or a file size limit such as `ulimit -f`) it
// removes the temporary file, leaves an existing PATH untouched, and throws std::runtime_error naming
// PATH, the failed step and strerror. (If only step 4 fails, the new contents are already in place; the
// message says so.)
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// The test seam: which step of write_file_atomically to make fail as if its system call had failed.
// `write` writes the first half of the bytes and then fails with ENOSPC, a disk that filled up; the others
// fail with EIO. Production code never passes anything but `none`; tests/test_safetensors.cpp passes
// each of the others and checks that the old file survives and no temporary file is left behind.
enum class WriteFault { none, create, write, sync, close, rename, sync_directory };

void write_file_atomically(const std::string& path, std::string_view bytes, WriteFault fault = WriteFault::none);

// A process killed with SIGKILL in the middle of write_file_atomically cannot remove its temporary file:
// PATH.tmp-<pid>-<random> stays behind (PATH itself is intact). This removes every such file next to `path` whose
// process is gone, and returns how many it removed. A temporary of a process still alive (another run
// saving right now) is left alone. train() calls it for its checkpoints when a run starts or resumes.
int remove_stale_temporaries(const std::string& path);

// The whole contents of the file at `path`, which must be a regular file of at most `max_bytes` bytes:
// each format names its cap, sized to the largest file of its kind that patchgrad writes or reads
// (kMaxSafetensorsBytes, kMaxConfigFileBytes, kMaxImageFileBytes...; docs/reliability.md lists them),
// and there is no default, so no reader goes without one. Anything else is refused at once with
// std::runtime_error naming the path: a FIFO (opened without blocking, never read), a device such as
// /dev/zero (which would be read until memory runs out), a directory, a file too large, a missing file
// (with strerror). Every reader of a file goes through here.
std::string read_file(const std::string& path, uint64_t max_bytes);
std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes);

// The same file opened for reading in pieces, for a format whose header says what the rest must be: it
// reads and checks the header first and the rest only if the header holds up, so a large file with a
// bad header costs a few kilobytes and no wait (load_safetensors). The constructor refuses exactly what
// read_file refuses; the file is closed when the reader goes out of scope.
//     RegularFileReader file(path, kMaxSafetensorsBytes);
//     std::string first = file.read(0, 8);  // throws unless all 8 bytes are there
class RegularFileReader {
public:
    RegularFileReader(const std::string& path, uint64_t max_bytes);
    ~RegularFileReader();
    RegularFileReader(const RegularFileReader&) = delete;
    RegularFileReader& operator=(const RegularFileReader&) = delete;

    uint64_t size() const { return size_; }  // the file's size when it was opened
    // Bytes [offset, offset + length): exactly `length` of them, or std::runtime_error naming the path
    // and where the file ended.
    std::string read(uint64_t offset, uint64_t length);
    // The same, but a file that ends early gives fewer bytes instead of an error.
    std::string read_at_most(uint64_t offset, uint64_t length);
    // The same into `destination` (room for `length` bytes); returns how many bytes came.
    uint64_t read_into(char* destination, uint64_t offset, uint64_t length);

private:
    [[noreturn]] void refuse(const std::string& why);  // close, throw "cannot read PATH: why"
    std::string path_;
    int fd_ = -1;
    uint64_t size_ = 0;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
