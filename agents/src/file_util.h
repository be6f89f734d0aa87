// File helpers shared by the agent's parts (internal): atomic replacement of
// a file and creation of directories. Thread-safe (plain system calls).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "hive/core/status.h"

namespace hive::agent {

// Creates `dir` with `mode` (less the umask) and its missing parents with
// 0755. An existing directory is left as it is.
Status MakeDirs(const std::string& dir, mode_t mode = 0755);

// Replaces `path` with `content` so that a reader (or a crash) sees the old
// or the new file, never a mix: write a temporary file in the same
// directory, fsync it, rename it over `path`, fsync the directory. The file
// gets exactly `mode` (not narrowed by the umask), set on the temporary file
// before any byte is written: its content is never readable more widely.
// Creates a missing directory (0755).
Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode = 0600);

// Appends `content` to `path` (created 0600) and fsyncs it.
Status AppendFileDurably(const std::string& path, std::string_view content);

// Reads the whole file; NotFound when it does not exist.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace hive::agent
