// Atomic file writing (see atomic_file.h): write a temporary, flush it to disk, rename it.
#include "engine/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace kite {

namespace {

std::string errno_text() { return std::strerror(errno); }

// Makes the rename itself durable. Best effort: some file systems refuse a directory fsync,
// and the data is already safely on disk.
void sync_directory_of(const std::string& path) {
  std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (directory.empty()) directory = ".";
  const int descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (descriptor < 0) return;
  fsync(descriptor);
  ::close(descriptor);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : target_(std::move(path)), temporary_(target_ + ".tmp") {
  file_.reset(std::fopen(temporary_.c_str(), "wb"));
  KITE_CHECK(file_ != nullptr, "cannot write '" << target_ << "': cannot create '" << temporary_
                                                << "': " << errno_text());
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    file_.reset();
    std::remove(temporary_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t bytes) {
  KITE_CHECK(!committed_, "cannot write '" << target_ << "': already committed");
  if (bytes == 0) return;
  KITE_CHECK(
      std::fwrite(data, 1, bytes, file_.get()) == bytes,
      "cannot write '" << target_ << "': writing '" << temporary_ << "' failed: " << errno_text());
}

void AtomicFile::commit() {
  KITE_CHECK(!committed_, "cannot write '" << target_ << "': already committed");
  KITE_CHECK(
      std::fflush(file_.get()) == 0 && fsync(fileno(file_.get())) == 0,
      "cannot write '" << target_ << "': flushing '" << temporary_ << "' failed: " << errno_text());
  KITE_CHECK(std::fclose(file_.release()) == 0, "cannot write '" << target_ << "': closing '"
                                                                 << temporary_
                                                                 << "' failed: " << errno_text());
  KITE_CHECK(
      std::rename(temporary_.c_str(), target_.c_str()) == 0,
      "cannot write '" << target_ << "': renaming '" << temporary_ << "' failed: " << errno_text());
  committed_ = true;
  sync_directory_of(target_);
}

void write_file_atomically(const std::string& path, const void* data, size_t bytes) {
  AtomicFile file(path);
  file.write(data, bytes);
  file.commit();
}

}  // namespace kite
