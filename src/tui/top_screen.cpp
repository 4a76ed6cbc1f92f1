// TopScreen: see top_screen.hpp. The layout, top to bottom: the header, the
// services table (at most half of the rows left, scrolled to keep the
// selected row in sight), the log pane's title, the log pane (or the help,
// or the signal list, drawn in its place), and the status line (the
// message, the y/n question, or the line being typed). The table's columns
// come from layout_status_table for the screen's width, so `procd top` and
// `procd status` agree on them.
#include "procd/top_screen.hpp"

#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <clocale>
#include <cstdlib>
#include <cstring>
#include <langinfo.h>

#include "procd/terminal_text.hpp"

namespace procd {
namespace {

enum Pair : short { kGreen = 1, kYellow, kRed, kCyan, kBlue };

short state_pair(const std::string& state) {
  if (state == "running") return kGreen;
  if (state == "starting" || state == "stopping" || state == "restarting" || state == "waiting") return kYellow;
  if (state == "failed" || state == "blocked") return kRed;
  return 0;
}

// text at (y, x) cut to the columns left on the line, the rest of it cleared.
void put(int y, int x, const std::string& text, attr_t attr = A_NORMAL) {
  int room = COLS - x;
  if (y < 0 || y >= LINES || room <= 0) return;
  attron(attr);
  mvaddstr(y, x, truncate_columns(text, static_cast<std::size_t>(room)).c_str());
  attroff(attr);
}

void line(int y, const std::string& text, attr_t attr = A_NORMAL) {
  move(y, 0);
  clrtoeol();
  put(y, 0, text, attr);
  if (attr & A_REVERSE) {  // a highlighted line is highlighted to the edge
    int cols = static_cast<int>(display_columns(truncate_columns(text, static_cast<std::size_t>(COLS))));
    if (cols < COLS) mvchgat(y, cols, -1, attr, PAIR_NUMBER(attr), nullptr);
  }
}

std::string mark_of(char mark) { return mark == '!' ? "! " : mark == '~' ? "~ " : "| "; }

}  // namespace

bool TopScreen::open(std::string& why) {
  if (::isatty(STDIN_FILENO) != 1 || ::isatty(STDOUT_FILENO) != 1) {
    why = "procd top needs a terminal (stdin and stdout)";
    return false;
  }
  // Wide characters need a UTF-8 locale; procd's text is UTF-8 whatever LANG says.
  std::setlocale(LC_ALL, "");
  if (std::strcmp(nl_langinfo(CODESET), "UTF-8") != 0) std::setlocale(LC_CTYPE, "C.UTF-8");
  const char* term = std::getenv("TERM");
  if (!term || !*term) term = "dumb";
  // A dumb terminal has no cursor addressing: drawn as a vt100 (no colour)
  // rather than as lines scrolling past.
  const bool dumb = std::strcmp(term, "dumb") == 0;
  SCREEN* s = newterm(dumb ? "vt100" : nullptr, stdout, stdin);
  if (!s) {
    why = std::string("cannot drive the terminal (TERM=") + term + ")";
    return false;
  }
  set_term(s);
  open_ = true;
  cbreak();
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  set_escdelay(25);
  curs_set(0);
  color_ = has_colors() && std::getenv("NO_COLOR") == nullptr && !dumb;
  if (color_) {
    start_color();
    use_default_colors();
    init_pair(kGreen, COLOR_GREEN, -1);
    init_pair(kYellow, COLOR_YELLOW, -1);
    init_pair(kRed, COLOR_RED, -1);
    init_pair(kCyan, COLOR_CYAN, -1);
    init_pair(kBlue, COLOR_BLUE, -1);
  }
  return true;
}

void TopScreen::close() {
  if (!open_) return;
  open_ = false;
  curs_set(1);
  endwin();
}

void TopScreen::resize() {
  struct winsize ws {};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) resizeterm(ws.ws_row, ws.ws_col);
  clear();
}

std::vector<int> TopScreen::read_keys() {
  std::vector<int> keys;
  wint_t ch = 0;
  for (int r; (r = get_wch(&ch)) != ERR;) {
    if (r == KEY_CODE_YES) {
      switch (ch) {
        case KEY_UP: keys.push_back(top_key::Up); break;
        case KEY_DOWN: keys.push_back(top_key::Down); break;
        case KEY_PPAGE: keys.push_back(top_key::PageUp); break;
        case KEY_NPAGE: keys.push_back(top_key::PageDown); break;
        case KEY_HOME: keys.push_back(top_key::Home); break;
        case KEY_END: keys.push_back(top_key::End); break;
        case KEY_ENTER: keys.push_back(top_key::Enter); break;
        case KEY_BACKSPACE: keys.push_back(top_key::Backspace); break;
        default: break;  // KEY_RESIZE and the rest: SIGWINCH does the work
      }
    } else if (ch == '\r' || ch == '\n') {
      keys.push_back(top_key::Enter);
    } else if (ch == 27) {
      keys.push_back(top_key::Escape);
    } else if (ch == 127 || ch == 8) {
      keys.push_back(top_key::Backspace);
    } else {
      keys.push_back(static_cast<int>(ch));
    }
  }
  return keys;
}

