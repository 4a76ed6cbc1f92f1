// The error table's lookups (summary, enum name, every code) and the one
// printable form of an Error. Everything here is generated from
// PROCD_ERROR_TABLE, so a code added to the table is automatically named,
// summarised and listed; nothing else in the program spells a code number.
#include <fmt/format.h>

#include "procd/error.hpp"

namespace procd {

std::string_view code_summary(Code code) {
  switch (code) {
#define PROCD_X(name, num, summary) \
  case Code::name:                  \
    return summary;
    PROCD_ERROR_TABLE(PROCD_X)
#undef PROCD_X
  }
  return "unknown error";
}

std::string_view code_name(Code code) {
  switch (code) {
#define PROCD_X(name, num, summary) \
  case Code::name:                  \
    return #name;
    PROCD_ERROR_TABLE(PROCD_X)
#undef PROCD_X
  }
  return "Unknown";
}

const std::initializer_list<Code>& all_codes() {
  // A function-local static initializer_list keeps its backing array alive
  // for the program's lifetime (it is initialised from a braced list here).
  static const std::initializer_list<Code> codes = {
#define PROCD_X(name, num, summary) Code::name,
      PROCD_ERROR_TABLE(PROCD_X)
#undef PROCD_X
  };
  return codes;
}

std::string Error::format() const {
  // Compiler-style prefix so editors and CI annotators can jump to the spot:
  // FILE:LINE:COL, then FILE:LINE, then FILE alone as less is known.
  std::string out;
  if (where && !where->file.empty()) {
    out += where->file;
    if (where->line > 0) {
      out += fmt::format(":{}", where->line);
      if (where->column > 0) out += fmt::format(":{}", where->column);
    }
    out += ": ";
  }
  out += fmt::format("error[{}]: ", static_cast<int>(code));
  if (!key_path.empty()) out += key_path + ": ";
  out += message.empty() ? std::string(code_summary(code)) : message;
  return out;
}

}  // namespace procd
