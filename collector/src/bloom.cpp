#include "bloom.h"

#include <algorithm>
#include <cstring>

namespace hive::collector {
namespace {

constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
constexpr uint32_t kProbes = 10;      // optimal for ~14.4 bits per key
constexpr uint64_t kBitsPerKey = 15;  // ~0.1 % false positives
constexpr uint64_t kMinWords = 8;

uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

uint64_t StableHash64(std::string_view key) {
  uint64_t h = 0x243F6A8885A308D3ull ^ (key.size() * kMul);
  size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, key.data() + i, 8);  // little-endian hosts only (x86-64, arm64)
    h = Mix(h ^ w) * kMul;
  }
  uint64_t tail = 0;
  for (size_t j = 0; i + j < key.size(); ++j)
    tail |= static_cast<uint64_t>(static_cast<uint8_t>(key[i + j])) << (8 * j);
  return Mix(h ^ tail ^ 0x5bd1e995);
}

BloomFilter BloomFilter::Build(const std::vector<uint64_t>& hashes) {
  BloomFilter f;
  f.probes_ = kProbes;
  uint64_t words = (hashes.size() * kBitsPerKey + 63) / 64;
  f.words_.assign(std::max(words, kMinWords), 0);
  const uint64_t bits = f.words_.size() * 64;
  for (uint64_t h : hashes) {
    // Double hashing: probe i is h1 + i*h2 (Kirsch & Mitzenmacher).
    uint64_t h1 = h, h2 = (h >> 32) | (h << 32) | 1;
    for (uint32_t i = 0; i < f.probes_; ++i) {
      uint64_t bit = (h1 + i * h2) % bits;
      f.words_[bit / 64] |= uint64_t{1} << (bit % 64);
    }
  }
  return f;
}

bool BloomFilter::MayContain(uint64_t h) const {
  if (words_.empty()) return true;
  const uint64_t bits = words_.size() * 64;
  uint64_t h1 = h, h2 = (h >> 32) | (h << 32) | 1;
  for (uint32_t i = 0; i < probes_; ++i) {
    uint64_t bit = (h1 + i * h2) % bits;
    if (!(words_[bit / 64] & (uint64_t{1} << (bit % 64)))) return false;
  }
  return true;
}

std::string BloomFilter::Serialize() const {
  std::string out(1 + words_.size() * 8, '\0');
  out[0] = static_cast<char>(probes_);
  for (size_t w = 0; w < words_.size(); ++w) {
    for (int b = 0; b < 8; ++b) out[1 + w * 8 + b] = static_cast<char>(words_[w] >> (8 * b));
  }
  return out;
}

bool BloomFilter::Parse(std::string_view bytes, BloomFilter* out) {
  if (bytes.size() < 1 + 8 || (bytes.size() - 1) % 8 != 0) return false;
  auto probes = static_cast<uint8_t>(bytes[0]);
  if (probes == 0 || probes > 30) return false;
  out->probes_ = probes;
  out->words_.assign((bytes.size() - 1) / 8, 0);
  for (size_t w = 0; w < out->words_.size(); ++w) {
    uint64_t v = 0;
    for (int b = 0; b < 8; ++b)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[1 + w * 8 + b])) << (8 * b);
    out->words_[w] = v;
  }
  return true;
}

}  // namespace hive::collector