void TopScreen::draw(const TopFrame& frame, TopModel& model) {
  if (!open_) return;
  erase();
  const int rows = LINES, cols = COLS;
  line(0, frame.header, A_BOLD);
  int y = 1;
  if (frame.reconnecting) {
    line(2, "procd went away; reconnecting… (q quits)", color_ ? COLOR_PAIR(kRed) | A_BOLD : A_BOLD);
    refresh();
    return;
  }
  // The table: its header and as many rows as fit in half the screen.
  auto table = layout_status_table(frame.rows, static_cast<std::size_t>(cols), false);
  int room = std::max(2, (rows - 4) / 2);
  int shown = std::min(static_cast<int>(table.size()), room);
  int sel = static_cast<int>(model.selected_row());
  int first = sel + 1 >= shown ? sel + 2 - shown : 0;  // rows scrolled out above
  line(y++, table[0].text, A_BOLD | A_UNDERLINE);
  for (int i = 0; i + 1 < shown && first + i + 1 < static_cast<int>(table.size()); ++i, ++y) {
    const StatusLine& l = table[static_cast<std::size_t>(first + i + 1)];
    const bool selected = !model.selected().empty() && first + i == sel;
    line(y, l.text, selected ? A_REVERSE : A_NORMAL);
    short pair = color_ ? state_pair(l.text.substr(l.state_at, l.state_len)) : 0;
    if (pair) mvchgat(y, static_cast<int>(display_columns(l.text.substr(0, l.state_at))),
                      static_cast<int>(display_columns(l.text.substr(l.state_at, l.state_len))),
                      (selected ? A_REVERSE : A_NORMAL) | A_BOLD, pair, nullptr);
  }
  if (frame.rows.empty()) line(y++, model.filter().empty() ? "(no services)" : "(no service matches the filter)");
  // The log pane.
  line(y++, frame.pane_title, model.mode() == TopMode::Logs ? A_REVERSE : A_UNDERLINE);
  const int pane = std::max(1, rows - 1 - y);
  model.set_log_height(static_cast<std::size_t>(pane));
  if (model.mode() == TopMode::Help) {
    for (const auto& h : top_help_lines()) line(y++, "  " + h);
    line(y, "  (any key closes this)", A_DIM);
  } else if (model.mode() == TopMode::PickSignal) {
    line(y++, "Send which signal to " + model.selected() + "? (Up/Down/1-6, Enter sends, Esc cancels)");
    const auto& sigs = top_signals();
    for (std::size_t i = 0; i < sigs.size(); ++i, ++y)
      line(y, "  " + std::to_string(i + 1) + " SIG" + sigs[i], i == model.signal_index() ? A_REVERSE : A_NORMAL);
  } else {
    const auto& logs = model.logs();
    for (std::size_t i = model.log_first(); i < logs.size() && y < rows - 1; ++i, ++y) {
      const TopLogLine& l = logs[i];
      attr_t attr = static_cast<long long>(i) == model.search_hit() ? A_REVERSE : A_NORMAL;
      attr_t mark = l.mark == '!' ? (color_ ? COLOR_PAIR(kRed) : A_BOLD) : l.mark == '~' ? (color_ ? COLOR_PAIR(kCyan) : A_DIM) : A_NORMAL;
      move(y, 0);
      clrtoeol();
      put(y, 0, mark_of(l.mark), mark);
      put(y, 2, l.text, attr);
    }
  }
  // The status line.
  std::string status;
  switch (model.mode()) {
    case TopMode::Confirm: status = model.question(); break;
    case TopMode::Filter: status = "filter: " + model.typing() + "_  (Enter applies, Esc cancels)"; break;
    case TopMode::Search: status = "/" + model.typing() + "_  (Enter searches back, Esc cancels)"; break;
    default: status = model.message().empty() ? "?:help q:quit s:start x:stop r:restart l:reload S:signal f:filter /:search"
                                               : model.message();
  }
  bool error = status.rfind("error[", 0) == 0;
  line(rows - 1, status, error && color_ ? COLOR_PAIR(kRed) | A_REVERSE : A_REVERSE);
  refresh();
}

}  // namespace procd
