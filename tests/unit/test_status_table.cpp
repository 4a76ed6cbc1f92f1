// layout_status_table at the widths people use (80, 100, 160), not a
// terminal (0) and --wide; the terminal text helpers it stands on.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "procd/status_table.hpp"
#include "procd/terminal_text.hpp"

using namespace procd;

namespace {

std::vector<StatusRow> sample() {
  return {
      {"web", "running", "4242", "3m2s", "0", "-", "0.3%", "12.1M", "healthy", "-"},
      {"a-service-with-a-very-long-name-indeed", "failed", "-", "-", "4", "1", "-", "-", "-",
       "exited 1; giving up after 4 starts within 10s (start limit), see procd logs a-service-with-a-very-long-name-indeed"},
      {"migrate", "completed", "-", "-", "0", "0", "-", "-", "-", "completed"},
  };
}

std::size_t longest(const std::vector<StatusLine>& lines) {
  std::size_t m = 0;
  for (const auto& l : lines) m = std::max(m, display_columns(l.text));
  return m;
}

}  // namespace

TEST_CASE("terminal text: columns, cutting with an ellipsis, stable name colours") {
  CHECK(display_columns("abc") == 3);
  CHECK(display_columns("gr\xc3\xbc\xc3\x9f \xe2\x80\xa6") == 6);
  CHECK(truncate_columns("abcdef", 6) == "abcdef");
  CHECK(truncate_columns("abcdef", 4) == "abc\xe2\x80\xa6");
  CHECK(truncate_columns("abcdef", 1) == "\xe2\x80\xa6");
  CHECK(truncate_columns("abcdef", 0) == "");
  CHECK(truncate_columns("\xc3\xbc\xc3\xbc\xc3\xbc", 2) == "\xc3\xbc\xe2\x80\xa6");
  CHECK(std::string(name_color("web")) == name_color("web"));
  CHECK(std::string(name_color("web")).rfind("\x1b[", 0) == 0);
  int distinct = 0;
  std::string first = name_color("svc0");
  for (int i = 1; i < 20; ++i) distinct += first != name_color("svc" + std::to_string(i));
  CHECK(distinct > 5);
}

TEST_CASE("terminal text: East Asian wide characters take two columns, combining marks none") {
  // "データ" (3 wide katakana), "한국" (Hangul), a fullwidth A, an emoji
  CHECK(display_columns("\xe3\x83\x87\xe3\x83\xbc\xe3\x82\xbf") == 6);
  CHECK(display_columns("\xed\x95\x9c\xea\xb5\xad") == 4);
  CHECK(display_columns("\xef\xbc\xa1") == 2);
  CHECK(display_columns("\xf0\x9f\x9a\x80") == 2);
  CHECK(display_columns("e\xcc\x81") == 1);  // e + combining acute
  CHECK(display_columns("\xff\x80" "a") == 3);   // invalid bytes: one column each
  CHECK(code_point_columns(U'a') == 1);
  CHECK(code_point_columns(0x4E2D) == 2);
  CHECK(code_point_columns(0x200B) == 0);
  // cutting never splits a wide character past the width
  CHECK(truncate_columns("\xe3\x83\x87\xe3\x83\xbc\xe3\x82\xbf", 4) == "\xe3\x83\x87\xe2\x80\xa6");
  CHECK(display_columns(truncate_columns("\xe3\x83\x87\xe3\x83\xbc\xe3\x82\xbf", 5)) <= 5);
  // bytes: cut on a character boundary, the ellipsis counted
  CHECK(truncate_bytes("abcdef", 6) == "abcdef");
  CHECK(truncate_bytes("abcdefg", 6) == "abc\xe2\x80\xa6");
  CHECK(truncate_bytes("ab\xc3\xbc\xc3\xbc", 6) == "ab\xc3\xbc\xc3\xbc");
  CHECK(truncate_bytes("a\xc3\xbc\xc3\xbcx", 5) == "a\xe2\x80\xa6");  // not half a ü
}

