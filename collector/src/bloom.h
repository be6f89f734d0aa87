// BloomFilter: the per-block filter of the log store, answering "may this
// block hold an event with trace id / service / instance X?". Its bytes are
// stored in the catalog, so the hash is fixed here and must never change.
// Internal to hive_collector. A filter is immutable once built; const methods
// are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hive::collector {

// A stable 64-bit hash of `key` (not cryptographic).
uint64_t StableHash64(std::string_view key);

class BloomFilter {
 public:
  BloomFilter() = default;
  // Sized for `hashes` distinct 64-bit key hashes at about 0.1 % false positives.
  static BloomFilter Build(const std::vector<uint64_t>& hashes);
  // The filter from Serialize(); false when `bytes` is malformed.
  static bool Parse(std::string_view bytes, BloomFilter* out);

  bool MayContain(uint64_t hash) const;
  std::string Serialize() const;
  size_t MemoryBytes() const { return words_.size() * sizeof(uint64_t); }

 private:
  uint32_t probes_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace hive::collector
