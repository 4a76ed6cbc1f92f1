// env_file: the pure line parser (every rule, errors with path:line:col) and
// read_env_file's refusal of what is not a regular file (a symlink, a
// directory, a FIFO: opened non-blocking, so the test cannot hang).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "procd/env_file.hpp"

namespace fs = std::filesystem;
using namespace procd;

namespace {

}  // namespace

TEST_CASE("env_file: parse_env_file_text keeps file order and applies every rule") {
  auto r = parse_env_file_text(
      "# comment\n"
      "\n"
      "FROM_FILE=1\n"
      "export EXPORTED=yes\n"
      "\texport\tTABBED=t\n"
      "  SPACED =  padded  \r\n"
      "DQ=\"a \\\"quoted\\\" # value\\n\"\n"
      "SQ='single $X \\n'\n"
      "EMPTY=\n"
      "EQ=a=b\n"
      "FROM_FILE=2",  // no final newline; a repeated key is kept (the later one wins when applied)
      "x.env");
  REQUIRE(r.ok());
  EnvVars want = {{"FROM_FILE", "1"}, {"EXPORTED", "yes"}, {"TABBED", "t"},      {"SPACED", "padded"},
                  {"DQ", "a \"quoted\" # value\n"},       {"SQ", "single $X \\n"}, {"EMPTY", ""},
                  {"EQ", "a=b"},     {"FROM_FILE", "2"}};
  CHECK(*r == want);
  auto empty = parse_env_file_text("", "x.env");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("env_file: a malformed line is an error at path:line:col") {
  struct Case {
    const char* text;
    int line, column;
  };
  for (const auto& c : {Case{"OK=1\nthis is not an assignment\n", 2, 1}, Case{"A=1\n\n  =value\n", 3, 3},
                        Case{"# c\n  BAD KEY=1\n", 2, 3}, Case{"export\n", 1, 1}, Case{"A=1\r\nnoequals", 2, 1}}) {
    CAPTURE(c.text);
    auto r = parse_env_file_text(c.text, "/etc/app.env");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::ConfigInvalidValue);
    REQUIRE(r.error().where.has_value());
    CHECK(r.error().where->file == "/etc/app.env");
    CHECK(r.error().where->line == c.line);
    CHECK(r.error().where->column == c.column);
    CHECK(r.error().message.find("expected KEY=VALUE") != std::string::npos);
  }
}

TEST_CASE("env_file: read_env_file reads a regular file and refuses anything else") {
  TempDir dir;
  std::ofstream(dir.file("good.env")) << "A=1\nB='two'\n";
  auto good = read_env_file(dir.file("good.env"));
  REQUIRE(good.ok());
  CHECK(*good == EnvVars{{"A", "1"}, {"B", "two"}});

  auto missing = read_env_file(dir.file("missing.env"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Code::IoOpen);
  CHECK(missing.error().message.find(dir.file("missing.env")) != std::string::npos);
  CHECK(missing.error().message.find("No such file") != std::string::npos);

  fs::create_symlink(dir.file("good.env"), dir.file("link.env"));
  auto link = read_env_file(dir.file("link.env"));
  REQUIRE_FALSE(link.ok());
  CHECK(link.error().code == Code::IoOpen);
  CHECK(link.error().message.find("symbolic link") != std::string::npos);

  auto directory = read_env_file(dir.path.string());
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().message.find("not a regular file") != std::string::npos);

  REQUIRE(::mkfifo(dir.file("fifo.env").c_str(), 0600) == 0);
  auto fifo = read_env_file(dir.file("fifo.env"));
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.error().message.find("not a regular file") != std::string::npos);

  std::ofstream(dir.file("bad.env")) << "A=1\nnot an assignment\n";
  auto bad = read_env_file(dir.file("bad.env"));
  REQUIRE_FALSE(bad.ok());
  REQUIRE(bad.error().where.has_value());
  CHECK(bad.error().where->file == dir.file("bad.env"));
  CHECK(bad.error().where->line == 2);
}
