// Env: the file operations of the stores behind one seam, as leveldb's Env
// puts the file system behind one, so that a test can make a write, an
// fdatasync or a file's creation fail and watch what the store does.
//
// Each method is the system call of the same name: it returns what the call
// returns and leaves errno as the call does. The base class makes the real
// calls; a test derives from it and overrides the ones it breaks (see
// tests/support/fault_env.h). Production code takes an Env* that defaults to
// &Env::Default().
//
// Thread-safe: the default Env holds no state; a derived one must be as
// thread-safe as the code it is given to (the stores call it from their
// writer, sealer and query threads at once).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "hive/core/status.h"

namespace hive {

class Env {
 public:
  virtual ~Env() = default;

  // The process's file system.
  static Env& Default();

  virtual int Open(const std::string& path, int flags, mode_t mode = 0644);
  virtual int Close(int fd);
  virtual ssize_t Pread(int fd, void* buf, size_t n, off_t offset);
  virtual ssize_t Pwrite(int fd, const void* buf, size_t n, off_t offset);
  virtual ssize_t Pwritev(int fd, const iovec* iov, int count, off_t offset);
  virtual int Fdatasync(int fd);
  virtual int Fsync(int fd);
  virtual int Ftruncate(int fd, off_t length);
  virtual int Unlink(const std::string& path);
};

// Reads exactly `length` bytes at `offset` into *out (resized): Unavailable
// when the read fails, Internal when the file ends first.
Status ReadFully(Env& env, int fd, uint64_t offset, size_t length, std::string* out);

// Writes all of `data` at `offset`, retrying short writes: Unavailable with
// the error when a write fails.
Status WriteFully(Env& env, int fd, uint64_t offset, std::string_view data);

// fsync()s the directory itself, so that files created or removed in it
// survive a crash: Unavailable with the error when it fails.
Status SyncDir(Env& env, const std::string& dir);

// strerror(err) as a string.
std::string ErrnoText(int err);

}  // namespace hive
