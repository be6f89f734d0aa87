// FaultEnv: a hive::Env that makes chosen file operations fail, so a test can
// watch a store meet a full disk or a failing fdatasync (leveldb's
// FaultInjectionTestEnv is the model). Everything not failed goes to the
// real file system. Thread-safe.
#pragma once

#include <cerrno>
#include <map>
#include <mutex>
#include <string>

#include "hive/core/env.h"

namespace hive::testing {

class FaultEnv : public Env {
 public:
  enum class Op { kOpen, kWrite, kFdatasync };  // kWrite: pwrite and pwritev

  // From now on, every `op` on a file whose path contains `path_part` fails
  // with errno `err`, after `skip` more of them succeed.
  void Fail(Op op, std::string path_part, int err = EIO, int skip = 0);
  // No more failures.
  void Heal();
  // How many calls were failed so far.
  int failures() const;

  int Open(const std::string& path, int flags, mode_t mode) override;
  int Close(int fd) override;
  ssize_t Pwrite(int fd, const void* buf, size_t n, off_t offset) override;
  ssize_t Pwritev(int fd, const iovec* iov, int count, off_t offset) override;
  int Fdatasync(int fd) override;

 private:
  struct Rule {
    std::string path_part;
    int err = EIO;
    int skip = 0;
  };
  // Whether this call of `op` on `path` fails (and sets errno).
  bool Trips(Op op, const std::string& path);
  std::string PathOf(int fd);

  mutable std::mutex mu_;
  std::map<Op, Rule> rules_;          // guarded by mu_
  std::map<int, std::string> paths_;  // guarded by mu_: open fds
  int failures_ = 0;                  // guarded by mu_
};

}  // namespace hive::testing
