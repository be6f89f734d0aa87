#include "fault_env.h"

namespace hive::testing {

void FaultEnv::Fail(Op op, std::string path_part, int err, int skip) {
  std::lock_guard lock(mu_);
  rules_[op] = Rule{std::move(path_part), err, skip};
}

void FaultEnv::Heal() {
  std::lock_guard lock(mu_);
  rules_.clear();
}

int FaultEnv::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

bool FaultEnv::Trips(Op op, const std::string& path) {
  std::lock_guard lock(mu_);
  auto it = rules_.find(op);
  if (it == rules_.end() || path.find(it->second.path_part) == std::string::npos) return false;
  if (it->second.skip > 0) {
    --it->second.skip;
    return false;
  }
  ++failures_;
  errno = it->second.err;
  return true;
}

std::string FaultEnv::PathOf(int fd) {
  std::lock_guard lock(mu_);
  auto it = paths_.find(fd);
  return it == paths_.end() ? std::string() : it->second;
}

int FaultEnv::Open(const std::string& path, int flags, mode_t mode) {
  if (Trips(Op::kOpen, path)) return -1;
  const int fd = Env::Open(path, flags, mode);
  if (fd >= 0) {
    std::lock_guard lock(mu_);
    paths_[fd] = path;
  }
  return fd;
}

int FaultEnv::Close(int fd) {
  {
    std::lock_guard lock(mu_);
    paths_.erase(fd);
  }
  return Env::Close(fd);
}

ssize_t FaultEnv::Pwrite(int fd, const void* buf, size_t n, off_t offset) {
  if (Trips(Op::kWrite, PathOf(fd))) return -1;
  return Env::Pwrite(fd, buf, n, offset);
}

ssize_t FaultEnv::Pwritev(int fd, const iovec* iov, int count, off_t offset) {
  if (Trips(Op::kWrite, PathOf(fd))) return -1;
  return Env::Pwritev(fd, iov, count, offset);
}

int FaultEnv::Fdatasync(int fd) {
  if (Trips(Op::kFdatasync, PathOf(fd))) return -1;
  return Env::Fdatasync(fd);
}

}  // namespace hive::testing
