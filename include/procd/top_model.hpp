// `procd top`'s state as a pure value: the services shown (after the name
// filter), the selected one, the log pane's bounded scroll-back and its
// scroll position, the search, and the mode a key is read in (the table,
// the focused log pane, a y/n question, the signal list, a line being
// typed, the help). on_key turns one key into the next state and at most
// one command for the caller to carry out (a verb over the control socket,
// following another service's logs, quitting). No I/O and no clock here:
// src/cli/top.cpp talks to procd, src/tui/ draws. Invariants: the
// selection always names a shown service (or is empty when none is shown);
// the scroll-back never holds more than kTopLogLines lines; scroll stays
// within it.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "procd/top_tree.hpp"

namespace procd {

inline constexpr std::size_t kTopLogLines = 2000;

// Keys: a printable character is its code point; the others are these.
namespace top_key {
inline constexpr int Up = 0x110001, Down = 0x110002, PageUp = 0x110003, PageDown = 0x110004, Home = 0x110005,
                     End = 0x110006, Enter = 0x110007, Escape = 0x110008, Backspace = 0x110009;
}  // namespace top_key

enum class TopMode { Table, Logs, Confirm, PickSignal, Filter, Search, Help, Notice };
enum class TopVerb { None, Quit, Start, Stop, Restart, Reload, Signal, Follow };

struct TopCommand {
  TopVerb verb = TopVerb::None;
  std::string service;  // the selected one (Follow: the one to follow, "" none)
  std::string signal;   // Signal: TERM, HUP, INT, USR1, USR2, KILL
};

// The signals `S` offers, in its list's order.
const std::vector<std::string>& top_signals();
// The help shown by `?`: one key and what it does a line.
const std::vector<std::string>& top_help_lines();

struct TopLogLine {
  std::string text;  // shown as is (already escaped for the terminal)
  char mark = '|';   // '|' stdout, '!' stderr, '~' procd's own line
};

class TopModel {
 public:
  // The supervisor's services in its order; keeps the selection by name,
  // else the nearest row. Returns a Follow command when the selection moved
  // to another service (its logs are to be followed instead).
  // depends_on: each service's dependencies as written (the tree, `t`).
  TopCommand set_services(std::vector<std::string> names, TopDepends depends_on = {});
  TopCommand on_key(int key);

  void add_log_line(TopLogLine line);
  void clear_logs();
  // Rows the log pane has on screen (PgUp/PgDn move by one page).
  void set_log_height(std::size_t rows) { log_height_ = rows ? rows : 1; }
  // The status line: a message until the next key.
  void set_message(std::string text) { message_ = std::move(text); }
  // Lines shown in the log pane's place until the next key (every error of
  // a refused reload); none: nothing changes.
  void show_notice(std::vector<std::string> lines);
  const std::vector<std::string>& notice() const { return notice_; }

  const std::vector<std::string>& shown() const { return shown_; }
  // `t`: shown() in the tree's order, tree_rows() beside it (empty when off).
  bool tree() const { return tree_; }
  const std::vector<TopTreeRow>& tree_rows() const { return tree_rows_; }
  const std::string& selected() const { return selected_; }
  std::size_t selected_row() const;  // index in shown(); 0 when none
  const std::deque<TopLogLine>& logs() const { return logs_; }
  // The first log line on screen for the pane's height (scroll 0: the last page).
  std::size_t log_first() const;
  std::size_t log_scroll() const { return scroll_; }
  TopMode mode() const { return mode_; }
  const std::string& filter() const { return filter_; }
  const std::string& search() const { return search_; }
  // The line being typed in Filter or Search mode.
  const std::string& typing() const { return typing_; }
  const std::string& message() const { return message_; }
  // Confirm mode: the question asked ("restart web? y/n").
  std::string question() const;
  std::size_t signal_index() const { return signal_index_; }
  // -1 when no search hit is on screen, else its index in logs().
  long long search_hit() const { return hit_; }

 private:
  TopCommand table_key(int key);
  TopCommand logs_key(int key);
  TopCommand line_key(int key);
  TopCommand select(std::size_t row);
  TopCommand refilter();  // shown_ from all_ and the filter; keeps a selection
  void scroll_by(long long delta);
  void find_previous(const std::string& query);

  std::vector<std::string> all_;
  std::vector<std::string> shown_;
  TopDepends depends_;
  bool tree_ = false;
  std::vector<TopTreeRow> tree_rows_;
  std::string selected_;
  std::deque<TopLogLine> logs_;
  std::size_t scroll_ = 0;  // lines above the last page
  std::size_t log_height_ = 1;
  TopMode mode_ = TopMode::Table;
  TopMode typed_from_ = TopMode::Table;
  TopVerb confirming_ = TopVerb::None;
  std::size_t signal_index_ = 0;
  std::string filter_, search_, typing_, message_;
  std::vector<std::string> notice_;
  long long hit_ = -1;
};

}  // namespace procd
