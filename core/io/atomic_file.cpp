#include "atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/check.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// The directory that holds `path` ("." for a bare file name): the one whose entry the rename changes.
std::string directory_of(const std::string& path) {
    const std::string parent = std::filesystem::path(path).parent_path().string();
    return parent.empty() ? "." : parent;
}

// Give up on a write: close the temporary file if it is open, remove it, and throw.
[[noreturn]] void abandon(const std::string& path, const std::string& temporary, int fd, const char* step,
                          int error) {
    if (fd >= 0) ::close(fd);
    ::unlink(temporary.c_str());
    throw std::runtime_error(format_message("cannot write ", path, ": ", step, " ", temporary, " failed: ",
                                            std::strerror(error), " (", path, " is unchanged)"));
}

// Is process `pid` gone? kill(pid, 0) sends no signal but checks that the process exists: ESRCH means no
// such process. (EPERM means it exists but belongs to someone else: not gone.)
bool process_is_gone(long pid) { return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH; }

}  // namespace

int remove_stale_temporaries(const std::string& path) {
    namespace fs = std::filesystem;
    const std::string prefix = fs::path(path).filename().string() + ".tmp-";
    std::error_code error;
    fs::directory_iterator entries(directory_of(path), error);
    if (error) return 0;  // no folder yet: nothing to clean
    int removed = 0;
    for (const fs::directory_entry& entry : entries) {
        const std::string name = entry.path().filename().string();
        if (name.compare(0, prefix.size(), prefix) != 0) continue;
        // PREFIX<pid>-<random>: the pid is the digits up to the dash.
        const std::string rest = name.substr(prefix.size());
        const std::string digits = rest.substr(0, rest.find('-'));
        if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
        if (process_is_gone(std::stol(digits)) && fs::remove(entry.path(), error)) ++removed;  // a link, not its target
    }
    return removed;
}

void write_file_atomically(const std::string& path, std::string_view bytes, WriteFault fault) {
    // 1. Create the temporary file: a new name each time (the pid, for remove_stale_temporaries, and 48
    //    random bits), created exclusively and never through a link. A name that exists already (a
    //    stale temporary, or a link someone planted) makes open fail with EEXIST: draw another.
    std::random_device entropy;
    std::string temporary;
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
        char suffix[16];
        std::snprintf(suffix, sizeof suffix, "%06x%06x", entropy() & 0xFFFFFF, entropy() & 0xFFFFFF);
        temporary = path + ".tmp-" + std::to_string(::getpid()) + "-" + suffix;
        fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fault == WriteFault::create && fd >= 0) {
        ::close(fd);
        ::unlink(temporary.c_str());
        fd = -1;
        errno = EIO;
    }
    if (fd < 0) {
        const int error = errno;
        throw std::runtime_error(format_message("cannot write ", path, ": creating ", temporary, " failed: ",
                                                std::strerror(error)));
    }

    // 2. Write every byte. write() may write fewer bytes than asked (a signal, a pipe, a nearly full
    //    disk): loop until all are written or it reports an error such as ENOSPC or EFBIG.
    const size_t to_write = fault == WriteFault::write ? bytes.size() / 2 : bytes.size();
    size_t written = 0;
    while (written < to_write) {
        const size_t chunk = std::min<size_t>(to_write - written, size_t(1) << 30);
        const ssize_t n = ::write(fd, bytes.data() + written, chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) abandon(path, temporary, fd, "writing", n < 0 ? errno : EIO);
        written += static_cast<size_t>(n);
    }
    if (fault == WriteFault::write) abandon(path, temporary, fd, "writing", ENOSPC);

    // 3. Flush the file's bytes to the disk before any name points at them.
    if (fault == WriteFault::sync || ::fsync(fd) != 0)
        abandon(path, temporary, fd, "fsync of", fault == WriteFault::sync ? EIO : errno);

    // 4. Close: on some file systems (NFS) this is where a failed write is reported.
    const int closed = ::close(fd);
    if (fault == WriteFault::close || closed != 0)
        abandon(path, temporary, -1, "closing", fault == WriteFault::close ? EIO : errno);

    // 5. Rename over the old file: one step, readers see the old file or the new, never a mix.
    if (fault == WriteFault::rename || ::rename(temporary.c_str(), path.c_str()) != 0)
        abandon(path, temporary, -1, "renaming", fault == WriteFault::rename ? EIO : errno);

    // 6. Make the rename itself durable: fsync the directory that holds the name. Some file systems
    //    cannot sync a directory and say EINVAL; there is nothing more we can do, so accept that.
    const std::string directory = directory_of(path);
    const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int error = dir_fd < 0 ? errno : 0;
    if (dir_fd >= 0) {
        if (::fsync(dir_fd) != 0 && errno != EINVAL) error = errno;
        ::close(dir_fd);
    }
    if (fault == WriteFault::sync_directory) error = EIO;
    if (error != 0)
        throw std::runtime_error(format_message("cannot write ", path, ": fsync of the directory ", directory,
                                                " failed: ", std::strerror(error), " (the new contents are in ",
                                                "place but the rename may not survive a power cut)"));
}

