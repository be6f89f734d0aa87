// The machine's floor for the watch benchmark: the least any HTTP server
// could spend answering the same watchers with the same bytes on this
// machine, measured with the same client.
//
// A one-thread epoll server speaking just enough of the registry's API for
// the watch run: GET /api/v1/services/watched answers at once;
// GET ...?index=N parks the connection while N is the current index; a PUT
// to /api/v1/services/watched/instances/{id} moves the index, answers the
// PUT, then writes the new answer to every parked connection in one pass,
// before it reads anything else; GET /metrics says how many are parked
// (hive_registry_blocked_watchers, as hived does). Answers carry the headers
// hived sends and a body of `body_bytes`. Nothing is stored, parsed beyond
// the request line and Content-Length, or allocated per answer: what is left
// is the kernel's loopback TCP and the scheduler, which every server pays.
#pragma once

namespace hive::bench {

// Serves on 127.0.0.1:`port` until killed; returns 1 if it cannot listen.
int RunLoopbackFloor(int port, int body_bytes);

}  // namespace hive::bench
