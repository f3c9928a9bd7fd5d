// Atomic file writing: a reader (or a crash) sees either the old file or the whole new one,
// never a half-written one. Checkpoints, logs, statistics and sample files all go through it.
//
//   AtomicFile out("runs/ae/last.safetensors");
//   out.write(header.data(), header.size());
//   out.write(...);
//   out.commit();   // fsync, close, rename `<path>.tmp` over `<path>`, fsync the directory
//
// If commit() is never reached (an exception on the way), the destructor deletes the
// temporary file and the target is untouched.
#pragma once

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>

namespace kite {

class AtomicFile {
 public:
  // Creates (truncates) `<path>.tmp`; the parent folder must exist.
  explicit AtomicFile(std::string path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(const void* data, size_t bytes);
  void write(const std::string& text) { write(text.data(), text.size()); }
  void commit();

 private:
  struct Closer {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::string target_, temporary_;
  std::unique_ptr<std::FILE, Closer> file_;
  bool committed_ = false;
};

// The whole file in one call. Errors name `path` and the failing step.
void write_file_atomically(const std::string& path, const void* data, size_t bytes);
inline void write_file_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, text.data(), text.size());
}

}  // namespace kite
