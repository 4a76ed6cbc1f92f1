// The ${...} grammar (see interpolate.hpp): a small recursive-descent
// parser over one string value. Pure: no environment but the one given.
// Invariants: every "${" either expands or yields exactly one problem at
// its own offset; recursion is bounded by kMaxInterpolationDepth; the parser
// always moves forward, so any input terminates in linear time per level.
#include "src/config/interpolate.hpp"

#include <fmt/format.h>

namespace procd::config_detail {

Environment environment_from(const std::vector<std::string>& entries) {
  Environment env;
  for (const auto& entry : entries) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    env.insert_or_assign(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

namespace {

bool name_start(char c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

class Parser {
 public:
  Parser(std::string_view text, const Environment& env) : text_(text), env_(env) {}

  // Expands from pos_ to the end of the text or, inside a default / message
  // (in_word), up to the '}' that closes the enclosing ${...}, left at pos_.
  std::string expand(bool in_word, int depth, std::vector<InterpolationProblem>& problems) {
    std::string out;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (in_word && c == '}') return out;
      char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
      if (c == '$' && next == '$') {
        out += '$';
        pos_ += 2;
      } else if (c == '$' && next == '{') {
        out += expression(depth, problems);
      } else {
        out += c;
        ++pos_;
      }
    }
    return out;
  }

 private:
  // pos_ is at "${"; leaves pos_ just past the closing '}' (or at the end).
  std::string expression(int depth, std::vector<InterpolationProblem>& problems) {
    const std::size_t start = pos_;
    pos_ += 2;
    auto syntax = [&](std::string message) {
      problems.push_back({Code::ConfigInterpolationSyntax, start, std::move(message)});
      skip_past_close();
      return std::string();
    };
    auto unterminated = [&] {
      problems.push_back({Code::ConfigInterpolationSyntax, start, "unterminated \"${\" (no closing \"}\")"});
      pos_ = text_.size();
      return std::string();
    };
    if (depth >= kMaxInterpolationDepth)
      return syntax(fmt::format("\"${{\" nested deeper than {} levels", kMaxInterpolationDepth));

    const std::size_t name_begin = pos_;
    while (pos_ < text_.size() && name_char(text_[pos_])) ++pos_;
    const std::string_view name = text_.substr(name_begin, pos_ - name_begin);
    if (pos_ >= text_.size()) return unterminated();
    if (name.empty() && text_[pos_] == '}') return syntax("empty \"${}\" (a variable name is needed; \"$$\" is a literal $)");
    if (name.empty() || !name_start(name[0]))
      return syntax(fmt::format("invalid variable name \"{}\" (names are letters, digits and _, not starting with a digit)",
                                name.empty() ? text_.substr(pos_, 1) : name));

    auto found = env_.find(name);
    const std::string* value = found == env_.end() ? nullptr : &found->second;
    char op = text_[pos_];
    if (op == '}') {
      ++pos_;
      if (value) return used(name, *value);
      problems.push_back({Code::ConfigVariableUnset, start,
                          fmt::format("variable {} is not set (give a default with ${{{}:-value}})", name, name)});
      return std::string();
    }
    bool colon = op == ':';
    if (colon) {
      if (++pos_ >= text_.size()) return unterminated();
      op = text_[pos_];
    }
    if (op != '-' && op != '?') {
      if (colon) return syntax(fmt::format("unknown operator \":{}\" after {} (expected :-, :?, - or ?)", op, name));
      return syntax(fmt::format("invalid character '{}' after variable name {} (expected }}, :-, :?, - or ?)", op, name));
    }
    ++pos_;
    std::vector<InterpolationProblem> word_problems;
    const std::size_t word_begin = pos_;
    std::string word = expand(true, depth + 1, word_problems);
    if (pos_ >= text_.size()) return unterminated();
    // The message as written: expanded, it could carry another variable's value.
    const std::string_view written = text_.substr(word_begin, pos_ - word_begin);
    ++pos_;  // the closing '}'

    // The word is only evaluated when it is used; its syntax always counts.
    const bool use_word = value == nullptr || (colon && value->empty());
    for (auto& p : word_problems)
      if (use_word || p.code == Code::ConfigInterpolationSyntax) problems.push_back(std::move(p));
    if (!use_word) return used(name, *value);
    if (op == '-') return word;
    const char* state = value == nullptr ? "not set" : "empty";
    problems.push_back({Code::ConfigVariableRequired, start,
                        written.empty() ? fmt::format("variable {} is required but {}", name, state)
                                        : fmt::format("variable {} is {}: {}", name, state, written)});
    return std::string();
  }

  std::string used(std::string_view name, const std::string& value) {
    used_.emplace_back(name);
    return value;
  }

  // Error recovery: resume after the next '}' (or at the end).
  void skip_past_close() {
    auto close = text_.find('}', pos_);
    pos_ = close == std::string_view::npos ? text_.size() : close + 1;
  }

  std::string_view text_;
  const Environment& env_;
  std::size_t pos_ = 0;

 public:
  std::vector<std::string> used_;
};

}  // namespace

Interpolation interpolate(std::string_view text, const Environment& env) {
  Interpolation out;
  if (text.find('$') == std::string_view::npos) {
    out.value = std::string(text);
    return out;
  }
  Parser parser(text, env);
  out.value = parser.expand(false, 0, out.problems);
  out.used = std::move(parser.used_);
  return out;
}

}  // namespace procd::config_detail
