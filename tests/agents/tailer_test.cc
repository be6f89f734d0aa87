#include "hive/agent/tailer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.h"

namespace hive::agent {
namespace {

using hive::testing::AppendFile;
using hive::testing::TempDir;
using hive::testing::WriteFile;

std::vector<std::string> ReadAll(LogTailer& t, size_t max_lines = 1000) {
  std::vector<std::string> out;
  t.ReadLines(max_lines, 1 << 20, [&](std::string_view l) { out.emplace_back(l); });
  return out;
}

using Lines = std::vector<std::string>;

FilePosition PositionOf(const std::string& path, uint64_t offset) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return {path, st.st_dev, st.st_ino, offset};
}

// Positions without their fingerprints, to compare with PositionOf().
std::vector<FilePosition> Where(std::vector<FilePosition> positions) {
  for (auto& p : positions) p.fp_len = 0, p.fp = 0;
  return positions;
}

TEST(PositionStoreTest, SavesAndLoads) {
  TempDir dir;
  PositionStore store(dir / "spool/positions.json");
  auto empty = store.Load();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  const std::vector<FilePosition> saved = {{"/var/log/a.log", 2049, 77, 1234},
                                           {"/var/log/b \"x\".log", 2049, 78, 0}};
  ASSERT_TRUE(store.Save(saved).ok());
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, saved);
  // Atomic replacement leaves no temporary file behind.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "spool")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(PositionStoreTest, CorruptFileIsAnError) {
  TempDir dir;
  WriteFile(dir / "positions.json", "{\"files\": [{\"path\": 3}]}");
  EXPECT_TRUE(PositionStore(dir / "positions.json").Load().status().IsInvalidArgument());
  WriteFile(dir / "positions.json", "not json");
  EXPECT_TRUE(PositionStore(dir / "positions.json").Load().status().IsInvalidArgument());
}

TEST(LogTailerTest, HandsOutCompleteLinesOnly) {
  TempDir dir;
  const std::string log = dir / "app.log";
  WriteFile(log, "one\ntwo\nthr");
  LogTailer t({dir / "*.log"}, {}, std::chrono::seconds(0));
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"one", "two"}));
  EXPECT_EQ(Where(t.Positions()), (std::vector<FilePosition>{PositionOf(log, 8)}));
  EXPECT_TRUE(ReadAll(t).empty());
  AppendFile(log, "ee\nfour\n");
  EXPECT_EQ(ReadAll(t), (Lines{"three", "four"}));
  EXPECT_EQ(t.Positions()[0].offset, 19u);
}

TEST(LogTailerTest, StopsAtTheLineLimitAndContinuesLater) {
  TempDir dir;
  WriteFile(dir / "app.log", "1\n2\n3\n4\n5\n");
  LogTailer t({dir / "app.log"}, {}, std::chrono::seconds(0));
  t.Scan();
  EXPECT_EQ(ReadAll(t, 2), (Lines{"1", "2"}));
  EXPECT_EQ(t.Positions()[0].offset, 4u);
  EXPECT_EQ(ReadAll(t, 2), (Lines{"3", "4"}));
  EXPECT_EQ(ReadAll(t), (Lines{"5"}));
}

TEST(LogTailerTest, ResumesFromSavedPositionAndStartsNewFilesAtZero) {
  TempDir dir;
  const std::string a = dir / "a.log", b = dir / "b.log";
  WriteFile(a, "old\nnew\n");
  WriteFile(b, "b1\n");
  // A saved position for another inode at b's path does not apply.
  FilePosition stale = PositionOf(b, 3);
  stale.ino += 1;
  LogTailer t({dir / "*.log"}, {PositionOf(a, 4), stale}, std::chrono::seconds(0));
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"new", "b1"}));

  WriteFile(dir / "c.log", "c1\n");
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"c1"}));
  EXPECT_EQ(t.open_files(), 3u);
}

TEST(LogTailerTest, RotationByRenameFinishesTheOldFileFirst) {
  TempDir dir;
  const std::string log = dir / "app.log";
  WriteFile(log, "1\n2\n");
  LogTailer t({dir / "*.log"}, {}, std::chrono::seconds(0));
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"1", "2"}));
  // Written before the rename but not yet read, plus a last line without newline.
  AppendFile(log, "3\n4");
  ASSERT_EQ(::rename(log.c_str(), (dir / "app.log.1").c_str()), 0);
  WriteFile(log, "5\n6\n");
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"3", "4", "5", "6"}));
  EXPECT_EQ(t.open_files(), 2u);
  t.DropFinished();
  EXPECT_EQ(t.open_files(), 1u);
  EXPECT_EQ(Where(t.Positions()), (std::vector<FilePosition>{PositionOf(log, 4)}));
}

TEST(LogTailerTest, RotatedFileKeepsBeingReadDuringRotateWait) {
  TempDir dir;
  const std::string log = dir / "app.log";
  WriteFile(log, "1\n");
  LogTailer t({dir / "*.log"}, {}, std::chrono::hours(1));
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"1"}));
  ASSERT_EQ(::rename(log.c_str(), (dir / "app.log.1").c_str()), 0);
  t.Scan();
  // The writer has not reopened yet and still appends to the renamed file.
  AppendFile(dir / "app.log.1", "late\n");
  EXPECT_EQ(ReadAll(t), (Lines{"late"}));
  t.DropFinished();
  EXPECT_EQ(t.open_files(), 1u);
}

