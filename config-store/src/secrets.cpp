#include "hive/config_store/secrets.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <memory>
#include <vector>

#include "hive/core/text.h"

namespace hive::config_store {
namespace {

// A key is 64 hex digits or 44 base64 characters; a bigger file is not one.
constexpr size_t kMaxKeyFileBytes = 4096;

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

bool HexDecode(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
  }
  return true;
}

bool Base64Decode(std::string_view text, std::string& out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  std::vector<unsigned char> buf(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return false;
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --len;
  out.assign(reinterpret_cast<const char*>(buf.data()), len);
  return true;
}

}  // namespace

Result<SecretBox> SecretBox::FromKeyText(std::string_view text) {
  text = Trim(text);
  std::string raw;
  if (!HexDecode(text, raw) && !Base64Decode(text, raw)) {
    return Status::InvalidArgument("the secrets key must be 64 hex digits or base64 of 32 bytes");
  }
  if (raw.size() != kKeyBytes) {
    return Status::InvalidArgument("the secrets key is " + std::to_string(raw.size()) +
                                   " bytes; AES-256 needs exactly 32 (try `openssl rand -hex 32`)");
  }
  std::array<uint8_t, kKeyBytes> key{};
  std::copy(raw.begin(), raw.end(), key.begin());
  return SecretBox(key);
}

Result<SecretBox> SecretBox::LoadKeyFile(const std::string& path) {
  const Status unreadable = Status::FailedPrecondition("cannot read secrets key file '" + path + "'");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unreadable;
  std::unique_ptr<const int, void (*)(const int*)> closer(&fd, [](const int* f) { ::close(*f); });
  struct stat st {};
  if (::fstat(fd, &st) != 0) return unreadable;
  // Group read stays allowed (root:hive 0640 for a service user); others may
  // not read the key, and only its owner may replace it.
  if ((st.st_mode & (S_IRWXO | S_IWGRP)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::FailedPrecondition("secrets key file '" + path +
                                      "' may be read or changed by other users (mode " + mode +
                                      "): chmod 600 it (640 to share it with a group)");
  }
  std::string content;
  std::array<char, 512> chunk{};
  ssize_t n;
  while ((n = ::read(fd, chunk.data(), chunk.size())) > 0) {
    content.append(chunk.data(), static_cast<size_t>(n));
    if (content.size() > kMaxKeyFileBytes) {
      return Status::FailedPrecondition("secrets key file '" + path + "' is not a key: over " +
                                        std::to_string(kMaxKeyFileBytes) + " bytes");
    }
  }
  if (n < 0) return unreadable;
  auto box = FromKeyText(content);
  if (!box.ok()) {
    return Status::FailedPrecondition("secrets key file '" + path + "': " + box.status().message());
  }
  return box;
}

Result<std::string> SecretBox::Seal(std::string_view plaintext, std::string_view context) const {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(bytes, kNonceBytes) != 1) return Status::Internal("RAND_bytes failed");
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), bytes) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes + kNonceBytes, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          bytes + kNonceBytes + plaintext.size()) != 1) {
    return Status::Internal("AES-256-GCM encryption failed");
  }
  return HexEncode(out);
}

Result<std::string> SecretBox::Open(std::string_view sealed, std::string_view context) const {
  const Status wrong = Status::FailedPrecondition(
      "cannot decrypt a secret: it was encrypted under another secrets key or was altered");
  std::string raw;
  if (!HexDecode(sealed, raw) || raw.size() < kNonceBytes + kTagBytes) return wrong;
  const size_t text_len = raw.size() - kNonceBytes - kTagBytes;
  auto* bytes = reinterpret_cast<unsigned char*>(raw.data());
  std::string out(text_len, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), bytes) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        bytes + kNonceBytes, static_cast<int>(text_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                          bytes + kNonceBytes + text_len) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) !=
          1) {
    return wrong;
  }
  return out;
}

std::string SecretBox::Digest(std::string_view data) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &mac_len);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

}  // namespace hive::config_store
