#include "hive/core/auth.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "hive/core/text.h"

namespace hive {
namespace {

std::string Sha256Raw(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return Status::InvalidArgument("odd number of hex digits");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("not a hex string");
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

// The sorted, de-duplicated scope; null for none (unscoped).
Result<std::shared_ptr<const std::vector<std::string>>> MakeScope(std::vector<std::string> names,
                                                                  const std::string& token) {
  if (names.empty()) return std::shared_ptr<const std::vector<std::string>>();
  for (const std::string& n : names) {
    HIVE_RETURN_IF_ERROR(ValidateName(n, "service").WithContext("services of '" + token + "'"));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return std::make_shared<const std::vector<std::string>>(std::move(names));
}

// The `services:` of a tokens-file entry; an empty list is a mistake (it
// would allow nothing), so it is refused rather than read as "unscoped".
Result<std::vector<std::string>> ReadServices(const YAML::Node& entry) {
  const YAML::Node list = entry["services"];
  if (!list) return std::vector<std::string>();
  if (!list.IsSequence() || list.size() == 0) {
    return Status::InvalidArgument(
        "'services' must be a non-empty list of service names (leave it out for every service)");
  }
  std::vector<std::string> out;
  for (const YAML::Node& n : list) {
    if (!n.IsScalar()) return Status::InvalidArgument("'services' must list names");
    out.push_back(n.as<std::string>());
  }
  return out;
}

}  // namespace

bool Principal::MayActFor(std::string_view service) const {
  return services == nullptr || std::binary_search(services->begin(), services->end(), service);
}

Status CheckScope(const Principal& who, std::string_view name, ScopeTarget target) {
  if (who.MayActFor(name)) return Status::Ok();
  std::string allowed;
  for (const std::string& s : *who.services) {
    if (!allowed.empty()) allowed += ", ";
    allowed += s;
  }
  const char* what = target == ScopeTarget::kService ? "service" : "application";
  return Status::PermissionDenied("token '" + who.name + "' may not act for " + what + " '" +
                                  std::string(name.substr(0, 80)) +
                                  "'; it is scoped to: " + allowed);
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAgent:
      return "agent";
    case Role::kReader:
      return "reader";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "reader";
}

Result<Role> ParseRole(std::string_view name) {
  if (name == "agent") return Role::kAgent;
  if (name == "reader") return Role::kReader;
  if (name == "operator") return Role::kOperator;
  if (name == "admin") return Role::kAdmin;
  return Status::InvalidArgument("unknown role '" + std::string(name) +
                                 "' (use agent, reader, operator or admin)");
}

bool RoleAllows(Role role, Access access) {
  switch (access) {
    case Access::kPublic:
    case Access::kRead:
      return true;
    case Access::kAgent:
      return role != Role::kReader;
    case Access::kOperate:
      return role == Role::kOperator || role == Role::kAdmin;
    case Access::kAdmin:
      return role == Role::kAdmin;
  }
  return false;
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256Raw(data)); }

Status TokenAuthenticator::Add(std::string name, Role role, std::string_view token,
                               std::vector<std::string> services) {
  if (token.empty()) return Status::InvalidArgument("token for '" + name + "' is empty");
  return AddSha256(std::move(name), role, Sha256Hex(token), std::move(services));
}

Status TokenAuthenticator::AddSha256(std::string name, Role role, std::string_view sha256_hex,
                                     std::vector<std::string> services) {
  auto raw = HexDecode(sha256_hex);
  if (!raw.ok() || raw->size() != 32) {
    return Status::InvalidArgument("sha256 of '" + name + "' is not 64 hex digits");
  }
  auto scope = MakeScope(std::move(services), name);
  if (!scope.ok()) return scope.status();
  Principal p{std::move(name), role, true, std::move(*scope)};
  auto [it, inserted] = by_hash_.emplace(std::move(*raw), p);
  if (!inserted) return Status::InvalidArgument("token of '" + p.name + "' is listed twice");
  return Status::Ok();
}

std::optional<Principal> TokenAuthenticator::Authenticate(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  // Looking up the digest, not the token, keeps lookup time independent of
  // how much of a guessed token matches.
  auto it = by_hash_.find(Sha256Raw(token));
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
}

std::vector<Principal> TokenAuthenticator::Principals() const {
  std::vector<Principal> out;
  out.reserve(by_hash_.size());
  for (const auto& [hash, p] : by_hash_) out.push_back(p);
  std::sort(out.begin(), out.end(),
            [](const Principal& a, const Principal& b) { return a.name < b.name; });
  return out;
}

Result<TokenAuthenticator> TokenAuthenticator::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("tokens file " + path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return Load(text.str(), "tokens file " + path);
}

Result<TokenAuthenticator> TokenAuthenticator::Load(std::string_view yaml,
                                                    std::string_view origin) {
  const std::string from(origin);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(from + ": " + e.what());
  }
  TokenAuthenticator auth;
  YAML::Node tokens = root.IsMap() ? root["tokens"] : YAML::Node();
  if (!tokens || !tokens.IsSequence()) {
    return Status::InvalidArgument(from + ": expected a 'tokens:' list");
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    const YAML::Node& t = tokens[i];
    std::string where = from + ": entry " + std::to_string(i + 1);
    if (!t.IsMap()) return Status::InvalidArgument(where + ": expected a map");
    try {
      std::string name = t["name"] ? t["name"].as<std::string>() : "";
      if (name.empty()) return Status::InvalidArgument(where + ": 'name' is missing");
      where += " (" + name + ")";
      if (!t["role"]) return Status::InvalidArgument(where + ": 'role' is missing");
      auto role = ParseRole(t["role"].as<std::string>());
      if (!role.ok()) return role.status().WithContext(where);
      auto services = ReadServices(t);
      if (!services.ok()) return services.status().WithContext(where);
      Status s;
      if (t["token"])
        s = auth.Add(name, *role, t["token"].as<std::string>(), std::move(*services));
      else if (t["sha256"])
        s = auth.AddSha256(name, *role, t["sha256"].as<std::string>(), std::move(*services));
      else
        return Status::InvalidArgument(where + ": needs 'token' or 'sha256'");
      if (!s.ok()) return s.WithContext(where);
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(where + ": " + e.what());
    }
  }
  if (auth.size() == 0) return Status::InvalidArgument(from + " lists no tokens");
  return auth;
}

}  // namespace hive