TEST(LogTailerTest, RenameWithinTheGlobKeepsFollowingWithoutDuplicates) {
  TempDir dir;
  const std::string log = dir / "app.log";
  WriteFile(log, "1\n");
  LogTailer t({dir / "app.log*"}, {}, std::chrono::seconds(0));
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"1"}));
  ASSERT_EQ(::rename(log.c_str(), (dir / "app.log.1").c_str()), 0);
  WriteFile(log, "2\n");
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"2"}));
  t.Scan();
  EXPECT_TRUE(ReadAll(t).empty());
  EXPECT_EQ(t.open_files(), 2u);
}

TEST(LogTailerTest, TruncatedFileIsReadFromTheStart) {
  TempDir dir;
  const std::string log = dir / "app.log";
  WriteFile(log, "first line\nsecond line\n");
  LogTailer t({log}, {}, std::chrono::seconds(0));
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"first line", "second line"}));
  ASSERT_EQ(::truncate(log.c_str(), 0), 0);
  AppendFile(log, "after\n");
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"after"}));
  EXPECT_EQ(t.Positions()[0].offset, 6u);
}

TEST(LogTailerTest, SavedOffsetBeyondTheFileStartsOver) {
  TempDir dir;
  const std::string log = dir / "app.log";
  WriteFile(log, "short\n");
  LogTailer t({log}, {PositionOf(log, 1000)}, std::chrono::seconds(0));
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"short"}));
}

TEST(LogTailerTest, CutsOverlongLinesOnceAndFlagsThem) {
  TempDir dir;
  const std::string log = dir / "app.log";
  WriteFile(log, std::string(100, 'y') + "\n" + std::string(300 * 1024 + 10, 'x') + "\nnext\n");
  LogTailer t({log}, {}, std::chrono::seconds(0), 64 * 1024);
  t.Scan();
  std::vector<std::pair<size_t, bool>> lines;
  t.ReadTailedLines(10, 10 << 20,
                    [&](const TailedLine& l) { lines.emplace_back(l.text.size(), l.truncated); });
  EXPECT_EQ(lines,
            (std::vector<std::pair<size_t, bool>>{{100, false}, {64 * 1024, true}, {4, false}}));
  EXPECT_EQ(t.Positions()[0].offset, 101u + 300 * 1024 + 11 + 5);
}

TEST(LogTailerTest, AnOverLongLineStillBeingWrittenWaitsForItsNewline) {
  TempDir dir;
  const std::string log = dir / "app.log";
  WriteFile(log, std::string(200 * 1024, 'x'));
  LogTailer t({log}, {}, std::chrono::seconds(0), 64 * 1024);
  t.Scan();
  EXPECT_TRUE(ReadAll(t).empty());
  EXPECT_EQ(t.Positions()[0].offset, 0u);  // nothing handed out: a restart reads it again
  AppendFile(log, "tail\nafter\n");
  std::vector<std::string> lines;
  t.ReadTailedLines(10, 10 << 20, [&](const TailedLine& l) {
    lines.emplace_back(l.truncated ? "cut:" + std::to_string(l.text.size()) : std::string(l.text));
  });
  EXPECT_EQ(lines, (Lines{"cut:65536", "after"}));
}

TEST(LogTailerTest, ReusedInodeWithOtherContentIsReadFromTheStart) {
  TempDir dir;
  const std::string log = dir / "app.log";
  WriteFile(log, "first file line 1\nfirst file line 2\n");
  std::vector<FilePosition> saved;
  {
    LogTailer t({log}, {}, std::chrono::seconds(0));
    t.Scan();
    EXPECT_EQ(ReadAll(t).size(), 2u);
    saved = t.Positions();
  }
  // Same path, device and inode (rewritten in place), other content: the
  // saved offset must not be applied to it.
  {
    std::ofstream out(log, std::ios::binary | std::ios::in | std::ios::out);
    out << "SECOND";
  }
  LogTailer t({log}, saved, std::chrono::seconds(0));
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"SECONDfile line 1", "first file line 2"}));

  // While following, a rewrite of the first bytes restarts the file too.
  {
    std::ofstream out(log, std::ios::binary | std::ios::in | std::ios::out);
    out << "THIRD!";
  }
  t.Scan();
  EXPECT_EQ(ReadAll(t), (Lines{"THIRD!file line 1", "first file line 2"}));
}

TEST(LogTailerTest, HoldsKeepPositionsBeforeLinesNotInABatchYet) {
  TempDir dir;
  const std::string log = dir / "app.log";
  WriteFile(log, "a\nb\nc\n");
  LogTailer t({log}, {}, std::chrono::seconds(0));
  t.Scan();
  uint64_t id = 0, start_of_c = 0;
  t.ReadTailedLines(10, 1 << 20, [&](const TailedLine& l) {
    id = l.file_id;
    if (l.text == "c") start_of_c = l.start;
  });
  EXPECT_EQ(start_of_c, 4u);
  EXPECT_EQ(t.Positions({{id, start_of_c}})[0].offset, 4u);
  EXPECT_EQ(t.Positions()[0].offset, 6u);
}

}  // namespace
}  // namespace hive::agent
