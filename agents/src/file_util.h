// File helpers shared by the agent's parts (internal): atomic replacement of
// a file and creation of directories. Thread-safe (plain system calls).
#pragma once

#include <string>
#include <string_view>

#include "hive/core/status.h"

namespace hive::agent {

// Creates `dir` and its missing parents (mode 0755).
Status MakeDirs(const std::string& dir);

// Replaces `path` with `content` so that a reader (or a crash) sees the old
// or the new file, never a mix: write a temporary file in the same
// directory, fsync it, rename it over `path`, fsync the directory. An
// existing file keeps its permission bits. Creates a missing directory.
Status WriteFileAtomically(const std::string& path, std::string_view content);

// Appends `content` to `path` (created 0644) and fsyncs it.
Status AppendFileDurably(const std::string& path, std::string_view content);

// Reads the whole file; NotFound when it does not exist.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace hive::agent
