// Atomic writes: nothing appears under the final name until commit.
#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "test_support.h"

namespace hdv::core {
namespace {

TEST(AtomicFile, FinalNameAppearsOnlyAtCommit) {
  test::TempDir dir;
  AtomicFile file(dir / "out.bin");
  file.write("partial");
  EXPECT_FALSE(std::filesystem::exists(dir / "out.bin"));
  EXPECT_TRUE(std::filesystem::exists(file.temp_path()));
  file.commit();
  EXPECT_EQ(test::read_bytes(dir / "out.bin"), "partial");
  EXPECT_FALSE(std::filesystem::exists(file.temp_path()));
}

TEST(AtomicFile, AbandonedWriteLeavesOldContentsAndNoTemporary) {
  test::TempDir dir;
  write_file_atomic(dir / "out.txt", "old");
  {
    AtomicFile file(dir / "out.txt");
    file.write("new but unfinished");
  }  // destroyed without commit, as when an exception unwinds
  EXPECT_EQ(test::read_bytes(dir / "out.txt"), "old");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(AtomicFile, MissingFolderIsNamed) {
  HDV_EXPECT_THROW_MSG(AtomicFile("/nonexistent-dir/x.bin"), IoError, "folder /nonexistent-dir does not exist");
}

}  // namespace
}  // namespace hdv::core
