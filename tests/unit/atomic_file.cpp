// AtomicFile: the target is either the old file or the whole new one, never half of it, and
// no temporary is left behind on any path.
#include "engine/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "engine/error.h"

namespace fs = std::filesystem;

namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kite_atomic_file_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string contents(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  fs::path dir_;
};

TEST_F(AtomicFileTest, CommitReplacesTheTarget) {
  const std::string target = path("a.txt");
  kite::write_file_atomically(target, "old");
  kite::AtomicFile file(target);
  file.write("new ");
  file.write("contents");
  EXPECT_EQ(contents(target), "old") << "the target changed before commit";
  file.commit();
  EXPECT_EQ(contents(target), "new contents");
  EXPECT_FALSE(fs::exists(target + ".tmp"));
}

TEST_F(AtomicFileTest, AnExceptionBeforeCommitKeepsTheOldFile) {
  const std::string target = path("b.txt");
  kite::write_file_atomically(target, "old");
  try {
    kite::AtomicFile file(target);
    file.write("half of the new");
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(contents(target), "old");
  EXPECT_FALSE(fs::exists(target + ".tmp"));
}

TEST_F(AtomicFileTest, ErrorsNameTheTarget) {
  const std::string target = path("c.txt");
  fs::create_directory(target + ".tmp");  // the temporary cannot be created
  try {
    kite::write_file_atomically(target, "x");
    ADD_FAILURE() << "no error";
  } catch (const kite::Error& error) {
    EXPECT_NE(std::string(error.what()).find(target), std::string::npos) << error.what();
  }
  EXPECT_FALSE(fs::exists(target));

  const std::string missing_folder = path("no/such/folder/d.txt");
  EXPECT_THROW(kite::write_file_atomically(missing_folder, "x"), kite::Error);
}

TEST_F(AtomicFileTest, WritingAfterCommitIsRefused) {
  kite::AtomicFile file(path("e.txt"));
  file.write("x");
  file.commit();
  EXPECT_THROW(file.write("y"), kite::Error);
  EXPECT_THROW(file.commit(), kite::Error);
  EXPECT_EQ(contents(path("e.txt")), "x");
}

}  // namespace
