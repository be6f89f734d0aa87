#include "hive/core/auth.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

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

}  // namespace

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

Status TokenAuthenticator::Add(std::string name, Role role, std::string_view token) {
  if (token.empty()) return Status::InvalidArgument("token for '" + name + "' is empty");
  return AddSha256(std::move(name), role, Sha256Hex(token));
}

Status TokenAuthenticator::AddSha256(std::string name, Role role, std::string_view sha256_hex) {
  auto raw = HexDecode(sha256_hex);
  if (!raw.ok() || raw->size() != 32) {
    return Status::InvalidArgument("sha256 of '" + name + "' is not 64 hex digits");
  }
  Principal p{std::move(name), role, true};
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

Result<TokenAuthenticator> TokenAuthenticator::LoadFile(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::InvalidArgument("tokens file " + path + ": cannot be read");
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("tokens file " + path + ": " + e.what());
  }
  TokenAuthenticator auth;
  YAML::Node tokens = root["tokens"];
  if (!tokens || !tokens.IsSequence()) {
    return Status::InvalidArgument("tokens file " + path + ": expected a 'tokens:' list");
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    const YAML::Node& t = tokens[i];
    std::string where = "tokens file " + path + ": entry " + std::to_string(i + 1);
    if (!t.IsMap()) return Status::InvalidArgument(where + ": expected a map");
    try {
      std::string name = t["name"] ? t["name"].as<std::string>() : "";
      if (name.empty()) return Status::InvalidArgument(where + ": 'name' is missing");
      if (!t["role"]) return Status::InvalidArgument(where + " (" + name + "): 'role' is missing");
      auto role = ParseRole(t["role"].as<std::string>());
      if (!role.ok()) return role.status().WithContext(where + " (" + name + ")");
      Status s;
      if (t["token"])
        s = auth.Add(name, *role, t["token"].as<std::string>());
      else if (t["sha256"])
        s = auth.AddSha256(name, *role, t["sha256"].as<std::string>());
      else
        return Status::InvalidArgument(where + " (" + name + "): needs 'token' or 'sha256'");
      if (!s.ok()) return s.WithContext(where);
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(where + ": " + e.what());
    }
  }
  if (auth.size() == 0) return Status::InvalidArgument("tokens file " + path + " lists no tokens");
  return auth;
}

}  // namespace hive
