// A directory of a test's own under the system temp dir, and small file
// helpers for the tests. Not thread-safe; one test thread owns a TempDir.
#pragma once

#include <string>
#include <string_view>

namespace hive::testing {

// A fresh directory `<temp>/<prefix>-XXXXXX`, removed with its contents when
// the TempDir goes. Creating it failing fails the current test; path() is ""
// then.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "hive-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // The path of `name` inside the directory.
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Replaces the file's content with `content`.
void WriteFile(const std::string& path, const std::string& content);
// Appends `content` to the file, creating it when missing.
void AppendFile(const std::string& path, const std::string& content);
// The file's content; "" when it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace hive::testing
