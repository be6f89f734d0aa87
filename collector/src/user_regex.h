// Regular expressions that API users write (a log search's re=, a metrics
// label matcher), compiled with RE2: matching takes time linear in the text,
// there are no backreferences, and memory is bounded.
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string_view>

#include "hive/core/status.h"

namespace hive::collector {

// The largest program (RE2::ProgramSize) a user's pattern may compile to.
// When a pattern defeats RE2's DFA, matching costs up to this much per byte
// of text; 500 alternatives of 20 characters compile to about 2,500.
inline constexpr int kMaxRegexProgramSize = 10'000;

// InvalidArgument ("bad regex: ...") for a pattern RE2 does not support or
// one that compiles to more than kMaxRegexProgramSize instructions.
Result<std::unique_ptr<RE2>> CompileUserRegex(std::string_view pattern);

}  // namespace hive::collector
