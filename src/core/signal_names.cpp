// Signal names <-> numbers for the config file (stop_signal, signals.forward)
// and `procd signal`. Accepted spellings: "SIGTERM", "TERM", any case, the
// number "15", and "SIGRTMIN+N" / "RTMIN+N" / "SIGRTMAX-N". Only signals that
// exist on this platform are accepted; 0 and out-of-range numbers are not.
#include "procd/signal_names.hpp"

#include <csignal>
#include <cctype>
#include <charconv>

namespace procd {
namespace {

struct SignalEntry {
  const char* name;  // without the SIG prefix
  int number;
};

// Standard Linux signals in number order; aliases (IOT, POLL, CLD) follow
// their canonical name so signal_name() finds the canonical one first.
constexpr SignalEntry kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},     {"BUS", SIGBUS},     {"FPE", SIGFPE},
    {"KILL", SIGKILL},     {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT},
#endif
    {"CHLD", SIGCHLD},     {"CONT", SIGCONT},     {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},     {"URG", SIGURG},     {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH},
    {"IO", SIGIO},
#ifdef SIGPWR
    {"PWR", SIGPWR},
#endif
    {"SYS", SIGSYS},
    {"IOT", SIGIOT},
#ifdef SIGPOLL
    {"POLL", SIGPOLL},
#endif
#ifdef SIGCLD
    {"CLD", SIGCLD},
#endif
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::optional<int> parse_number(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool valid_number(int sig) { return sig >= 1 && sig < NSIG; }

// "RTMIN", "RTMIN+3", "RTMAX-2" (prefix already stripped).
std::optional<int> parse_realtime(std::string_view name) {
  for (bool is_min : {true, false}) {
    std::string_view base = is_min ? "RTMIN" : "RTMAX";
    if (name.size() < base.size() || !iequals(name.substr(0, base.size()), base)) continue;
    int sig = is_min ? SIGRTMIN : SIGRTMAX;
    std::string_view rest = name.substr(base.size());
    if (rest.empty()) return sig;
    char sign = rest.front();
    if (sign != (is_min ? '+' : '-')) return std::nullopt;
    auto offset = parse_number(rest.substr(1));
    if (!offset || *offset < 0) return std::nullopt;
    sig = is_min ? sig + *offset : sig - *offset;
    if (sig < SIGRTMIN || sig > SIGRTMAX) return std::nullopt;
    return sig;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int> parse_signal(std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(name.front()))) {
    auto number = parse_number(name);
    if (number && valid_number(*number)) return number;
    return std::nullopt;
  }
  if (name.size() > 3 && iequals(name.substr(0, 3), "SIG")) name.remove_prefix(3);
  for (const auto& entry : kSignals) {
    if (iequals(name, entry.name)) return entry.number;
  }
  return parse_realtime(name);
}

std::string signal_name(int sig) {
  for (const auto& entry : kSignals) {
    if (entry.number == sig) return std::string("SIG") + entry.name;
  }
  if (sig == SIGRTMIN) return "SIGRTMIN";
  if (sig > SIGRTMIN && sig <= SIGRTMAX) return "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  return "SIG" + std::to_string(sig);
}

}  // namespace procd