// ---- reading ------------------------------------------------------------------------------------------
// The one opener of files to read: `path` must be a regular file of at most max_bytes. O_NONBLOCK makes
// the open of a FIFO return at once (a blocking open waits for a writer forever); fstat then refuses
// it, a device and a directory before a byte is read.
RegularFileReader::RegularFileReader(const std::string& path, uint64_t max_bytes) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) {
        const int error = errno;
        throw std::runtime_error(format_message("cannot read ", path, ": ", std::strerror(error)));
    }
    struct stat info {};
    const int stat_error = ::fstat(fd_, &info) == 0 ? 0 : errno;
    if (stat_error != 0) refuse(std::strerror(stat_error));
    if (S_ISDIR(info.st_mode)) refuse(std::strerror(EISDIR));
    if (!S_ISREG(info.st_mode))
        refuse(format_message("expected a regular file, found ", S_ISFIFO(info.st_mode) ? "a FIFO (named pipe)"
                                                                   : S_ISCHR(info.st_mode) ? "a character device"
                                                                   : S_ISBLK(info.st_mode) ? "a block device"
                                                                   : S_ISSOCK(info.st_mode) ? "a socket"
                                                                                            : "a special file"));
    size_ = static_cast<uint64_t>(info.st_size);
    if (size_ > max_bytes) refuse(format_message("the file is ", size_, " bytes, more than the ", max_bytes, " allowed"));
}

RegularFileReader::~RegularFileReader() {
    if (fd_ >= 0) ::close(fd_);
}

void RegularFileReader::refuse(const std::string& why) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(format_message("cannot read ", path_, ": ", why));
}

// pread until `length` bytes have come or the file ends (a file that shrank since it was opened).
uint64_t RegularFileReader::read_into(char* destination, uint64_t offset, uint64_t length) {
    length = offset >= size_ ? 0 : std::min(length, size_ - offset);
    uint64_t filled = 0;
    while (filled < length) {
        const ssize_t n = ::pread(fd_, destination + filled, length - filled, static_cast<off_t>(offset + filled));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int error = errno;
            throw std::runtime_error(format_message("cannot read ", path_, ": ", std::strerror(error)));
        }
        if (n == 0) break;
        filled += static_cast<uint64_t>(n);
    }
    return filled;
}

std::string RegularFileReader::read_at_most(uint64_t offset, uint64_t length) {
    std::string bytes(offset >= size_ ? 0 : std::min(length, size_ - offset), '\0');
    bytes.resize(read_into(bytes.data(), offset, bytes.size()));
    return bytes;
}

std::string RegularFileReader::read(uint64_t offset, uint64_t length) {
    std::string bytes = read_at_most(offset, length);
    if (bytes.size() != length)
        throw std::runtime_error(format_message("cannot read ", path_, ": bytes [", offset, ", ", offset + length,
                                                ") were asked for, but the file ends after ", offset + bytes.size(),
                                                " (it shrank while being read?)"));
    return bytes;
}

// A file that shrinks meanwhile ends early; one that grows is read up to its size at the open.
std::string read_file(const std::string& path, uint64_t max_bytes) {
    RegularFileReader file(path, max_bytes);
    return file.read_at_most(0, file.size());
}

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes) {
    RegularFileReader file(path, max_bytes);
    std::vector<uint8_t> bytes(file.size());
    bytes.resize(file.read_into(reinterpret_cast<char*>(bytes.data()), 0, bytes.size()));
    return bytes;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
