// Process set-up shared by hive's binaries: termination signals handled on
// one thread, the open-file limit, and how memory is allocated.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hive {

// Blocks SIGTERM, SIGINT and SIGHUP (and ignores SIGPIPE) in the calling
// thread and in every thread it starts afterwards. Call first thing in main().
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT (SIGHUP is passed to `on_hup` if set, then
// waiting continues) and returns the signal number.
// REQUIRES: BlockTerminationSignals() was called before any thread started.
int WaitForTerminationSignal(void (*on_hup)() = nullptr);

// Raises the soft limit on open files to the hard limit (a server holds one
// per connection) and returns the limit then in force.
uint64_t RaiseOpenFileLimit();

// Sets glibc's allocator for a process that makes and drops buffers of up to
// `keep_bytes` many times a second (request bodies, batches): at most
// `arenas` arenas, and such buffers served from the arenas, whose free
// memory (up to `keep_bytes` at the top of each) is kept for the next one.
// glibc's defaults give large blocks back to the kernel when they are freed
// and fault them in again for the next request, which cost hived about half
// of its CPU when ingesting logs (docs/BENCHMARKS.md, "Agent"). Does nothing
// when GLIBC_TUNABLES sets the allocator (an operator's choice wins). Call
// first thing in main(), before any thread starts.
void KeepLargeBuffers(int arenas, size_t keep_bytes);

}  // namespace hive
