// TopModel (`procd top`'s pure state): selection kept by name across status
// snapshots and filters, key → command in each mode, the y/n question before
// stop and restart, the signal list, the bounded scroll-back and its scroll,
// search.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "procd/top_model.hpp"

using namespace procd;

namespace {

TopModel with(std::vector<std::string> names) {
  TopModel m;
  m.set_services(std::move(names));
  return m;
}

void type(TopModel& m, const std::string& text) {
  for (char c : text) m.on_key(static_cast<unsigned char>(c));
}

}  // namespace

TEST_CASE("top: the first service is selected and followed; the selection is kept by name") {
  TopModel m;
  TopCommand c = m.set_services({"api", "db", "web"});
  CHECK(c.verb == TopVerb::Follow);
  CHECK(c.service == "api");
  CHECK(m.on_key('j').service == "db");
  CHECK(m.on_key(top_key::Down).service == "web");
  CHECK(m.on_key('j').verb == TopVerb::None);  // the last row stays
  CHECK(m.selected() == "web");
  // A new snapshot with another order keeps "web"; no new follow.
  CHECK(m.set_services({"web", "api"}).verb == TopVerb::None);
  CHECK(m.selected_row() == 0);
  // The selected one gone: the nearest row is selected and followed.
  c = m.set_services({"api"});
  CHECK(c.verb == TopVerb::Follow);
  CHECK(c.service == "api");
  c = m.set_services({});
  CHECK(c.verb == TopVerb::Follow);
  CHECK(c.service.empty());
  CHECK(m.on_key('s').verb == TopVerb::None);
  CHECK(m.message() == "no service selected");
}

TEST_CASE("top: start runs at once, stop and restart ask y/n first") {
  TopModel m = with({"web", "db"});
  CHECK(m.on_key('s').verb == TopVerb::Start);
  CHECK(m.on_key('r').verb == TopVerb::None);
  CHECK(m.mode() == TopMode::Confirm);
  CHECK(m.question() == "restart web? y/n");
  TopCommand c = m.on_key('y');
  CHECK(c.verb == TopVerb::Restart);
  CHECK(c.service == "web");
  CHECK(m.mode() == TopMode::Table);
  m.on_key('x');
  CHECK(m.question() == "stop web? y/n");
  CHECK(m.on_key('n').verb == TopVerb::None);
  CHECK(m.message() == "stop cancelled");
  CHECK(m.on_key('l').verb == TopVerb::Reload);
  CHECK(m.message().empty());  // a key clears the message
  CHECK(m.on_key('q').verb == TopVerb::Quit);
}

TEST_CASE("top: S picks a signal from the list; one that ends a process asks y/n; Esc cancels") {
  TopModel m = with({"web"});
  m.on_key('S');
  CHECK(m.mode() == TopMode::PickSignal);
  m.on_key('j');
  m.on_key(top_key::Down);
  m.on_key('k');
  TopCommand c = m.on_key(top_key::Enter);
  CHECK(c.verb == TopVerb::Signal);
  CHECK(c.signal == "HUP");
  CHECK(m.mode() == TopMode::Table);
  m.on_key('S');
  CHECK(m.on_key('6').verb == TopVerb::None);
  CHECK(m.mode() == TopMode::Confirm);
  CHECK(m.question() == "send SIGKILL to web? y/n");
  c = m.on_key('y');
  CHECK(c.verb == TopVerb::Signal);
  CHECK(c.signal == "KILL");
  m.on_key('S');
  m.on_key(top_key::Enter);  // TERM
  CHECK(m.on_key('n').verb == TopVerb::None);
  CHECK(m.message() == "signal cancelled");
  m.on_key('S');
  CHECK(m.on_key('4').signal == "USR1");
  m.on_key('S');
  CHECK(m.on_key(top_key::Escape).verb == TopVerb::None);
  CHECK(m.mode() == TopMode::Table);
  CHECK(m.message() == "signal cancelled");
  CHECK(top_signals().size() == 6);
}

