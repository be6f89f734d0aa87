// Config documents as users push them: JSON, YAML or Java .properties,
// chosen by the request's Content-Type, each parsed and flattened to
// Properties the way Spring Boot does (`db: {pool: {size: 5}}` → db.pool.size,
// lists → key[0]). String values with kSecretPrefix become secrets in every
// format. Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "hive/config_store/properties.h"
#include "hive/core/status.h"

namespace hive::config_store {

enum class DocumentFormat { kJson, kYaml, kProperties };

// A document is named by an application and a profile: InvalidArgument
// unless both are valid names (ValidateName, hive/core/text.h).
Status ValidateDocumentName(std::string_view app, std::string_view profile);

// application/json → kJson; application/yaml, application/x-yaml, text/yaml
// → kYaml; text/x-java-properties, text/plain → kProperties. Parameters
// (`; charset=utf-8`) are ignored; an empty Content-Type means JSON.
// InvalidArgument for anything else, naming the accepted types.
Result<DocumentFormat> FormatForContentType(std::string_view content_type);

// Parses `text` in `format`. Errors (InvalidArgument) give the line and
// column of malformed input, name invalid keys, and reject a top level that
// is not a mapping, more than one YAML document, and duplicate keys.
Result<Properties> ParseDocument(DocumentFormat format, std::string_view text);

// YAML: plain scalars are typed as YAML 1.2's core schema says (null, true,
// false, numbers), quoted ones are strings.
Result<Properties> ParseYamlDocument(std::string_view text);

// java.util.Properties syntax: `key=value`, `key: value` or `key value`;
// `#`/`!` comments; a trailing backslash continues a line; escapes \t \n \r
// \f \uXXXX and \<char>. Every value is a string, as in Spring.
Result<Properties> ParsePropertiesDocument(std::string_view text);

}  // namespace hive::config_store
