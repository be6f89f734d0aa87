// The options every HTTP client the agent makes to hived starts from
// (internal): registration and heartbeats, log shipping, the config watch
// and its reports, metrics forwarding. One place, so each of them uses the
// token and the TLS files (ca_file, cert_file/key_file) alike.
#pragma once

#include <algorithm>

#include "hive/agent/config.h"
#include "hive/core/http_client.h"

namespace hive::agent {

// Connect within 3 s (or request_timeout when shorter); read and write
// within request_timeout.
inline HttpClientOptions ControlPlaneClientOptions(const AgentConfig& config,
                                                   const AgentOptions& options) {
  HttpClientOptions o;
  o.base_url = config.control_plane;
  o.bearer_token = config.token;
  o.ca_file = config.ca_file;
  o.cert_file = config.cert_file;
  o.key_file = config.key_file;
  o.connect_timeout = std::min<Duration>(options.request_timeout, std::chrono::seconds(3));
  o.read_timeout = options.request_timeout;
  o.write_timeout = options.request_timeout;
  return o;
}

}  // namespace hive::agent
