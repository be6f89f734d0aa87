// Certificates for TLS tests, made at test time with the `openssl` command
// (Debian package openssl): a CA, a server certificate for 127.0.0.1 and
// localhost, a client certificate, and the same from a second CA that has
// nothing to do with the first. All files are PEM; keys are unencrypted
// ECDSA P-256. Not thread-safe; call from the test's thread.
#pragma once

#include <optional>
#include <string>

namespace hive::testing {

struct TlsCerts {
  std::string ca;           // the CA certificate
  std::string server_cert;  // signed by `ca`: DNS:localhost, IP:127.0.0.1
  std::string server_key;
  std::string client_cert;  // signed by `ca`, for client authentication
  std::string client_key;
  std::string wrong_host_cert;  // signed by `ca`, but only for elsewhere.example
  std::string wrong_host_key;
  std::string other_ca;           // an unrelated CA
  std::string other_client_cert;  // signed by `other_ca`, for client authentication
  std::string other_client_key;
};

// Makes the certificates as files in `dir` (which must exist). On failure
// adds a test failure with openssl's output and returns nullopt.
std::optional<TlsCerts> MakeTlsCerts(const std::string& dir);

}  // namespace hive::testing
