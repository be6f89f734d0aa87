// The tokens file and the scope check of every request: the first line of
// the input is a presented token and a service name, the rest a tokens file.
// Invariants: loading never crashes and explains a refusal; a loaded scope is
// sorted, unique and valid names; a principal may act for exactly the
// services it lists (all of them when unscoped), and a refusal names the
// token and the service.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "hive/core/auth.h"
#include "hive/core/text.h"

namespace {

void CheckPrincipal(const hive::Principal& p, std::string_view service) {
  FUZZ_CHECK(p.authenticated);
  const bool listed = p.scoped() && std::find(p.services->begin(), p.services->end(), service) !=
                                        p.services->end();
  FUZZ_CHECK(p.MayActFor(service) == (!p.scoped() || listed));
  hive::Status s = hive::CheckScope(p, service, hive::ScopeTarget::kService);
  FUZZ_CHECK(s.ok() == p.MayActFor(service));
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == hive::StatusCode::kPermissionDenied);
    FUZZ_CHECK(s.message().find("token '" + p.name + "'") != std::string::npos);
  }
  if (!p.scoped()) return;
  FUZZ_CHECK(!p.services->empty());
  FUZZ_CHECK(std::is_sorted(p.services->begin(), p.services->end()));
  FUZZ_CHECK(std::adjacent_find(p.services->begin(), p.services->end()) == p.services->end());
  for (const std::string& name : *p.services) {
    FUZZ_CHECK(hive::ValidateName(name, "service").ok());
    FUZZ_CHECK(p.MayActFor(name));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hive::fuzz::AsText(data, size);
  const size_t eol = std::min(text.find('\n'), text.size());
  const std::string_view first = text.substr(0, eol);
  const size_t space = std::min(first.find(' '), first.size());
  const std::string_view token = first.substr(0, space);
  const std::string_view service = first.substr(std::min(space + 1, first.size()));
  const std::string_view yaml = text.substr(std::min(eol + 1, text.size()));

  auto auth = hive::TokenAuthenticator::Load(yaml, "fuzz tokens");
  if (!auth.ok()) {
    FUZZ_CHECK(auth.status().message().starts_with("fuzz tokens"));
    return 0;
  }
  const std::vector<hive::Principal> all = auth->Principals();
  FUZZ_CHECK(all.size() == auth->size() && !all.empty());
  for (const hive::Principal& p : all) CheckPrincipal(p, service);
  if (auto who = auth->Authenticate(token)) {
    FUZZ_CHECK(std::any_of(all.begin(), all.end(),
                           [&](const hive::Principal& p) { return p.name == who->name; }));
    CheckPrincipal(*who, service);
  }
  return 0;
}
