// hivectl: the command-line client of hived. RunHivectl parses a command line
// (CLI11), talks to hived over HTTP (hive::HttpClient) and prints human tables
// or the server's JSON. The executable's main() only forwards to it, so tests
// run the whole command in-process against a fake hived on loopback.
//
// Exit codes (also in `hivectl --help`):
//   0  ok
//   1  hived answered with an error (its message is printed to `err`)
//   2  usage error: bad flags, bad names, unreadable or malformed input
//   3  hived could not be reached (or its TLS certificate not verified)
//
// RunHivectl is reentrant: it keeps no global state, so several calls may run
// on different threads with their own streams and environments.
#pragma once

#include <map>
#include <ostream>
#include <string>

#include "hive/core/clock.h"

namespace hive::ctl {

enum ExitCode : int {
  kExitOk = 0,
  kExitServerError = 1,
  kExitUsage = 2,
  kExitUnreachable = 3,
};

// What hivectl reads from outside its command line.
struct CtlEnvironment {
  // Environment variables; hivectl reads HIVE_ADDR, HIVE_TOKEN, HIVE_CA_FILE,
  // HIVE_CERT_FILE and HIVE_KEY_FILE.
  std::map<std::string, std::string> vars;
  // "Now" for `--since 10m` and "3s ago". Not owned; must outlive the call.
  const Clock* clock = &Clock::System();
};

// The process's real environment.
CtlEnvironment ProcessEnvironment();

// Runs one hivectl command line (argv[0] is the program name). Normal output
// goes to `out`, errors and CLI11's usage messages to `err`. Returns an
// ExitCode. Never throws.
int RunHivectl(int argc, const char* const* argv, const CtlEnvironment& env, std::ostream& out,
               std::ostream& err);

}  // namespace hive::ctl
