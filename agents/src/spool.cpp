#include "hive/agent/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "file_util.h"
#include "hive/core/log.h"

namespace hive::agent {
namespace {

// Record layout: "HSP1", header length, body length, CRC-32 of header and
// body (little-endian u32 each), the JSON header, the NDJSON body.
constexpr char kMagic[4] = {'H', 'S', 'P', '1'};
constexpr size_t kPrefix = 16;

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint32_t Crc(std::string_view a, std::string_view b) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  crc = ::crc32(crc, reinterpret_cast<const Bytef*>(a.data()), static_cast<uInt>(a.size()));
  crc = ::crc32(crc, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(b.size()));
  return static_cast<uint32_t>(crc);
}

Status Errno(std::string_view what, const std::string& path) {
  return Status::Unavailable(std::string(what) + " '" + path + "': " + std::strerror(errno));
}

}  // namespace

Spool::Spool(std::string dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}

std::string Spool::PathOf(uint64_t seq) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.rec", static_cast<unsigned long long>(seq));
  return dir_ + "/" + name;
}

Status Spool::Open() {
  HIVE_RETURN_IF_ERROR(MakeDirs(dir_, 0700));  // batches of log lines: the agent's only
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return Errno("cannot list", dir_);
  std::vector<uint64_t> seqs;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.ends_with(".tmp")) {
      ::unlink((dir_ + "/" + name).c_str());  // never renamed: not stored
      continue;
    }
    if (!name.ends_with(".rec")) continue;
    seqs.push_back(std::strtoull(name.c_str(), nullptr, 10));
  }
  ::closedir(d);
  std::sort(seqs.begin(), seqs.end());
  std::lock_guard lock(mu_);
  for (uint64_t seq : seqs) {
    auto r = Read(seq);
    if (!r.ok()) {
      log::Error("skipping a damaged spool record", {{"error", r.status().ToString()}});
      ::unlink(PathOf(seq).c_str());
      ++corrupt_;
      continue;
    }
    const uint64_t size = kPrefix + r->body.size() + 256;
    entries_[seq] = {size, r->from_files, r->lines};
    bytes_ += size;
    if (r->from_files) recovered_positions_ = std::move(r->positions);
    next_seq_ = seq + 1;
  }
  if (!entries_.empty()) {
    log::Info("spool holds batches from before; shipping them first",
              {{"records", entries_.size()}, {"bytes", bytes_}});
  }
  return Status::Ok();
}

