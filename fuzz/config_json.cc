// PUT /api/v1/config/{app}/{profile} as application/json: ParseDocument,
// parsed and flattened.
// Invariants: errors are InvalidArgument with a message; accepted documents
// give valid keys and storable values that round-trip through the JSON and
// .properties writers (config_checks.h).
#include <cstddef>
#include <cstdint>

#include "config_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hive::fuzz::CheckDocument(hive::config_store::DocumentFormat::kJson,
                            hive::fuzz::AsText(data, size));
  return 0;
}
