// `procd status --watch`: the status table redrawn in place on every change.
// Event-driven: it subscribes to the supervisor's `events` stream and takes
// one status snapshot per batch of events; the only timed wake-up is the
// uptime column's once a second, and only while some service has a process.
// A terminal resize (SIGWINCH) re-lays the table out. On a terminal it draws
// on the alternate screen with the cursor hidden and restores both on every
// exit (Ctrl-C, SIGTERM, SIGHUP, the supervisor going away); elsewhere it
// prints each changed table after a blank line. Invariants: every wait is a
// poll() on the events socket and a self-pipe written by the signal
// handlers; nothing is drawn twice for one snapshot.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "control_internal.hpp"
#include "procd/cli.hpp"
#include "procd/control_client.hpp"

namespace procd::cli {
namespace {

using json = nlohmann::json;

int g_wake[2] = {-1, -1};
volatile sig_atomic_t g_quit = 0;

void on_signal(int sig) {
  if (sig != SIGWINCH) g_quit = sig;
  int saved = errno;
  if (g_wake[1] >= 0) {
    ssize_t ignored = ::write(g_wake[1], "x", 1);
    (void)ignored;
  }
  errno = saved;
}

// The alternate screen with a hidden cursor, left on every return.
struct Screen {
  bool tty = ::isatty(STDOUT_FILENO) == 1;
  Screen() {
    if (tty) fmt::print("\033[?1049h\033[?25l");
  }
  ~Screen() {
    if (tty) fmt::print("\033[?25h\033[?1049l");
    std::fflush(stdout);
  }
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;
};

std::size_t terminal_rows() {
  struct winsize ws {};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
  return 24;
}

std::string clock_now() {
  time_t t = ::time(nullptr);
  struct tm tm {};
  ::localtime_r(&t, &tm);
  return fmt::format("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

bool any_process(const json& body) {
  for (const auto& s : list_of(body, "services"))
    if (pid_of(s) > 0) return true;
  return false;
}

// The loop: a snapshot, drawn if it changed, then a wait for events, a
// signal or the next second. Ok when a signal ends it.
Result<void> watch_loop(ControlClient& events, const std::string& socket, const std::vector<std::string>& names,
                        bool wide, bool tty) {
  std::vector<std::string> shown;
  bool first = true;
  for (;;) {
    if (g_quit) return {};
    auto body = call_ok(socket, make_request("status", names));
    if (!body.ok()) return body.error();
    std::vector<std::string> table = status_table_lines(*body, wide, tty ? status_terminal_width() : 0);
    if (tty) {
      std::size_t room = terminal_rows() > 2 ? terminal_rows() - 2 : 1;
      if (table.size() > room) {
        std::size_t more = table.size() - room + 1;
        table.resize(room - 1);
        table.push_back(fmt::format("… {} more (a taller terminal, or procd status NAME…)", more));
      }
      // The header's clock says when the snapshot was taken.
      std::string header = fmt::format("procd status --watch  {}  (Ctrl-C to quit)", clock_now());
      fmt::print("\033[H{}\033[K\n", header);
      for (const auto& line : table) fmt::print("{}\033[K\n", line);
      fmt::print("\033[J");
    } else if (table != shown) {
      if (!first) fmt::print("\n");
      for (const auto& line : table) fmt::print("{}\n", line);
    }
    std::fflush(stdout);
    shown = std::move(table);
    first = false;

    // Wait: an event, a signal, or (only while a process runs) the uptime tick.
    int timeout = -1;
    if (any_process(*body)) {
      timespec ts{};
      ::clock_gettime(CLOCK_REALTIME, &ts);
      timeout = 1000 - static_cast<int>(ts.tv_nsec / 1000000);
    }
    pollfd fds[2] = {{events.fd(), POLLIN, 0}, {g_wake[0], POLLIN, 0}};
    int r = ::poll(fds, 2, timeout);
    if (r < 0 && errno != EINTR) return make_error(Code::IoSocket, fmt::format("poll: {}", std::strerror(errno)));
    char buf[64];
    while (::read(g_wake[0], buf, sizeof buf) > 0) {
    }
    if (r > 0 && fds[0].revents) {
      for (;;) {  // every event there is: one snapshot for the batch
        auto item = events.next_item(0);
        if (!item.ok())
          return make_error(Code::ControlUnreachable, fmt::format("procd went away ({})", item.error().message));
        if (!*item) break;
      }
    }
  }
}

}  // namespace

int watch_status(const std::string& socket, const std::vector<std::string>& names, bool wide) {
  if (::pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0)
    return fail(make_error(Code::IoSocket, fmt::format("cannot make a pipe: {}", std::strerror(errno))));
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll() returns at once
  ::sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) ::sigaction(sig, &sa, nullptr);

  ControlClient events;
  if (auto c = events.connect(socket); !c.ok()) return fail(c.error());
  if (auto o = events.open_stream(make_request("events")); !o.ok()) return fail(o.error());
  Result<void> ended = [&] {
    Screen screen;  // restored before anything below is printed
    return watch_loop(events, socket, names, wide, screen.tty);
  }();
  if (!ended.ok()) return fail(ended.error());
  // Ended by a signal: 0 for Ctrl-C as `watch` does, 128+N for the others.
  return g_quit == SIGINT || g_quit == 0 ? kExitOk : 128 + g_quit;
}

}  // namespace procd::cli
