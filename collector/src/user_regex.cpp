#include "user_regex.h"

#include <string>

namespace hive::collector {

Result<std::unique_ptr<RE2>> CompileUserRegex(std::string_view pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(8 << 20);
  auto re = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
  if (!re->ok()) return Status::InvalidArgument("bad regex: " + re->error());
  if (re->ProgramSize() > kMaxRegexProgramSize) {
    return Status::InvalidArgument("bad regex: it compiles to " +
                                   std::to_string(re->ProgramSize()) + " instructions, more than " +
                                   std::to_string(kMaxRegexProgramSize));
  }
  return re;
}

}  // namespace hive::collector