Result<SpoolRecord> Spool::Read(uint64_t seq) const {
  const std::string path = PathOf(seq);
  auto data = ReadWholeFile(path);
  if (!data.ok()) return data.status();
  const std::string& d = *data;
  if (d.size() < kPrefix || std::memcmp(d.data(), kMagic, 4) != 0) {
    return Status::InvalidArgument("'" + path + "' is not a spool record");
  }
  const uint32_t header_len = GetU32(d.data() + 4);
  const uint32_t body_len = GetU32(d.data() + 8);
  if (d.size() != kPrefix + static_cast<size_t>(header_len) + body_len) {
    return Status::InvalidArgument("'" + path + "' is torn (length mismatch)");
  }
  const std::string_view header(d.data() + kPrefix, header_len);
  const std::string_view body(d.data() + kPrefix + header_len, body_len);
  if (Crc(header, body) != GetU32(d.data() + 12)) {
    return Status::InvalidArgument("'" + path + "' fails its checksum");
  }
  auto h = nlohmann::json::parse(header, nullptr, false);
  if (!h.is_object() || !h.contains("id") || !h["id"].is_string()) {
    return Status::InvalidArgument("'" + path + "' has a bad header");
  }
  SpoolRecord r;
  r.seq = seq;
  r.batch_id = h["id"].get<std::string>();
  r.from_files = h.value("files", false);
  r.lines = h.value("lines", static_cast<uint64_t>(0));
  if (r.from_files && h.contains("positions")) {
    auto p = PositionsFromJson(
        h["positions"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (!p.ok()) return Status::InvalidArgument("'" + path + "' has bad positions");
    r.positions = std::move(*p);
  }
  r.body.assign(body);
  return r;
}

Status Spool::Append(SpoolRecord& record) {
  std::string header = "{\"id\":";
  header += nlohmann::json(record.batch_id)
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  header += ",\"files\":";
  header += record.from_files ? "true" : "false";
  header += ",\"lines\":" + std::to_string(record.lines);
  if (record.from_files) header += ",\"positions\":" + PositionsToJson(record.positions);
  header += '}';
  const uint64_t size = kPrefix + record.body.size() + 256;  // + a block's worth of file overhead
  uint64_t seq;
  {
    std::lock_guard lock(mu_);
    if (!entries_.empty() && bytes_ + size > max_bytes_) {
      return Status::ResourceExhausted("the spool is full (" + std::to_string(bytes_) + " of " +
                                       std::to_string(max_bytes_) + " bytes)");
    }
    seq = next_seq_++;
    // Counted now so concurrent appends cannot overshoot together.
    entries_[seq] = {size, record.from_files, record.lines};
    bytes_ += size;
  }
  std::string prefix(kMagic, 4);
  PutU32(prefix, static_cast<uint32_t>(header.size()));
  PutU32(prefix, static_cast<uint32_t>(record.body.size()));
  PutU32(prefix, Crc(header, record.body));
  const std::string path = PathOf(seq);
  const std::string tmp = path + ".tmp";
  Status s;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    s = Errno("cannot create", tmp);
  } else {
    for (std::string_view part :
         {std::string_view(prefix), std::string_view(header), std::string_view(record.body)}) {
      while (s.ok() && !part.empty()) {
        const ssize_t n = ::write(fd, part.data(), part.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          s = Errno("cannot write", tmp);
          break;
        }
        part.remove_prefix(static_cast<size_t>(n));
      }
    }
    if (s.ok() && ::fdatasync(fd) != 0) s = Errno("cannot sync", tmp);
    ::close(fd);
    if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = Errno("cannot rename", tmp);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    std::lock_guard lock(mu_);
    RemoveLocked(seq);
    return s;
  }
  record.seq = seq;
  return Status::Ok();
}

std::optional<SpoolRecord> Spool::Oldest() {
  while (true) {
    uint64_t seq;
    {
      std::lock_guard lock(mu_);
      if (entries_.empty()) return std::nullopt;
      seq = entries_.begin()->first;
    }
    auto r = Read(seq);
    if (r.ok()) {
      std::lock_guard lock(mu_);
      if (!entries_.contains(seq)) continue;  // dropped meanwhile
      in_flight_ = seq;
      return std::move(*r);
    }
    if (r.status().IsNotFound()) {
      // Still being written by a concurrent Append: nothing older is ready.
      std::lock_guard lock(mu_);
      if (entries_.contains(seq)) return std::nullopt;
      continue;
    }
    log::Error("skipping a damaged spool record", {{"error", r.status().ToString()}});
    std::lock_guard lock(mu_);
    ++corrupt_;
    ::unlink(PathOf(seq).c_str());
    RemoveLocked(seq);
  }
}

void Spool::RemoveLocked(uint64_t seq) {
  if (seq == in_flight_) in_flight_ = 0;
  auto it = entries_.find(seq);
  if (it == entries_.end()) return;
  bytes_ -= it->second.size;
  entries_.erase(it);
}

Status Spool::Remove(uint64_t seq) {
  const std::string path = PathOf(seq);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", path);
  std::lock_guard lock(mu_);
  RemoveLocked(seq);
  return Status::Ok();
}

uint64_t Spool::DropOldestStreamRecords(uint64_t bytes) {
  std::lock_guard lock(mu_);
  uint64_t dropped = 0;
  for (auto it = entries_.begin(); it != entries_.end() && bytes_ + bytes > max_bytes_;) {
    if (it->second.from_files || it->first == in_flight_) {
      ++it;
      continue;
    }
    ::unlink(PathOf(it->first).c_str());
    dropped += it->second.lines;
    bytes_ -= it->second.size;
    it = entries_.erase(it);
  }
  return dropped;
}

bool Spool::HasRoom(uint64_t bytes) const {
  std::lock_guard lock(mu_);
  return entries_.empty() || bytes_ + kPrefix + bytes + 256 <= max_bytes_;
}

uint64_t Spool::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t Spool::records() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

uint64_t Spool::corrupt_records() const {
  std::lock_guard lock(mu_);
  return corrupt_;
}

}  // namespace hive::agent
