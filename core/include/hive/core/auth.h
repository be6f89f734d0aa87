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
// Scopes: a token may name the services it acts for (`services: [payments]`).
// A scoped token registers, heartbeats and deregisters only those services'
// instances, ingests only their events, reads and writes only the config
// applications of the same names (reads also the shared `application`), and
// reports rollout only for them; CheckScope() is the single check. Reads of
// the registry, logs, traces, metrics and the graph stay fleet-wide: a
// service discovers its upstreams and follows a trace across services. An
// unscoped token (no `services:`) acts for every service.
//
// TokenAuthenticator is immutable after construction and thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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
  // The services this token acts for, sorted; null when it is unscoped.
  // Shared, so that a principal copied per request allocates nothing.
  std::shared_ptr<const std::vector<std::string>> services;

  bool scoped() const { return services != nullptr; }
  // Whether the principal may act for `service` (or the config application
  // of that name).
  bool MayActFor(std::string_view service) const;
};

// What a scoped principal acts on: the wording of CheckScope's refusal.
enum class ScopeTarget { kService, kApplication };

// OK when `who` may act for `name`; else PermissionDenied naming the token,
// what it asked for and the services it may act for.
Status CheckScope(const Principal& who, std::string_view name, ScopeTarget target);

class TokenAuthenticator {
 public:
  // Reads a YAML tokens file:
  //   tokens:
  //     - name: ci-deployer
  //       role: operator
  //       token: "…"          # or sha256: "<hex of SHA-256(token)>"
  //       services: [payments] # optional: the services it may act for
  // Errors name the file and the entry.
  static Result<TokenAuthenticator> LoadFile(const std::string& path);
  // The same from the file's text; `origin` names it in errors.
  static Result<TokenAuthenticator> Load(std::string_view yaml, std::string_view origin);

  // Adds a token; InvalidArgument on a duplicate or an empty token, or a
  // service name that breaks the naming rule. Empty `services`: unscoped.
  Status Add(std::string name, Role role, std::string_view token,
             std::vector<std::string> services = {});
  Status AddSha256(std::string name, Role role, std::string_view sha256_hex,
                   std::vector<std::string> services = {});

  // The principal for a presented token, or nullopt when unknown.
  std::optional<Principal> Authenticate(std::string_view token) const;

  size_t size() const { return by_hash_.size(); }

  // Every token's principal, by name: e.g. to warn about unscoped agents.
  std::vector<Principal> Principals() const;

 private:
  std::unordered_map<std::string, Principal> by_hash_;  // SHA-256 (raw) → principal
};

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace hive
