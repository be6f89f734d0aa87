#include "hive/core/auth.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace hive {
namespace {

std::string WriteTemp(const std::string& name, const std::string& content) {
  auto path = std::filesystem::path(::testing::TempDir()) / name;
  std::ofstream(path) << content;
  return path.string();
}

TEST(RoleTest, TableOfAccess) {
  EXPECT_TRUE(RoleAllows(Role::kReader, Access::kRead));
  EXPECT_FALSE(RoleAllows(Role::kReader, Access::kAgent));
  EXPECT_TRUE(RoleAllows(Role::kAgent, Access::kAgent));
  EXPECT_FALSE(RoleAllows(Role::kAgent, Access::kOperate));
  EXPECT_TRUE(RoleAllows(Role::kOperator, Access::kOperate));
  EXPECT_FALSE(RoleAllows(Role::kOperator, Access::kAdmin));
  EXPECT_TRUE(RoleAllows(Role::kAdmin, Access::kAdmin));
}

TEST(TokenAuthenticatorTest, LoadsPlainAndHashedTokens) {
  std::string path = WriteTemp("tokens.yaml", R"(
tokens:
  - {name: ci, role: operator, token: "op-secret"}
  - name: viewer
    role: reader
    sha256: ")" + Sha256Hex("read-secret") + R"("
)");
  auto auth = TokenAuthenticator::LoadFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  EXPECT_EQ(auth->size(), 2u);
  auto p = auth->Authenticate("op-secret");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->name, "ci");
  EXPECT_EQ(p->role, Role::kOperator);
  EXPECT_TRUE(p->authenticated);
  EXPECT_EQ(auth->Authenticate("read-secret")->role, Role::kReader);
  EXPECT_FALSE(auth->Authenticate("guess").has_value());
  EXPECT_FALSE(auth->Authenticate("").has_value());
}

TEST(TokenAuthenticatorTest, ClearErrors) {
  EXPECT_TRUE(
      TokenAuthenticator::LoadFile("/nonexistent/tokens.yaml").status().IsInvalidArgument());
  auto bad_role = TokenAuthenticator::LoadFile(
      WriteTemp("bad_role.yaml", "tokens:\n  - {name: x, role: king, token: t}\n"));
  EXPECT_NE(bad_role.status().message().find("unknown role 'king'"), std::string::npos)
      << bad_role.status().message();
  auto dup = TokenAuthenticator::LoadFile(WriteTemp(
      "dup.yaml",
      "tokens:\n  - {name: a, role: admin, token: t}\n  - {name: b, role: admin, token: t}\n"));
  EXPECT_FALSE(dup.ok());
  EXPECT_FALSE(TokenAuthenticator::LoadFile(WriteTemp("garbage.yaml", "tokens: [\n")).ok());
  EXPECT_FALSE(TokenAuthenticator::LoadFile(WriteTemp("empty.yaml", "tokens: []\n")).ok());
}

TEST(TokenScopeTest, AScopedTokenActsOnlyForItsServices) {
  auto auth = TokenAuthenticator::Load(
      "tokens:\n"
      "  - {name: payments-agent, role: agent, token: p, services: [payments, ledger, payments]}\n"
      "  - {name: fleet-agent, role: agent, token: f}\n",
      "test tokens");
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  std::optional<Principal> scoped = auth->Authenticate("p");
  ASSERT_TRUE(scoped.has_value());
  ASSERT_TRUE(scoped->scoped());
  EXPECT_EQ(*scoped->services, (std::vector<std::string>{"ledger", "payments"}));
  EXPECT_TRUE(scoped->MayActFor("payments"));
  EXPECT_TRUE(scoped->MayActFor("ledger"));
  EXPECT_FALSE(scoped->MayActFor("orders"));
  EXPECT_FALSE(scoped->MayActFor("payment"));
  EXPECT_TRUE(CheckScope(*scoped, "ledger", ScopeTarget::kService).ok());
  Status refused = CheckScope(*scoped, "orders", ScopeTarget::kApplication);
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(refused.message(),
            "token 'payments-agent' may not act for application 'orders'; it is scoped to: "
            "ledger, payments");

  std::optional<Principal> fleet = auth->Authenticate("f");
  ASSERT_TRUE(fleet.has_value());
  EXPECT_FALSE(fleet->scoped());
  EXPECT_TRUE(fleet->MayActFor("orders"));
  EXPECT_TRUE(Principal{}.MayActFor("anything"));  // the anonymous admin

  std::vector<Principal> all = auth->Principals();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "fleet-agent");
  EXPECT_EQ(all[1].name, "payments-agent");
}

TEST(TokenScopeTest, BadScopesAreRefusedAtLoad) {
  auto empty = TokenAuthenticator::Load(
      "tokens:\n  - {name: a, role: agent, token: t, services: []}\n", "tokens.yaml");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("entry 1 (a)"), std::string::npos)
      << empty.status().message();
  EXPECT_NE(empty.status().message().find("non-empty list"), std::string::npos);
  auto bad_name = TokenAuthenticator::Load(
      "tokens:\n  - {name: a, role: agent, token: t, services: [Payments]}\n", "tokens.yaml");
  ASSERT_FALSE(bad_name.ok());
  EXPECT_NE(bad_name.status().message().find("invalid service name 'Payments'"),
            std::string::npos)
      << bad_name.status().message();
  EXPECT_FALSE(TokenAuthenticator::Load(
                   "tokens:\n  - {name: a, role: agent, token: t, services: payments}\n", "t")
                   .ok());
  EXPECT_FALSE(TokenAuthenticator::Load(
                   "tokens:\n  - {name: a, role: agent, token: t, services: [[x]]}\n", "t")
                   .ok());
  EXPECT_FALSE(TokenAuthenticator::Load("- just a list\n", "t").ok());
}

}  // namespace
}  // namespace hive
