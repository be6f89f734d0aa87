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

}  // namespace
}  // namespace hive
