// SecretBox: authenticated encryption of config secrets at rest with
// AES-256-GCM (OpenSSL EVP) under one 32-byte key, read from the file given
// to `hived --secrets-key-file` (64 hex digits or base64 of 32 bytes, e.g.
// `openssl rand -hex 32`).
//
// A sealed value is hex(nonce[12] | ciphertext | tag[16]) with a fresh random
// nonce; the caller's `context` (the document and key it belongs to) is bound
// as additional authenticated data, so a sealed value copied elsewhere does
// not open. Immutable after creation; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "hive/core/status.h"

namespace hive::config_store {

class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;

  // `text` is the key as 64 hex digits or base64 (surrounding whitespace is
  // ignored). InvalidArgument when it is not exactly 32 bytes.
  static Result<SecretBox> FromKeyText(std::string_view text);
  // FailedPrecondition naming the file when it cannot be read, holds no
  // valid key, or may be read by others or changed by anyone but its owner
  // (any "other" permission bit, or group write).
  static Result<SecretBox> LoadKeyFile(const std::string& path);

  // Internal only when OpenSSL fails.
  Result<std::string> Seal(std::string_view plaintext, std::string_view context) const;
  // FailedPrecondition when the value was not sealed under this key and
  // context, or was altered.
  Result<std::string> Open(std::string_view sealed, std::string_view context) const;

  // Hex HMAC-SHA256 of `data` under the key: compares secrets (content hash)
  // without storing or showing them, and identifies the key.
  std::string Digest(std::string_view data) const;

 private:
  explicit SecretBox(const std::array<uint8_t, kKeyBytes>& key) : key_(key) {}
  std::array<uint8_t, kKeyBytes> key_;
};

}  // namespace hive::config_store
