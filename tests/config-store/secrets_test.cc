#include "hive/config_store/secrets.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>

#include "temp_dir.h"

namespace hive::config_store {
namespace {

constexpr std::string_view kHexKey =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr std::string_view kOtherHexKey =
    "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(SecretBoxTest, SealsAndOpensWithTheSameKeyAndContext) {
  auto box = SecretBox::FromKeyText(kHexKey);
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  auto sealed = box->Seal("hunter2", "payments/prod/db.password");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find("hunter2"), std::string::npos);
  auto again = box->Seal("hunter2", "payments/prod/db.password");
  EXPECT_NE(*sealed, *again) << "every seal uses a fresh nonce";
  auto opened = box->Open(*sealed, "payments/prod/db.password");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, "hunter2");
  EXPECT_EQ(*box->Open(*box->Seal("", "c"), "c"), "");
}

TEST(SecretBoxTest, WrongKeyContextOrTamperingFailsClearly) {
  auto box = SecretBox::FromKeyText(kHexKey);
  auto other = SecretBox::FromKeyText(kOtherHexKey);
  ASSERT_TRUE(box.ok() && other.ok());
  std::string sealed = *box->Seal("hunter2", "a/b/k");
  auto wrong_key = other->Open(sealed, "a/b/k");
  EXPECT_EQ(wrong_key.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong_key.status().message().find("another secrets key"), std::string::npos);
  EXPECT_FALSE(box->Open(sealed, "a/b/other").ok());
  sealed[30] = sealed[30] == '0' ? '1' : '0';
  EXPECT_FALSE(box->Open(sealed, "a/b/k").ok());
  EXPECT_FALSE(box->Open("zz", "a/b/k").ok());
}

TEST(SecretBoxTest, KeyTextIsHexOrBase64OfExactly32Bytes) {
  EXPECT_TRUE(SecretBox::FromKeyText("  " + std::string(kHexKey) + "\n").ok());
  EXPECT_TRUE(SecretBox::FromKeyText("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").ok());
  auto short_key = SecretBox::FromKeyText("00112233");
  EXPECT_TRUE(short_key.status().IsInvalidArgument());
  EXPECT_NE(short_key.status().message().find("exactly 32"), std::string::npos);
  EXPECT_TRUE(SecretBox::FromKeyText("not a key!").status().IsInvalidArgument());
  // Both spellings are the same key.
  auto hex = SecretBox::FromKeyText(kHexKey);
  auto b64 = SecretBox::FromKeyText("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  EXPECT_EQ(hex->Digest("x"), b64->Digest("x"));
}

TEST(SecretBoxTest, LoadKeyFileNamesTheFile) {
  hive::testing::TempDir dir;
  const std::string path = dir.path() + "/secrets.key";
  auto missing = SecretBox::LoadKeyFile(path);
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find(path), std::string::npos);
  std::ofstream(path) << "garbage\n";
  ::chmod(path.c_str(), 0600);
  EXPECT_NE(SecretBox::LoadKeyFile(path).status().message().find(path), std::string::npos);
  std::ofstream(path) << kHexKey << "\n";
  EXPECT_TRUE(SecretBox::LoadKeyFile(path).ok());
}

TEST(SecretBoxTest, AKeyFileOthersCanReadIsRefused) {
  hive::testing::TempDir dir;
  const std::string path = dir.path() + "/secrets.key";
  std::ofstream(path) << kHexKey << "\n";
  for (mode_t mode : {0644, 0604, 0660, 0602}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto refused = SecretBox::LoadKeyFile(path);
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_NE(refused.status().message().find("may be read or changed by other users"),
              std::string::npos)
        << refused.status().message();
  }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_NE(SecretBox::LoadKeyFile(path).status().message().find("(mode 0644): chmod 600"),
            std::string::npos);
  for (mode_t mode : {0600, 0640, 0400}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    EXPECT_TRUE(SecretBox::LoadKeyFile(path).ok()) << std::oct << mode;
  }
  // A big file is not a key, and is not read to its end.
  std::ofstream(path) << std::string(1 << 20, 'a');
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_NE(SecretBox::LoadKeyFile(path).status().message().find("is not a key"),
            std::string::npos);
}

}  // namespace
}  // namespace hive::config_store
