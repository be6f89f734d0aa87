// Termination signals handled on one thread, shared by hive's binaries.
#pragma once

namespace hive {

// Blocks SIGTERM, SIGINT and SIGHUP (and ignores SIGPIPE) in the calling
// thread and in every thread it starts afterwards. Call first thing in main().
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT (SIGHUP is passed to `on_hup` if set, then
// waiting continues) and returns the signal number.
// REQUIRES: BlockTerminationSignals() was called before any thread started.
int WaitForTerminationSignal(void (*on_hup)() = nullptr);

}  // namespace hive
