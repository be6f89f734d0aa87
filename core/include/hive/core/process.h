// Process set-up shared by hive's binaries: termination signals handled on
// one thread, and the open-file limit.
#pragma once

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

}  // namespace hive