TEST_CASE("status table: a wide-character name keeps the columns aligned") {
  std::vector<StatusRow> rows = sample();
  rows[1].name = "\xe3\x83\x87\xe3\x83\xbc\xe3\x82\xbf";  // データ: 6 columns, 9 bytes
  auto lines = layout_status_table(rows, 80, false);
  REQUIRE(lines.size() == 4);
  // STATE starts at the same column on every line
  std::size_t col = display_columns(lines[0].text.substr(0, lines[0].text.find("STATE")));
  for (std::size_t i = 1; i < lines.size(); ++i)
    CHECK(display_columns(lines[i].text.substr(0, lines[i].state_at)) == col);
  CHECK(longest(lines) <= 80);
}

TEST_CASE("status table: not a terminal and --wide show every column uncut") {
  for (auto [width, wide] : {std::pair<std::size_t, bool>{0, false}, {80, true}}) {
    auto lines = layout_status_table(sample(), width, wide);
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].text.rfind("NAME", 0) == 0);
    CHECK(lines[0].text.find("CPU") != std::string::npos);
    CHECK(lines[0].text.find("HEALTH") != std::string::npos);
    CHECK(lines[2].text.find("a-service-with-a-very-long-name-indeed") == 0);
    CHECK(lines[2].text.find("see procd logs a-service-with-a-very-long-name-indeed") != std::string::npos);
    CHECK(lines[1].text.substr(lines[1].state_at, lines[1].state_len) == "running");
  }
}

TEST_CASE("status table: 80 columns is the narrow layout and fits") {
  auto lines = layout_status_table(sample(), 80, false);
  REQUIRE(lines.size() == 4);
  CHECK(longest(lines) <= 80);
  CHECK(lines[0].text.find("CPU") == std::string::npos);
  CHECK(lines[0].text.find("HEALTH") == std::string::npos);
  CHECK(lines[0].text.find("REASON") != std::string::npos);
  CHECK(lines[0].text.find("RESTARTS") != std::string::npos);
  CHECK(lines[2].text.find("a-service-w\xe2\x80\xa6  failed") == 0);  // the name cut, the cut marked
  CHECK(lines[2].text.find("exited 1; giving up") != std::string::npos);
  CHECK(lines[2].text.substr(lines[2].text.size() - 3) == "\xe2\x80\xa6");  // the reason cut
  CHECK(lines[2].text.substr(lines[2].state_at, lines[2].state_len) == "failed");
  CHECK(lines[3].text.find("completed") != std::string::npos);
}

TEST_CASE("status table: 100 and 160 columns show CPU, RSS and HEALTH and fit") {
  for (std::size_t width : {100, 160}) {
    auto lines = layout_status_table(sample(), width, false);
    REQUIRE(lines.size() == 4);
    CHECK(longest(lines) <= width);
    CHECK(lines[0].text.find("CPU") != std::string::npos);
    CHECK(lines[0].text.find("HEALTH") != std::string::npos);
    CHECK(lines[1].text.find("12.1M") != std::string::npos);
    CHECK(lines[1].text.find("healthy") != std::string::npos);
    CHECK(lines[2].text.find("exited 1; g") != std::string::npos);
  }
  auto at160 = layout_status_table(sample(), 160, false);
  CHECK(at160[2].text.find("a-service-with-a-very-long-name-indeed") == 0);  // room for the whole name
}

TEST_CASE("status table: a short table is not padded to the width; a tiny width still fits") {
  std::vector<StatusRow> one = {{"web", "running", "1", "1s", "0", "-", "0.0%", "1.0M", "-", "-"}};
  auto lines = layout_status_table(one, 160, false);
  CHECK(lines[1].text.back() == '-');
  CHECK(display_columns(lines[1].text) < 100);
  for (std::size_t width : {10, 30, 45}) CHECK(longest(layout_status_table(sample(), width, false)) <= width);
}
