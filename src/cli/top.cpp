// `procd top`: a live terminal UI over the control socket (a pure client:
// the supervisor keeps no state for it). The loop waits in one poll() on
// stdin, the events stream, the selected service's followed logs and a
// self-pipe written by the signal handlers (SIGWINCH re-lays out; SIGINT,
// SIGTERM, SIGHUP quit). It redraws only after one of those woke it; the one
// timer is the uptime column's tick once a second, armed only while some
// service has a process, or the reconnect attempt once a second after procd
// went away. Invariants: the terminal is restored (endwin) on every return;
// every verb is one request whose error lands in the status line.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control_internal.hpp"
#include "procd/cli.hpp"
#include "procd/top_model.hpp"
#include "procd/top_screen.hpp"
#include "top_session.hpp"

namespace procd {
namespace {

int g_wake[2] = {-1, -1};
volatile sig_atomic_t g_quit = 0;
volatile sig_atomic_t g_resized = 0;

void on_signal(int sig) {
  if (sig == SIGWINCH) g_resized = 1;
  else g_quit = sig;
  int saved = errno;
  if (g_wake[1] >= 0) {
    ssize_t ignored = ::write(g_wake[1], "x", 1);
    (void)ignored;
  }
  errno = saved;
}

// A status snapshot (CPU, RSS) every this many ticks while nothing else
// asks for one: each costs a request, the tick alone only a redraw.
constexpr unsigned kRefreshEvery = 5;

// Milliseconds to the next whole second of the wall clock (the tick).
int to_next_second() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return 1000 - static_cast<int>(ts.tv_nsec / 1000000);
}

// The model's services (and their dependencies, for the tree) from the session's snapshot.
TopCommand take_services(TopModel& model, const cli::TopSession& session) {
  std::vector<std::string> names;
  for (const auto& s : cli::list_of(session.status(), "services")) names.push_back(cli::str_of(s, "name"));
  return model.set_services(std::move(names), session.depends_on());
}

// Carry out what a key asked for; false on quit.
bool carry_out(const TopCommand& cmd, cli::TopSession& session, TopModel& model) {
  switch (cmd.verb) {
    case TopVerb::None: return true;
    case TopVerb::Quit: return false;
    case TopVerb::Follow: session.follow(cmd.service, model); return true;
    default: break;
  }
  if (!session.connected()) {
    model.set_message("procd went away; reconnecting…");
    return true;
  }
  model.set_message(session.run(cmd));
  model.show_notice(session.take_notice());
  if (session.refresh()) carry_out(take_services(model, session), session, model);
  return true;
}

}  // namespace

int cmd_top(const GlobalOptions& g, const std::string& http_url, const std::string& token_file) {
  std::unique_ptr<cli::TopLink> link;
  if (!http_url.empty()) {
    auto ep = cli::http_endpoint(http_url, token_file);
    if (!ep.ok()) return cli::fail(ep.error());
    link = cli::http_link(std::move(*ep));
  } else {
    if (!token_file.empty()) return cli::fail(make_error(Code::RuntimeUsage, "--token-file goes with --http URL"));
    SocketTarget t;
    if (int rc = resolve_socket(g, t)) return rc;
    link = cli::socket_link(t.path);
  }
  if (::pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0)
    return cli::fail(make_error(Code::IoSocket, fmt::format("cannot make a pipe: {}", std::strerror(errno))));
  // Ours before initscr: ncurses then installs none of its own.
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll() returns at once
  ::sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) ::sigaction(sig, &sa, nullptr);

  cli::TopSession session(std::move(link));
  if (!session.connect()) {
    const Error& e = session.last_error();
    if (!http_url.empty()) return cli::fail(e);
    return cli::fail(make_error(Code::ControlUnreachable, fmt::format("no procd answers {}", session.where())));
  }
  TopModel model;
  TopScreen screen;
  std::string why;
  if (!screen.open(why)) return cli::fail(make_error(Code::RuntimeUsage, why));
  carry_out(take_services(model, session), session, model);
  session.drain_logs(model);

  bool dirty = true;
  unsigned ticks = 0;
  for (;;) {
    if (g_quit) break;
    if (dirty) screen.draw(session.frame(model, screen.ascii()), model);
    dirty = false;
    int timeout = !session.connected() ? 1000 : session.any_process() ? to_next_second() : -1;
    pollfd fds[4] = {{STDIN_FILENO, POLLIN, 0}, {g_wake[0], POLLIN, 0}, {session.events_fd(), POLLIN, 0},
                     {session.logs_fd(), POLLIN, 0}};
    int r = ::poll(fds, 4, timeout);
    if (r < 0 && errno != EINTR) break;
    char buf[64];
    while (::read(g_wake[0], buf, sizeof buf) > 0) {
    }
    if (g_resized) {
      g_resized = 0;
      screen.resize();
      dirty = true;
    }
    if (r == 0) {  // the tick, or the next reconnect attempt
      if (!session.connected()) {
        if (session.connect()) {
          model.set_message("procd is back");
          session.follow(model.selected(), model);
          carry_out(take_services(model, session), session, model);
        }
      } else if (++ticks % kRefreshEvery == 0) {
        session.refresh();  // CPU and RSS; the uptime advances without asking
      }
      dirty = true;
    }
    if (r > 0 && fds[0].revents) {
      bool quit = false;
      for (int key : screen.read_keys()) quit = quit || !carry_out(model.on_key(key), session, model);
      if (quit) break;
      dirty = true;
    }
    if (r > 0 && fds[2].revents && session.connected()) {
      if (session.drain_events() && session.refresh()) {
        carry_out(take_services(model, session), session, model);
      } else if (!session.connected()) {
        model.set_message("procd went away; reconnecting… (q quits)");
      }
      dirty = true;
    }
    if (r > 0 && fds[3].revents) {
      session.drain_logs(model);
      dirty = true;
    }
  }
  screen.close();
  // Quit by q or Ctrl-C: 0; by SIGTERM or SIGHUP: 128+N as the shell expects.
  return g_quit == 0 || g_quit == SIGINT ? kExitOk : 128 + g_quit;
}

}  // namespace procd
