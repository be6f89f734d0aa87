#include "hive/agent/tailer.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "file_util.h"
#include "hive/core/log.h"

namespace hive::agent {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxLine = 1024 * 1024;

using SteadyTime = std::chrono::steady_clock::time_point;

}  // namespace

Result<std::vector<FilePosition>> PositionStore::Load() const {
  auto text = ReadWholeFile(file_);
  if (!text.ok()) {
    if (text.status().IsNotFound()) return std::vector<FilePosition>{};
    return text.status();
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("files") || !j["files"].is_array()) {
    return Status::InvalidArgument("positions file '" + file_ + "' is corrupt");
  }
  std::vector<FilePosition> out;
  for (const auto& f : j["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() ||
        !f.value("dev", nlohmann::json()).is_number_unsigned() ||
        !f.value("ino", nlohmann::json()).is_number_unsigned() ||
        !f.value("offset", nlohmann::json()).is_number_unsigned()) {
      return Status::InvalidArgument("positions file '" + file_ + "' has a malformed entry");
    }
    out.push_back({f["path"].get<std::string>(), f["dev"].get<uint64_t>(), f["ino"].get<uint64_t>(),
                   f["offset"].get<uint64_t>()});
  }
  return out;
}

Status PositionStore::Save(const std::vector<FilePosition>& positions) const {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& p : positions) {
    files.push_back({{"path", p.path}, {"dev", p.dev}, {"ino", p.ino}, {"offset", p.offset}});
  }
  nlohmann::json doc = {{"version", 1}, {"files", std::move(files)}};
  // Paths are bytes; replace rather than throw on invalid UTF-8.
  return WriteFileAtomically(
      file_, doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

struct LogTailer::File {
  uint64_t id = 0;
  std::string path;
  uint64_t dev = 0;
  uint64_t ino = 0;
  int fd = -1;
  uint64_t delivered = 0;  // offset just past the last line handed out
  std::string buf;         // bytes read from `delivered` on: buf[pos..] is pending
  size_t pos = 0;
  bool rotated = false;  // no glob path names this file any more
  SteadyTime rotated_at;
  bool at_eof = false;

  ~File() {
    if (fd >= 0) ::close(fd);
  }
  size_t pending() const { return buf.size() - pos; }
};

LogTailer::LogTailer(std::vector<std::string> patterns, std::vector<FilePosition> saved,
                     Duration rotate_wait)
    : patterns_(std::move(patterns)), saved_(std::move(saved)), rotate_wait_(rotate_wait) {}

LogTailer::~LogTailer() = default;

LogTailer::File* LogTailer::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    log::Warn("cannot open log file", {{"path", path}, {"error", std::strerror(errno)}});
    return nullptr;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return nullptr;
  }
  for (auto& f : files_) {
    // Renamed between stat and open: already followed.
    if (f->dev == st.st_dev && f->ino == st.st_ino) {
      ::close(fd);
      return f.get();
    }
  }
  auto f = std::make_unique<File>();
  f->id = next_id_++;
  f->path = path;
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  f->fd = fd;
  for (const auto& p : saved_) {
    if (p.path == path && p.dev == f->dev && p.ino == f->ino &&
        p.offset <= static_cast<uint64_t>(st.st_size)) {
      f->delivered = p.offset;
    }
  }
  log::Info("following log file", {{"path", path}, {"offset", f->delivered}});
  files_.push_back(std::move(f));
  return files_.back().get();
}

void LogTailer::Scan() {
  std::vector<std::string> paths;
  for (const auto& pattern : patterns_) {
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
  }
  std::set<uint64_t> seen;
  for (const auto& path : paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    File* found = nullptr;
    for (auto& f : files_) {
      if (f->dev == st.st_dev && f->ino == st.st_ino) found = f.get();
    }
    if (found == nullptr) found = Open(path);
    if (found == nullptr) continue;
    if (found->rotated) {
      found->rotated = false;  // named by a glob path again
    }
    found->path = path;
    seen.insert(found->id);
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto& f : files_) {
    if (!f->rotated && !seen.contains(f->id)) {
      f->rotated = true;
      f->rotated_at = now;
      f->at_eof = false;  // it may have grown since it was last read
      log::Info("log file rotated or removed; finishing it", {{"path", f->path}});
    }
  }
  // Saved positions only describe the files present at start.
  saved_.clear();
}

bool LogTailer::ReadFile(File& f, size_t max_lines, size_t max_bytes, size_t& lines, size_t& bytes,
                         const std::function<void(std::string_view)>& on_line) {
  if (!f.rotated) {
    struct stat st;
    if (::fstat(f.fd, &st) == 0 && static_cast<uint64_t>(st.st_size) < f.delivered + f.pending()) {
      log::Warn("log file was truncated; reading it from the start", {{"path", f.path}});
      f.delivered = 0;
      f.buf.clear();
      f.pos = 0;
    }
  }
  auto deliver = [&](size_t len, size_t consumed) {
    on_line(std::string_view(f.buf.data() + f.pos, len));
    f.pos += consumed;
    f.delivered += consumed;
    ++lines;
    bytes += consumed;
  };
  while (lines < max_lines && bytes < max_bytes) {
    const char* start = f.buf.data() + f.pos;
    if (const void* nl = std::memchr(start, '\n', f.pending())) {
      const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - start);
      deliver(len, len + 1);
      continue;
    }
    if (f.pending() >= kMaxLine) {
      deliver(kMaxLine, kMaxLine);
      continue;
    }
    if (f.pos > 0) {
      f.buf.erase(0, f.pos);
      f.pos = 0;
    }
    const size_t old = f.buf.size();
    f.buf.resize(old + kReadChunk);
    ssize_t n;
    do {
      n = ::pread(f.fd, f.buf.data() + old, kReadChunk, static_cast<off_t>(f.delivered + old));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      log::Warn("cannot read log file", {{"path", f.path}, {"error", std::strerror(errno)}});
      f.buf.resize(old);
      return false;
    }
    f.buf.resize(old + static_cast<size_t>(n));
    if (n == 0) {
      const bool waited = std::chrono::steady_clock::now() - f.rotated_at >= rotate_wait_;
      if (f.rotated && waited && f.pending() > 0) deliver(f.pending(), f.pending());
      f.at_eof = f.pending() == 0;
      return false;
    }
    f.at_eof = false;
  }
  return true;
}

size_t LogTailer::ReadLines(size_t max_lines, size_t max_bytes,
                            const std::function<void(std::string_view)>& on_line) {
  size_t lines = 0, bytes = 0;
  // Rotated files first: their content is older than their successors'.
  for (bool rotated_pass : {true, false}) {
    for (auto& f : files_) {
      if (f->rotated != rotated_pass) continue;
      if (ReadFile(*f, max_lines, max_bytes, lines, bytes, on_line)) return lines;
    }
  }
  return lines;
}

std::vector<FilePosition> LogTailer::Positions() const {
  std::vector<FilePosition> out;
  out.reserve(files_.size());
  for (const auto& f : files_) out.push_back({f->path, f->dev, f->ino, f->delivered});
  return out;
}

void LogTailer::DropFinished() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(files_, [&](const std::unique_ptr<File>& f) {
    const bool done = f->rotated && f->at_eof && now - f->rotated_at >= rotate_wait_;
    if (done) log::Info("finished rotated log file", {{"path", f->path}});
    return done;
  });
}

size_t LogTailer::open_files() const { return files_.size(); }

}  // namespace hive::agent
