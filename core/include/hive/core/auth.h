// Bearer-token authentication with roles.
//
// Roles, each a superset of the one before except agent:
//   agent    – a sidecar: register/heartbeat/deregister, ingest, read config
//              (including its secrets), report rollout status, read anything a
//              reader may.
//   reader   – read registry, config (secrets redacted), logs, traces, graph.
//   operator – reader + config push/rollback/delete, maintenance, deregister.
//   admin    – everything, including reading secrets in clear.
// A route declares the Access it needs; RoleAllows() is the single table.
//
// TokenAuthenticator is immutable after construction and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hive/core/status.h"

namespace hive {

enum class Role { kAgent, kReader, kOperator, kAdmin };

enum class Access {
  kPublic,   // no token needed: /healthz, /readyz, the dashboard's assets
  kRead,     // any role
  kAgent,    // agent, operator, admin: writes sidecars make
  kOperate,  // operator, admin
  kAdmin,    // admin only
};

std::string_view RoleName(Role role);
Result<Role> ParseRole(std::string_view name);
bool RoleAllows(Role role, Access access);

// Who made a request. Without a tokens file every caller is the anonymous
// admin, which hived only allows on a loopback bind (or with --insecure).
struct Principal {
  std::string name = "anonymous";
  Role role = Role::kAdmin;
  bool authenticated = false;
};

class TokenAuthenticator {
 public:
  // Reads a YAML tokens file:
  //   tokens:
  //     - name: ci-deployer
  //       role: operator
  //       token: "…"          # or sha256: "<hex of SHA-256(token)>"
  // Errors name the file and the entry.
  static Result<TokenAuthenticator> LoadFile(const std::string& path);

  // Adds a token; InvalidArgument on a duplicate or an empty token.
  Status Add(std::string name, Role role, std::string_view token);
  Status AddSha256(std::string name, Role role, std::string_view sha256_hex);

  // The principal for a presented token, or nullopt when unknown.
  std::optional<Principal> Authenticate(std::string_view token) const;

  size_t size() const { return by_hash_.size(); }

 private:
  std::unordered_map<std::string, Principal> by_hash_;  // SHA-256 (raw) → principal
};

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace hive
