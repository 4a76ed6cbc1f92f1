// escape_for_terminal: control bytes become visible text; everything else,
// valid UTF-8 included, is kept byte for byte.
#include <doctest/doctest.h>

#include "procd/terminal_escape.hpp"

using procd::escape_for_terminal;

TEST_CASE("terminal escape: plain text, tab and UTF-8 are kept") {
  CHECK(escape_for_terminal("hello world") == "hello world");
  CHECK(escape_for_terminal("a\tb") == "a\tb");
  CHECK(escape_for_terminal("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80") == "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(escape_for_terminal("back\\slash") == "back\\slash");
  CHECK(escape_for_terminal("") == "");
}

TEST_CASE("terminal escape: C0 controls, ESC and DEL are escaped") {
  CHECK(escape_for_terminal("\x1b[2J\x1b]0;pwned\x07") == "\\x1b[2J\\x1b]0;pwned\\x07");
  CHECK(escape_for_terminal("cr\rlf\n") == "cr\\x0dlf\\x0a");
  CHECK(escape_for_terminal(std::string("nul\0end", 7)) == "nul\\x00end");
  CHECK(escape_for_terminal("del\x7f") == "del\\x7f");
  CHECK(escape_for_terminal("\x01\x1f") == "\\x01\\x1f");
}

TEST_CASE("terminal escape: C1 controls, raw or UTF-8 encoded, and invalid UTF-8 are escaped") {
  CHECK(escape_for_terminal("\xc2\x9b" "31m") == "\\xc2\\x9b31m");       // U+009B CSI
  CHECK(escape_for_terminal("\xc2\x80\xc2\x9f") == "\\xc2\\x80\\xc2\\x9f");
  CHECK(escape_for_terminal("\xc2\xa0") == "\xc2\xa0");                   // U+00A0 is not a control
  CHECK(escape_for_terminal("\x9b" "31m") == "\\x9b31m");                 // 8-bit CSI
  CHECK(escape_for_terminal("\xff\xfe") == "\\xff\\xfe");
  CHECK(escape_for_terminal("\xc3") == "\\xc3");                          // truncated sequence
  CHECK(escape_for_terminal("\xe0\x80\x80") == "\\xe0\\x80\\x80");        // overlong
  CHECK(escape_for_terminal("\xed\xa0\x80") == "\\xed\\xa0\\x80");        // surrogate
}

namespace {
std::string with_sgr(std::string_view line, procd::SgrMode mode, bool* kept = nullptr) {
  std::string out;
  bool k = procd::append_for_terminal(out, line, mode);
  if (kept) *kept = k;
  return out;
}
}  // namespace

TEST_CASE("terminal escape: SGR colour sequences are kept, dropped or escaped; nothing else passes") {
  using procd::SgrMode;
  bool kept = false;
  CHECK(with_sgr("\x1b[31mred\x1b[0m", SgrMode::Keep, &kept) == "\x1b[31mred\x1b[0m");
  CHECK(kept);
  CHECK(with_sgr("\x1b[1;38;5;208mo\x1b[m \x1b[38:2:1:2:3mx", SgrMode::Keep) ==
        "\x1b[1;38;5;208mo\x1b[m \x1b[38:2:1:2:3mx");
  CHECK(with_sgr("\x1b[31mred\x1b[0m", SgrMode::Drop, &kept) == "red");
  CHECK_FALSE(kept);
  CHECK(with_sgr("\x1b[31mred", SgrMode::Escape) == "\\x1b[31mred");
  // Not SGR: cursor moves, clears, OSC, private modes, an unfinished CSI.
  CHECK(with_sgr("\x1b[2J\x1b[H\x1b]0;t\x07\x1b[?25l\x1b[31", SgrMode::Keep, &kept) ==
        "\\x1b[2J\\x1b[H\\x1b]0;t\\x07\\x1b[?25l\\x1b[31");
  CHECK_FALSE(kept);
  CHECK(with_sgr("\x1b[31\rm", SgrMode::Keep) == "\\x1b[31\\x0dm");
  CHECK(with_sgr("\xc2\x9b" "31m", SgrMode::Keep) == "\\xc2\\x9b31m");  // C1 CSI is never kept
  CHECK(with_sgr("a\x1b[31;1mb\x1b[2Kc", SgrMode::Drop) == "ab\\x1b[2Kc");
  // A sequence of absurd length is not kept (a bound on what passes).
  std::string long_sgr = "\x1b[" + std::string(100, '1') + "m";
  CHECK(with_sgr(long_sgr, SgrMode::Keep).rfind("\\x1b[", 0) == 0);
}
