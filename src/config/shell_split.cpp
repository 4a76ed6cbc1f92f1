// shell_split: turn a command string into argv the way a POSIX shell's
// word splitting and quote removal would, and nothing more: no variable,
// glob, tilde or command expansion, no operators, no shell process. Rules:
// blanks (space, tab, newline) separate words outside quotes; '...' is
// literal; "..." allows the escapes \" \\ \$ \` and backslash-newline, any
// other backslash stays literal; outside quotes a backslash escapes the next
// character (backslash-newline joins lines). Adjacent quoted and unquoted
// parts form one word, and "" yields an empty argument.
#include "procd/config_load.hpp"

namespace procd {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool escapable_in_double_quotes(char c) { return c == '"' || c == '\\' || c == '$' || c == '`' || c == '\n'; }

Error split_error(std::string message) { return make_error(Code::ConfigCommandSyntax, std::move(message)); }

}  // namespace

Result<std::vector<std::string>> shell_split(const std::string& command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // distinguishes "" (an empty word) from no word
  std::size_t i = 0;
  const std::size_t n = command.size();

  while (i < n) {
    char c = command[i];
    if (is_blank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      ++i;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= n) return split_error("trailing backslash");
      // Backslash-newline is a line continuation, not a character.
      if (command[i + 1] != '\n') {
        word += command[i + 1];
        in_word = true;
      }
      i += 2;
      continue;
    }
    if (c == '\'') {
      auto close = command.find('\'', i + 1);
      if (close == std::string::npos) return split_error("unterminated single quote");
      word.append(command, i + 1, close - i - 1);
      in_word = true;
      i = close + 1;
      continue;
    }
    if (c == '"') {
      std::size_t j = i + 1;
      for (;; ++j) {
        if (j >= n) return split_error("unterminated double quote");
        char d = command[j];
        if (d == '"') break;
        if (d == '\\' && j + 1 < n && escapable_in_double_quotes(command[j + 1])) {
          if (command[j + 1] != '\n') word += command[j + 1];
          ++j;
          continue;
        }
        word += d;
      }
      in_word = true;
      i = j + 1;
      continue;
    }
    word += c;
    in_word = true;
    ++i;
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace procd
