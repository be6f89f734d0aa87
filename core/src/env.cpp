#include "hive/core/env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hive {

Env& Env::Default() {
  static Env env;
  return env;
}

int Env::Open(const std::string& path, int flags, mode_t mode) {
  return ::open(path.c_str(), flags, mode);
}
int Env::Close(int fd) { return ::close(fd); }
ssize_t Env::Pread(int fd, void* buf, size_t n, off_t offset) {
  return ::pread(fd, buf, n, offset);
}
ssize_t Env::Pwrite(int fd, const void* buf, size_t n, off_t offset) {
  return ::pwrite(fd, buf, n, offset);
}
ssize_t Env::Pwritev(int fd, const iovec* iov, int count, off_t offset) {
  return ::pwritev(fd, iov, count, offset);
}
int Env::Fdatasync(int fd) { return ::fdatasync(fd); }
int Env::Fsync(int fd) { return ::fsync(fd); }
int Env::Ftruncate(int fd, off_t length) { return ::ftruncate(fd, length); }
int Env::Unlink(const std::string& path) { return ::unlink(path.c_str()); }

std::string ErrnoText(int err) { return std::strerror(err); }

Status ReadFully(Env& env, int fd, uint64_t offset, size_t length, std::string* out) {
  out->resize(length);
  size_t done = 0;
  while (done < length) {
    const ssize_t n =
        env.Pread(fd, out->data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable("read failed: " + ErrnoText(errno));
    if (n == 0) return Status::Internal("the file is shorter than its index says");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WriteFully(Env& env, int fd, uint64_t offset, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        env.Pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable("write failed: " + ErrnoText(n < 0 ? errno : EIO));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SyncDir(Env& env, const std::string& dir) {
  const int fd = env.Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable("open " + dir + ": " + ErrnoText(errno));
  const int rc = env.Fsync(fd);
  const int err = errno;
  env.Close(fd);
  if (rc != 0) return Status::Unavailable("fsync " + dir + ": " + ErrnoText(err));
  return Status::Ok();
}

}  // namespace hive
