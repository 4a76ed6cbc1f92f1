// `procd top`'s terminal (src/tui/top_screen.cpp, the one file that speaks
// ncurses): opens the screen, maps keys to top_key values, lays out and
// draws one frame from the model and the status table, and restores the
// terminal (endwin) when closed or destroyed. Invariants: nothing is drawn
// past the screen's width (text is cut by display columns, so East Asian
// wide characters do not wrap); colour only when the terminal has it and
// NO_COLOR is unset; the text given is already safe to show (escaped).
#pragma once

#include <string>
#include <vector>

#include "procd/status_table.hpp"
#include "procd/top_model.hpp"

namespace procd {

struct TopFrame {
  std::string header;                   // the first line: procd, its pid, the counts
  std::vector<StatusRow> rows;          // one per shown service, in the model's order
  std::string pane_title;               // above the log pane
  bool reconnecting = false;            // procd went away: say so instead of the table
};

class TopScreen {
 public:
  TopScreen() = default;
  ~TopScreen() { close(); }
  TopScreen(const TopScreen&) = delete;
  TopScreen& operator=(const TopScreen&) = delete;

  // initscr and friends on the controlling terminal; false with a reason when
  // the terminal cannot be driven (not a terminal, no cursor addressing).
  bool open(std::string& why);
  // endwin; safe to call more than once.
  void close();
  bool is_open() const { return open_; }
  // Tree glyphs in ASCII: TERM=dumb, or a locale that is not UTF-8.
  bool ascii() const { return ascii_; }
  // After SIGWINCH: the new size from the terminal, resizeterm.
  void resize();
  // Every key waiting on stdin (non-blocking), as top_key values or code points.
  std::vector<int> read_keys();
  // One whole frame; sets the model's log pane height for the layout.
  void draw(const TopFrame& frame, TopModel& model);

 private:
  bool open_ = false;
  bool color_ = false;
  bool ascii_ = false;
  std::vector<std::string> drawn_;  // what each row shows now (text and attributes)
};

}  // namespace procd
