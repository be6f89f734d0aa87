#include "file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hive::agent {
namespace {

Status Errno(std::string_view what, const std::string& path) {
  const int e = errno;
  std::string msg = std::string(what) + " '" + path + "': " + std::strerror(e);
  if (e == ENOENT) return Status::NotFound(std::move(msg));
  return Status::Unavailable(std::move(msg));
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Status MakeDirs(const std::string& dir, mode_t mode) {
  if (dir.empty()) return Status::Ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::FailedPrecondition("'" + dir + "' exists and is not a directory");
  }
  const std::string parent = DirName(dir);
  if (parent != dir) HIVE_RETURN_IF_ERROR(MakeDirs(parent));
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Errno("cannot create directory", dir);
  }
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  const std::string dir = DirName(path);
  HIVE_RETURN_IF_ERROR(MakeDirs(dir));
  const std::string base =
      path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  const std::string tmp = dir + "/." + base + ".tmp." + std::to_string(::getpid());
  // A temporary file left by a crash would keep its old mode through
  // O_TRUNC, and a link planted there would be followed: start afresh, owner
  // only, then give it `mode` before the content goes in.
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", tmp);
  Status s;
  if (::fchmod(fd, mode) != 0) s = Errno("cannot chmod", tmp);
  if (s.ok()) s = WriteAll(fd, content, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = Errno("cannot fsync", tmp);
  if (::close(fd) != 0 && s.ok()) s = Errno("cannot close", tmp);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = Errno("cannot rename onto", path);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Status AppendFileDurably(const std::string& path, std::string_view content) {
  HIVE_RETURN_IF_ERROR(MakeDirs(DirName(path)));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot open", path);
  Status s = WriteAll(fd, content, path);
  if (s.ok() && ::fsync(fd) != 0) s = Errno("cannot fsync", path);
  ::close(fd);
  return s;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("cannot read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace hive::agent
