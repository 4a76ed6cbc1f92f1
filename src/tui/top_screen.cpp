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

// A frame is built as rows of segments first and only the rows that differ
// from the last frame are written: a tick that changes one uptime touches
// that row alone, not ncurses' whole screen (idle CPU).
struct Seg {
  attr_t attr;
  std::string text;
};
using Row = std::vector<Seg>;

// One segment; a reversed one is padded to the edge of the screen.
Row row(const std::string& text, attr_t attr = A_NORMAL) {
  std::string t = truncate_columns(text, static_cast<std::size_t>(COLS));
  if (attr & A_REVERSE) t.append(static_cast<std::size_t>(COLS) - std::min<std::size_t>(display_columns(t), COLS), ' ');
  return {{attr, std::move(t)}};
}

std::string signature(const Row& r) {
  std::string sig;
  for (const auto& s : r) sig += std::to_string(s.attr) + '\x1f' + s.text + '\x1e';
  return sig;
}

void write_row(int y, const Row& r) {
  move(y, 0);
  clrtoeol();
  int x = 0;
  for (const auto& s : r) {
    if (x >= COLS) break;
    const auto room = static_cast<std::size_t>(COLS - x);
    std::string t = s.text;
    while (!t.empty() && t.back() == ' ' && display_columns(t) > room) t.pop_back();  // padding, not text
    t = truncate_columns(t, room);
    attron(s.attr);
    mvaddstr(y, x, t.c_str());
    attroff(s.attr);
    x += static_cast<int>(display_columns(t));
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
  ascii_ = std::strcmp(nl_langinfo(CODESET), "UTF-8") != 0;  // the terminal may not draw more than ASCII
  if (ascii_) std::setlocale(LC_CTYPE, "C.UTF-8");
  const char* term = std::getenv("TERM");
  if (!term || !*term) term = "dumb";
  // A dumb terminal has no cursor addressing: drawn as a vt100 (no colour)
  // rather than as lines scrolling past.
  const bool dumb = std::strcmp(term, "dumb") == 0;
  ascii_ = ascii_ || dumb;
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
  typeahead(-1);  // no check of stdin in every refresh: poll() already says when a key came
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
  drawn_.clear();  // every row again
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
  const int rows = LINES, cols = COLS;
  if (!open_ || rows < 1 || cols < 1) return;
  std::vector<Row> screen(static_cast<std::size_t>(std::max(rows, 0)));
  auto at = [&](int y) -> Row& { return screen[static_cast<std::size_t>(std::clamp(y, 0, rows - 1))]; };
  at(0) = row(frame.header, A_BOLD);
  int y = 1;
  if (frame.reconnecting) {
    at(2) = row("procd went away; reconnecting… (q quits)", color_ ? COLOR_PAIR(kRed) | A_BOLD : A_BOLD);
  } else {
    // The table: its header and as many rows as fit in half the screen.
    auto table = layout_status_table(frame.rows, static_cast<std::size_t>(cols), false);
    int room = std::max(2, (rows - 4) / 2);
    int shown = std::min(static_cast<int>(table.size()), room);
    int sel = static_cast<int>(model.selected_row());
    int first = sel + 1 >= shown ? sel + 2 - shown : 0;  // rows scrolled out above
    at(y++) = row(table[0].text, A_BOLD | A_UNDERLINE);
    for (int i = 0; i + 1 < shown && first + i + 1 < static_cast<int>(table.size()); ++i, ++y) {
      const StatusLine& l = table[static_cast<std::size_t>(first + i + 1)];
      const attr_t base = !model.selected().empty() && first + i == sel ? A_REVERSE : A_NORMAL;
      const std::string state = l.text.substr(l.state_at, l.state_len);
      const short pair = color_ ? state_pair(state) : 0;
      Row r = row(l.text.substr(l.state_at + l.state_len), base);
      r.insert(r.begin(), {{base, l.text.substr(0, l.state_at)}, {base | (pair ? COLOR_PAIR(pair) | A_BOLD : 0), state}});
      at(y) = std::move(r);
    }
    if (frame.rows.empty()) at(y++) = row(model.filter().empty() ? "(no services)" : "(no service matches the filter)");
    // The log pane, or the help or the signal list in its place.
    at(y++) = row(frame.pane_title, model.mode() == TopMode::Logs ? A_REVERSE : A_UNDERLINE);
    model.set_log_height(static_cast<std::size_t>(std::max(1, rows - 1 - y)));
    if (model.mode() == TopMode::Help || model.mode() == TopMode::Notice) {
      const bool help = model.mode() == TopMode::Help;
      for (const auto& h : help ? top_help_lines() : model.notice()) at(y++) = row((help ? "  " : "") + h);
      at(y) = row("  (any key closes this)", A_DIM);
    } else if (model.mode() == TopMode::PickSignal) {
      at(y++) = row("Send which signal to " + model.selected() + "? (Up/Down/1-6, Enter sends, Esc cancels)");
      const auto& sigs = top_signals();
      for (std::size_t i = 0; i < sigs.size(); ++i, ++y)
        at(y) = row("  " + std::to_string(i + 1) + " SIG" + sigs[i], i == model.signal_index() ? A_REVERSE : A_NORMAL);
    } else {
      const auto& logs = model.logs();
      for (std::size_t i = model.log_first(); i < logs.size() && y < rows - 1; ++i, ++y) {
        const TopLogLine& l = logs[i];
        attr_t attr = static_cast<long long>(i) == model.search_hit() ? A_REVERSE : A_NORMAL;
        attr_t mark = l.mark == '!' ? (color_ ? COLOR_PAIR(kRed) : A_BOLD) : l.mark == '~' ? (color_ ? COLOR_PAIR(kCyan) : A_DIM) : A_NORMAL;
        at(y) = {{mark, mark_of(l.mark)}, {attr, l.text}};
      }
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
  if (rows > 1) at(rows - 1) = row(status, error && color_ ? COLOR_PAIR(kRed) | A_REVERSE : A_REVERSE);
  // Only the rows that changed.
  if (drawn_.size() != screen.size()) drawn_.assign(screen.size(), std::string(1, '\0'));
  for (std::size_t i = 0; i < screen.size(); ++i) {
    std::string sig = signature(screen[i]);
    if (sig == drawn_[i]) continue;
    write_row(static_cast<int>(i), screen[i]);
    drawn_[i] = std::move(sig);
  }
  refresh();
}

}  // namespace procd
