#include "hive/agent/tailer.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "file_util.h"
#include "hive/core/log.h"

namespace hive::agent {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kFingerprintBytes = 256;

using SteadyTime = std::chrono::steady_clock::time_point;

uint64_t Fnv1a(std::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The first `len` bytes of the file; shorter when the file is.
std::string ReadHead(int fd, size_t len) {
  std::string out(len, '\0');
  size_t got = 0;
  while (got < len) {
    const ssize_t n = ::pread(fd, out.data() + got, len - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace

std::string PositionsToJson(const std::vector<FilePosition>& positions) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& p : positions) {
    char fp[17];
    std::snprintf(fp, sizeof fp, "%016llx", static_cast<unsigned long long>(p.fp));
    files.push_back({{"path", p.path},
                     {"dev", p.dev},
                     {"ino", p.ino},
                     {"offset", p.offset},
                     {"fp_len", p.fp_len},
                     {"fp", fp}});
  }
  nlohmann::json doc = {{"version", 1}, {"files", std::move(files)}};
  // Paths are bytes; replace rather than throw on invalid UTF-8.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::vector<FilePosition>> PositionsFromJson(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("files") || !j["files"].is_array()) {
    return Status::InvalidArgument("not a positions object");
  }
  std::vector<FilePosition> out;
  for (const auto& f : j["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() ||
        !f.value("dev", nlohmann::json()).is_number_unsigned() ||
        !f.value("ino", nlohmann::json()).is_number_unsigned() ||
        !f.value("offset", nlohmann::json()).is_number_unsigned()) {
      return Status::InvalidArgument("a malformed entry");
    }
    FilePosition p{f["path"].get<std::string>(), f["dev"].get<uint64_t>(), f["ino"].get<uint64_t>(),
                   f["offset"].get<uint64_t>()};
    // Files saved before fingerprints existed match by device and inode alone.
    if (f.contains("fp_len") && f["fp_len"].is_number_unsigned() && f.contains("fp") &&
        f["fp"].is_string()) {
      p.fp_len = f["fp_len"].get<uint32_t>();
      p.fp = std::strtoull(f["fp"].get<std::string>().c_str(), nullptr, 16);
    }
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<FilePosition>> PositionStore::Load() const {
  auto text = ReadWholeFile(file_);
  if (!text.ok()) {
    if (text.status().IsNotFound()) return std::vector<FilePosition>{};
    return text.status();
  }
  auto p = PositionsFromJson(*text);
  if (!p.ok()) {
    return Status::InvalidArgument("positions file '" + file_ +
                                   "' is corrupt: " + p.status().message());
  }
  return p;
}

Status PositionStore::Save(const std::vector<FilePosition>& positions) const {
  return WriteFileAtomically(file_, PositionsToJson(positions) + "\n");
}

struct LogTailer::File {
  uint64_t id = 0;
  std::string path;
  uint64_t dev = 0;
  uint64_t ino = 0;
  int fd = -1;
  uint32_t fp_len = 0;
  uint64_t fp = 0;
  uint64_t delivered = 0;  // offset just past the last line handed out
  uint64_t read_off = 0;   // file offset of buf[0]
  std::string buf;         // bytes read from read_off on: buf[pos..] is pending
  size_t pos = 0;
  bool in_long = false;   // skipping the rest of an over-long line
  std::string long_head;  // its first max_line bytes
  bool rotated = false;   // no glob path names this file any more
  SteadyTime rotated_at;
  bool at_eof = false;

  ~File() {
    if (fd >= 0) ::close(fd);
  }
  size_t pending() const { return buf.size() - pos; }
  void Restart() {
    delivered = read_off = 0;
    buf.clear();
    pos = 0;
    in_long = false;
    long_head.clear();
  }
};

LogTailer::LogTailer(std::vector<std::string> patterns, std::vector<FilePosition> saved,
                     Duration rotate_wait, size_t max_line)
    : patterns_(std::move(patterns)),
      saved_(std::move(saved)),
      rotate_wait_(rotate_wait),
      max_line_(max_line) {}

LogTailer::~LogTailer() = default;

LogTailer::File* LogTailer::Open(const std::string& path, bool* known) {
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
      if (known != nullptr) *known = true;
      return f.get();
    }
  }
  auto f = std::make_unique<File>();
  f->id = next_id_++;
  f->path = path;
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  f->fd = fd;
  const std::string head = ReadHead(fd, kFingerprintBytes);
  for (const auto& p : saved_) {
    if (p.dev != f->dev || p.ino != f->ino || p.offset > static_cast<uint64_t>(st.st_size)) {
      continue;
    }
    if (p.fp_len > 0 &&
        (p.fp_len > head.size() || Fnv1a(std::string_view(head).substr(0, p.fp_len)) != p.fp)) {
      log::Info("log file reuses the inode of another; reading it from the start",
                {{"path", path}});
      continue;
    }
    f->delivered = f->read_off = p.offset;
  }
  f->fp_len = static_cast<uint32_t>(head.size());
  f->fp = Fnv1a(head);
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
    CheckFingerprint(*found);
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

void LogTailer::FollowCopy(File& f) {
  if (f.fp_len == 0) return;
  const size_t slash = f.path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : f.path.substr(0, slash);
  const std::string base = slash == std::string::npos ? f.path : f.path.substr(slash + 1);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::string copy;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == base || !name.starts_with(base)) continue;
    const std::string path = dir + "/" + name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_ino == f.ino ||
        static_cast<uint64_t>(st.st_size) < f.delivered) {
      continue;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    const std::string head = ReadHead(fd, f.fp_len);
    ::close(fd);
    if (head.size() == f.fp_len && Fnv1a(head) == f.fp) {
      copy = path;
      break;
    }
  }
  ::closedir(d);
  if (copy.empty()) return;
  bool known = false;
  File* c = Open(copy, &known);
  if (c == nullptr || known) return;
  // The copy holds what was not read before the truncation: finish it first.
  c->delivered = c->read_off = f.delivered;
  c->rotated = true;
  c->rotated_at = std::chrono::steady_clock::now() - rotate_wait_;
  log::Info("log file was copied and truncated; finishing the copy first",
            {{"path", f.path}, {"copy", copy}, {"offset", f.delivered}});
}

void LogTailer::StartOver(File& f) {
  FollowCopy(f);
  f.Restart();
  const std::string head = ReadHead(f.fd, kFingerprintBytes);
  f.fp_len = static_cast<uint32_t>(head.size());
  f.fp = Fnv1a(head);
}

void LogTailer::CheckFingerprint(File& f) {
  const std::string head = ReadHead(f.fd, kFingerprintBytes);
  if (head.size() < f.fp_len || Fnv1a(std::string_view(head).substr(0, f.fp_len)) != f.fp) {
    log::Warn("log file was replaced or rewritten; reading it from the start", {{"path", f.path}});
    StartOver(f);
    return;
  }
  f.fp_len = static_cast<uint32_t>(head.size());
  f.fp = Fnv1a(head);
}

bool LogTailer::ReadFile(File& f, size_t max_lines, size_t max_bytes, size_t& lines, size_t& bytes,
                         const std::function<void(const TailedLine&)>& on_line) {
  if (!f.rotated) {
    struct stat st;
    if (::fstat(f.fd, &st) == 0 && static_cast<uint64_t>(st.st_size) < f.read_off + f.buf.size()) {
      log::Warn("log file was truncated; reading it from the start", {{"path", f.path}});
      StartOver(f);
    } else {
      CheckFingerprint(f);  // truncated and already written past the old size
    }
  }
  // Hands out `text` as the line that started at f.delivered and ends at
  // file offset `end`.
  auto deliver = [&](std::string_view text, bool truncated, uint64_t end) {
    on_line(TailedLine{text, f.id, f.delivered, truncated});
    bytes += end - f.delivered;
    f.delivered = end;
    ++lines;
  };
  while (lines < max_lines && bytes < max_bytes) {
    const char* start = f.buf.data() + f.pos;
    if (const void* nl = std::memchr(start, '\n', f.pending())) {
      const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - start);
      f.pos += len + 1;
      const uint64_t end = f.read_off + f.pos;
      if (f.in_long) {
        f.in_long = false;
        deliver(f.long_head, true, end);
        f.long_head.clear();
      } else {
        deliver(std::string_view(start, std::min(len, max_line_)), len > max_line_, end);
      }
      continue;
    }
    if (!f.in_long && f.pending() >= max_line_) {
      f.in_long = true;
      f.long_head.assign(start, max_line_);
    }
    if (f.in_long) f.pos = f.buf.size();  // the middle of an over-long line is skipped
    if (f.pos > 0) {
      f.buf.erase(0, f.pos);
      f.read_off += f.pos;
      f.pos = 0;
    }
    const size_t old = f.buf.size();
    f.buf.resize(old + kReadChunk);
    ssize_t n;
    do {
      n = ::pread(f.fd, f.buf.data() + old, kReadChunk, static_cast<off_t>(f.read_off + old));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      log::Warn("cannot read log file", {{"path", f.path}, {"error", std::strerror(errno)}});
      f.buf.resize(old);
      return false;
    }
    f.buf.resize(old + static_cast<size_t>(n));
    if (n == 0) {
      const bool waited = std::chrono::steady_clock::now() - f.rotated_at >= rotate_wait_;
      if (f.rotated && waited && (f.pending() > 0 || f.in_long)) {
        const std::string_view rest(f.buf.data() + f.pos, f.pending());
        const uint64_t end = f.read_off + f.buf.size();
        f.pos = f.buf.size();
        if (f.in_long) {
          f.in_long = false;
          deliver(f.long_head, true, end);
          f.long_head.clear();
        } else {
          deliver(rest.substr(0, std::min(rest.size(), max_line_)), rest.size() > max_line_, end);
        }
      }
      f.at_eof = f.pending() == 0 && !f.in_long;
      return false;
    }
    f.at_eof = false;
  }
  return true;
}

size_t LogTailer::ReadLines(size_t max_lines, size_t max_bytes,
                            const std::function<void(std::string_view)>& on_line) {
  return ReadTailedLines(max_lines, max_bytes, [&](const TailedLine& line) { on_line(line.text); });
}

size_t LogTailer::ReadTailedLines(size_t max_lines, size_t max_bytes,
                                  const std::function<void(const TailedLine&)>& on_line) {
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

std::vector<FilePosition> LogTailer::Positions(
    const std::vector<std::pair<uint64_t, uint64_t>>& holds) const {
  std::vector<FilePosition> out;
  out.reserve(files_.size());
  for (const auto& f : files_) {
    uint64_t offset = f->delivered;
    for (const auto& [id, held] : holds) {
      if (id == f->id) offset = std::min(offset, held);
    }
    out.push_back({f->path, f->dev, f->ino, offset, f->fp_len, f->fp});
  }
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
