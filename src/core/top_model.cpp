// TopModel: see top_model.hpp. Keys by mode: the table selects, runs verbs
// (stop and restart ask first) and opens the other modes; the focused log
// pane scrolls; a typed line (filter, search) is applied on Enter and
// dropped on Esc. Every key clears the previous message.
#include "procd/top_model.hpp"

#include <algorithm>

namespace procd {
namespace {

bool is_printable(int key) { return key >= 0x20 && key < 0x110000 && key != 0x7f; }

void append_utf8(std::string& out, int cp) {
  auto c = static_cast<unsigned>(cp);
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xc0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xe0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
}

// Drops the last UTF-8 character of s.
void pop_utf8(std::string& s) {
  while (!s.empty()) {
    unsigned char c = static_cast<unsigned char>(s.back());
    s.pop_back();
    if ((c & 0xc0) != 0x80) break;
  }
}

const char* verb_word(TopVerb v) {
  return v == TopVerb::Stop ? "stop" : v == TopVerb::Restart ? "restart" : v == TopVerb::Signal ? "signal" : "?";
}

// The signals of the list that end a process (HUP and USR1/2 are the ones
// services catch to reload or reopen their logs): they ask first, as stop does.
bool stops(const std::string& sig) { return sig == "TERM" || sig == "INT" || sig == "KILL"; }

}  // namespace

const std::vector<std::string>& top_signals() {
  static const std::vector<std::string> list = {"TERM", "HUP", "INT", "USR1", "USR2", "KILL"};
  return list;
}

const std::vector<std::string>& top_help_lines() {
  static const std::vector<std::string> lines = {
      "Up/Down, j/k  select a service",
      "Enter         focus the log pane (Up/Down/PgUp/PgDn scroll it, Esc back)",
      "PgUp/PgDn     scroll the log pane back and forth (Home: oldest, End: newest)",
      "s             start the selected service",
      "x             stop it (asks y/n)",
      "r             restart it (asks y/n)",
      "S             send it a signal from a list (TERM, INT, KILL ask y/n)",
      "l             reload the config (shows the difference or the errors)",
      "f             filter services by name (Enter applies, empty: all)",
      "t             tree of dependencies on/off (each service under what it depends on)",
      "/  n          search the log pane backwards, again",
      "?             this help",
      "q             quit",
  };
  return lines;
}

TopCommand TopModel::set_services(std::vector<std::string> names, TopDepends depends_on) {
  all_ = std::move(names);
  depends_ = std::move(depends_on);
  return refilter();
}

TopCommand TopModel::refilter() {
  std::string before = selected_;
  std::size_t row = selected_row();
  shown_.clear();
  for (const auto& n : all_)
    if (filter_.empty() || n.find(filter_) != std::string::npos) shown_.push_back(n);
  tree_rows_.clear();
  if (tree_) {
    tree_rows_ = top_tree(shown_, depends_);
    shown_.clear();
    for (const auto& r : tree_rows_) shown_.push_back(r.name);
  }
  // The selected one stays if still shown, else the one now in its row.
  if (std::find(shown_.begin(), shown_.end(), selected_) == shown_.end())
    selected_ = shown_.empty() ? "" : shown_[std::min(row, shown_.size() - 1)];
  if (selected_ == before) return {};
  return {TopVerb::Follow, selected_, {}};
}

std::size_t TopModel::selected_row() const {
  auto it = std::find(shown_.begin(), shown_.end(), selected_);
  return it == shown_.end() ? 0 : static_cast<std::size_t>(it - shown_.begin());
}

TopCommand TopModel::select(std::size_t row) {
  if (shown_.empty()) return {};
  row = std::min(row, shown_.size() - 1);
  if (shown_[row] == selected_) return {};
  selected_ = shown_[row];
  return {TopVerb::Follow, selected_, {}};
}

void TopModel::add_log_line(TopLogLine line) {
  logs_.push_back(std::move(line));
  // A reader scrolled back keeps seeing the same lines.
  if (scroll_ > 0) ++scroll_;
  if (logs_.size() > kTopLogLines) {
    logs_.pop_front();
    if (hit_ >= 0) --hit_;
  }
  scroll_by(0);
}

void TopModel::clear_logs() {
  logs_.clear();
  scroll_ = 0;
  hit_ = -1;
}

std::size_t TopModel::log_first() const {
  std::size_t n = logs_.size();
  std::size_t last_page = n > log_height_ ? n - log_height_ : 0;
  return last_page > scroll_ ? last_page - scroll_ : 0;
}

void TopModel::scroll_by(long long delta) {
  std::size_t max = logs_.size() > log_height_ ? logs_.size() - log_height_ : 0;
  long long s = static_cast<long long>(scroll_) + delta;
  scroll_ = static_cast<std::size_t>(std::clamp(s, 0LL, static_cast<long long>(max)));
}

void TopModel::find_previous(const std::string& query) {
  if (query.empty()) return;
  long long from = hit_ >= 0 ? hit_ : static_cast<long long>(log_first() + log_height_);
  for (long long i = std::min(from, static_cast<long long>(logs_.size())) - 1; i >= 0; --i) {
    if (logs_[static_cast<std::size_t>(i)].text.find(query) == std::string::npos) continue;
    hit_ = i;
    // The hit becomes the pane's first line (or as near as the end allows).
    scroll_ = 0;
    std::size_t last_page = logs_.size() > log_height_ ? logs_.size() - log_height_ : 0;
    scroll_by(static_cast<long long>(last_page) - i);
    message_ = "found \"" + query + "\" (n: the one before)";
    return;
  }
  message_ = "not found: \"" + query + "\"";
  hit_ = -1;
}

void TopModel::show_notice(std::vector<std::string> lines) {
  if (lines.empty()) return;
  notice_ = std::move(lines);
  mode_ = TopMode::Notice;
}

std::string TopModel::question() const {
  if (confirming_ == TopVerb::Signal) return "send SIG" + top_signals()[signal_index_] + " to " + selected_ + "? y/n";
  return std::string(verb_word(confirming_)) + " " + selected_ + "? y/n";
}

TopCommand TopModel::on_key(int key) {
  message_.clear();
  switch (mode_) {
    case TopMode::Table: return table_key(key);
    case TopMode::Logs: return logs_key(key);
    case TopMode::Filter:
    case TopMode::Search: return line_key(key);
    case TopMode::Help:
    case TopMode::Notice: mode_ = TopMode::Table; return {};
    case TopMode::Confirm: {
      mode_ = TopMode::Table;
      if (key == 'y' || key == 'Y')
        return {confirming_, selected_, confirming_ == TopVerb::Signal ? top_signals()[signal_index_] : std::string()};
      message_ = std::string(verb_word(confirming_)) + " cancelled";
      return {};
    }
    case TopMode::PickSignal: {
      const auto& sigs = top_signals();
      if (key == top_key::Up || key == 'k') signal_index_ = signal_index_ ? signal_index_ - 1 : 0;
      else if (key == top_key::Down || key == 'j') signal_index_ = std::min(signal_index_ + 1, sigs.size() - 1);
      else if (key >= '1' && key < '1' + static_cast<int>(sigs.size())) signal_index_ = static_cast<std::size_t>(key - '1');
      else if (key != top_key::Enter) mode_ = TopMode::Table;
      if (key == top_key::Enter || (key >= '1' && key < '1' + static_cast<int>(sigs.size()))) {
        mode_ = TopMode::Table;
        if (!stops(sigs[signal_index_])) return {TopVerb::Signal, selected_, sigs[signal_index_]};
        confirming_ = TopVerb::Signal;
        mode_ = TopMode::Confirm;
        return {};
      }
      if (mode_ == TopMode::Table) message_ = "signal cancelled";
      return {};
    }
  }
  return {};
}

TopCommand TopModel::table_key(int key) {
  const bool any = !selected_.empty();
  switch (key) {
    case top_key::Up:
    case 'k': return select(selected_row() ? selected_row() - 1 : 0);
    case top_key::Down:
    case 'j': return select(selected_row() + 1);
    case top_key::Home: return select(0);
    case top_key::End: return select(shown_.empty() ? 0 : shown_.size() - 1);
    case top_key::PageUp: scroll_by(static_cast<long long>(log_height_)); return {};
    case top_key::PageDown: scroll_by(-static_cast<long long>(log_height_)); return {};
    case top_key::Enter:
      if (any) mode_ = TopMode::Logs;
      return {};
    case 'q': return {TopVerb::Quit, {}, {}};
    case '?': mode_ = TopMode::Help; return {};
    case 'l': return {TopVerb::Reload, {}, {}};
    case 't': {
      tree_ = !tree_;
      TopCommand follow = refilter();
      message_ = tree_ ? "tree of dependencies (t: back to the list)" : "list (t: tree of dependencies)";
      return follow;
    }
    case 'f':
    case '/':
      typed_from_ = mode_;
      mode_ = key == 'f' ? TopMode::Filter : TopMode::Search;
      typing_ = key == 'f' ? filter_ : std::string();
      return {};
    case 'n': find_previous(search_); return {};
    default: break;
  }
  if (!any) {
    if (key == 's' || key == 'x' || key == 'r' || key == 'S') message_ = "no service selected";
    return {};
  }
  if (key == 's') return {TopVerb::Start, selected_, {}};
  if (key == 'x' || key == 'r') {
    confirming_ = key == 'x' ? TopVerb::Stop : TopVerb::Restart;
    mode_ = TopMode::Confirm;
  } else if (key == 'S') {
    mode_ = TopMode::PickSignal;
    signal_index_ = 0;
  }
  return {};
}

TopCommand TopModel::logs_key(int key) {
  switch (key) {
    case top_key::Up:
    case 'k': scroll_by(1); break;
    case top_key::Down:
    case 'j': scroll_by(-1); break;
    case top_key::PageUp: scroll_by(static_cast<long long>(log_height_)); break;
    case top_key::PageDown: scroll_by(-static_cast<long long>(log_height_)); break;
    case top_key::Home: scroll_by(static_cast<long long>(logs_.size())); break;
    case top_key::End: scroll_ = 0; break;
    case top_key::Escape: mode_ = TopMode::Table; break;
    case '/':
      typed_from_ = mode_;
      mode_ = TopMode::Search;
      typing_.clear();
      break;
    case 'n': find_previous(search_); break;
    case '?': mode_ = TopMode::Help; break;
    case 'q': return {TopVerb::Quit, {}, {}};
    default: break;
  }
  return {};
}

TopCommand TopModel::line_key(int key) {
  if (key == top_key::Escape) {
    mode_ = typed_from_;
    return {};
  }
  if (key == top_key::Backspace) {
    pop_utf8(typing_);
    return {};
  }
  if (key != top_key::Enter) {
    if (is_printable(key)) append_utf8(typing_, key);
    return {};
  }
  const bool filtering = mode_ == TopMode::Filter;
  mode_ = typed_from_ == TopMode::Help || typed_from_ == TopMode::Notice ? TopMode::Table : typed_from_;
  if (!filtering) {
    search_ = typing_;
    hit_ = -1;
    find_previous(search_);
    return {};
  }
  filter_ = typing_;
  TopCommand follow = refilter();
  if (shown_.empty()) message_ = "no service matches \"" + filter_ + "\"";
  return follow;
}

}  // namespace procd
