#include "hive/agent/spool.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "hive/core/log.h"
#include "temp_dir.h"

namespace hive::agent {
namespace {

using hive::testing::TempDir;
using hive::testing::WriteFile;

SpoolRecord Record(std::string id, std::string body, bool from_files = false) {
  SpoolRecord r;
  r.batch_id = std::move(id);
  r.from_files = from_files;
  r.lines = 1;
  r.body = std::move(body);
  if (from_files) r.positions = {{"/var/log/a.log", 1, 2, 42, 8, 0xabcdef}};
  return r;
}

std::vector<std::string> RecordFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override { log::SetLevel(log::Level::kError); }
  TempDir dir_;
};

TEST_F(SpoolTest, KeepsRecordsInOrderAcrossReopenUntilRemoved) {
  {
    Spool spool(dir_ / "spool", 1 << 20);
    ASSERT_TRUE(spool.Open().ok());
    auto a = Record("b-1", "{\"message\":\"a\"}\n", true);
    auto b = Record("b-2", "{\"message\":\"b\"}\n");
    ASSERT_TRUE(spool.Append(a).ok());
    ASSERT_TRUE(spool.Append(b).ok());
    EXPECT_LT(a.seq, b.seq);
    EXPECT_EQ(spool.records(), 2u);
  }
  Spool spool(dir_ / "spool", 1 << 20);
  ASSERT_TRUE(spool.Open().ok());
  ASSERT_EQ(spool.records(), 2u);
  ASSERT_EQ(spool.recovered_positions().size(), 1u);
  EXPECT_EQ(spool.recovered_positions()[0].offset, 42u);
  EXPECT_EQ(spool.recovered_positions()[0].fp, 0xabcdefu);
  auto first = spool.Oldest();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->batch_id, "b-1");
  EXPECT_TRUE(first->from_files);
  EXPECT_EQ(first->body, "{\"message\":\"a\"}\n");
  ASSERT_TRUE(spool.Remove(first->seq).ok());
  auto second = spool.Oldest();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->batch_id, "b-2");
  ASSERT_TRUE(spool.Remove(second->seq).ok());
  EXPECT_FALSE(spool.Oldest().has_value());
  EXPECT_EQ(spool.bytes(), 0u);
  EXPECT_TRUE(RecordFiles(dir_ / "spool").empty());
}

TEST_F(SpoolTest, TornAndCorruptRecordsAreSkippedAndCounted) {
  {
    Spool spool(dir_ / "spool", 1 << 20);
    ASSERT_TRUE(spool.Open().ok());
    for (int i = 1; i <= 3; ++i) {
      auto r = Record("b-" + std::to_string(i), std::string(100, 'a' + i) + "\n");
      ASSERT_TRUE(spool.Append(r).ok());
    }
  }
  const auto files = RecordFiles(dir_ / "spool");
  ASSERT_EQ(files.size(), 3u);
  // A write cut short (kill -9 or power loss mid-write) and a flipped byte.
  std::filesystem::resize_file(files[0], std::filesystem::file_size(files[0]) - 7);
  {
    std::fstream f(files[1], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('X');
  }
  WriteFile(dir_ / "spool/00000000000000000009.rec.tmp", "half written");
  Spool spool(dir_ / "spool", 1 << 20);
  ASSERT_TRUE(spool.Open().ok());
  EXPECT_EQ(spool.corrupt_records(), 2u);
  auto r = spool.Oldest();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->batch_id, "b-3");
  EXPECT_EQ(RecordFiles(dir_ / "spool").size(), 1u);  // the damaged ones and the .tmp are gone
}

TEST_F(SpoolTest, FullSpoolRefusesAndDropsOnlyOutputRecordsOldestFirst) {
  Spool spool(dir_ / "spool", 8 * 1024);
  ASSERT_TRUE(spool.Open().ok());
  const std::string body(2000, 'x');
  auto f1 = Record("f-1", body, true);
  auto o1 = Record("o-1", body);
  auto o2 = Record("o-2", body);
  ASSERT_TRUE(spool.Append(f1).ok());
  ASSERT_TRUE(spool.Append(o1).ok());
  ASSERT_TRUE(spool.Append(o2).ok());
  auto f2 = Record("f-2", body, true);
  const Status full = spool.Append(f2);
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full.ToString();
  EXPECT_FALSE(spool.HasRoom(body.size()));
  EXPECT_EQ(spool.DropOldestStreamRecords(body.size() + 512), 1u);  // o-1 only
  ASSERT_TRUE(spool.Append(f2).ok());
  std::vector<std::string> ids;
  while (auto r = spool.Oldest()) {
    ids.push_back(r->batch_id);
    ASSERT_TRUE(spool.Remove(r->seq).ok());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"f-1", "o-2", "f-2"}));
}

TEST_F(SpoolTest, ARecordLargerThanTheSpoolIsStoredWhenEmpty) {
  Spool spool(dir_ / "spool", 1024);
  ASSERT_TRUE(spool.Open().ok());
  auto big = Record("big", std::string(4096, 'x'));
  EXPECT_TRUE(spool.Append(big).ok());
}

}  // namespace
}  // namespace hive::agent