TEST_CASE("top: f filters by substring on Enter, Esc keeps the old filter, Backspace edits") {
  TopModel m = with({"api", "db", "web-1", "web-2"});
  m.on_key('f');
  CHECK(m.mode() == TopMode::Filter);
  type(m, "webx");
  m.on_key(top_key::Backspace);
  CHECK(m.typing() == "web");
  TopCommand c = m.on_key(top_key::Enter);
  CHECK(m.shown() == std::vector<std::string>{"web-1", "web-2"});
  CHECK(c.verb == TopVerb::Follow);
  CHECK(c.service == "web-1");
  // The filter holds across snapshots.
  m.set_services({"api", "web-2", "web-1", "web-3"});
  CHECK(m.shown() == std::vector<std::string>{"web-2", "web-1", "web-3"});
  m.on_key('f');
  type(m, "zzz");
  m.on_key(top_key::Escape);
  CHECK(m.filter() == "web");
  m.on_key('f');
  for (int i = 0; i < 3; ++i) m.on_key(top_key::Backspace);
  m.on_key(top_key::Enter);
  CHECK(m.shown().size() == 4);
  m.on_key('f');
  type(m, "nothing");
  m.on_key(top_key::Enter);
  CHECK(m.shown().empty());
  CHECK(m.selected().empty());
  CHECK(m.message() == "no service matches \"nothing\"");
}

TEST_CASE("top: the scroll-back is bounded and a scrolled-back reader keeps the same lines") {
  TopModel m = with({"web"});
  m.set_log_height(10);
  for (int i = 0; i < 25; ++i) m.add_log_line({"line " + std::to_string(i), '|'});
  CHECK(m.log_first() == 15);
  m.on_key(top_key::PageUp);
  CHECK(m.log_first() == 5);
  m.add_log_line({"line 25", '!'});
  CHECK(m.log_first() == 5);  // still the same page
  m.on_key(top_key::PageUp);
  CHECK(m.log_first() == 0);  // no further than the oldest
  m.on_key(top_key::PageDown);
  m.on_key(top_key::PageDown);
  m.on_key(top_key::PageDown);
  CHECK(m.log_first() == 16);
  for (std::size_t i = 0; i < kTopLogLines + 50; ++i) m.add_log_line({"more", '|'});
  CHECK(m.logs().size() == kTopLogLines);
  m.clear_logs();
  CHECK(m.logs().empty());
  CHECK(m.log_first() == 0);
}

TEST_CASE("top: Enter focuses the log pane, arrows scroll it, Esc goes back") {
  TopModel m = with({"web", "db"});
  m.set_log_height(5);
  for (int i = 0; i < 20; ++i) m.add_log_line({std::to_string(i), '|'});
  m.on_key(top_key::Enter);
  CHECK(m.mode() == TopMode::Logs);
  CHECK(m.on_key('j').verb == TopVerb::None);  // scrolls, does not select
  m.on_key(top_key::Up);
  m.on_key('k');
  CHECK(m.log_first() == 13);
  m.on_key(top_key::Home);
  CHECK(m.log_first() == 0);
  m.on_key(top_key::End);
  CHECK(m.log_first() == 15);
  m.on_key(top_key::Escape);
  CHECK(m.mode() == TopMode::Table);
  CHECK(m.on_key('j').service == "db");
}

TEST_CASE("top: / searches backwards from the bottom, n finds the one before") {
  TopModel m = with({"web"});
  m.set_log_height(3);
  for (int i = 0; i < 30; ++i) m.add_log_line({i % 10 == 4 ? "needle " + std::to_string(i) : "hay", '|'});
  m.on_key('/');
  CHECK(m.mode() == TopMode::Search);
  type(m, "needle");
  m.on_key(top_key::Enter);
  CHECK(m.mode() == TopMode::Table);
  CHECK(m.search_hit() == 24);
  CHECK(m.log_first() == 24);
  m.on_key('n');
  CHECK(m.search_hit() == 14);
  m.on_key('n');
  CHECK(m.search_hit() == 4);
  m.on_key('n');
  CHECK(m.search_hit() == -1);
  CHECK(m.message() == "not found: \"needle\"");
}

TEST_CASE("top: ? shows the help, any key leaves it") {
  TopModel m = with({"web"});
  m.on_key('?');
  CHECK(m.mode() == TopMode::Help);
  CHECK(m.on_key('q').verb == TopVerb::None);
  CHECK(m.mode() == TopMode::Table);
  bool lists_quit = false;
  for (const auto& l : top_help_lines()) lists_quit = lists_quit || l.rfind("q ", 0) == 0;
  CHECK(lists_quit);
}

TEST_CASE("top: a notice (a refused reload's errors) shows until the next key") {
  TopModel m = with({"web"});
  m.show_notice({});
  CHECK(m.mode() == TopMode::Table);
  m.show_notice({"error[1004]: procd.toml:3:11: bad", "error[1001]: procd.toml:7:1: worse"});
  CHECK(m.mode() == TopMode::Notice);
  CHECK(m.notice().size() == 2);
  CHECK(m.on_key('j').verb == TopVerb::None);  // the key only closes it
  CHECK(m.mode() == TopMode::Table);
  CHECK(m.selected() == "web");
}
