// Pure cgroup v2 decisions and parsers: see cgroup_layout.hpp.
#include "procd/cgroup_layout.hpp"

#include <charconv>

#include <fmt/format.h>

namespace procd {
namespace {

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      auto oct = [](char c) { return c >= '0' && c <= '7'; };
      if (oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
        out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string join_path(const std::string& a, std::string_view b) {
  if (b.empty() || b == "/") return a;
  std::string out = a;
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (b.front() != '/') out += '/';
  out += b;
  return out;
}

// Bytes a service name may hold ([A-Za-z0-9_.@-]): kept as they are.
bool name_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '@' || c == '-';
}

}  // namespace

std::optional<std::string> cgroup2_mount(std::string_view mountinfo) {
  for (auto line : lines_of(mountinfo)) {
    auto w = words_of(line);
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    for (std::size_t i = 5; i + 1 < w.size(); ++i)
      if (w[i] == "-") {
        if (w[i + 1] == "cgroup2") return unescape_octal(w[4]);
        break;
      }
  }
  return std::nullopt;
}

std::optional<std::string> own_cgroup(std::string_view proc_self_cgroup) {
  for (auto line : lines_of(proc_self_cgroup))
    if (line.starts_with("0::")) {
      auto path = line.substr(3);
      if (path.empty() || path.front() != '/') return std::nullopt;
      // "(deleted)" suffix or a path outside our namespace ("/../x") is not usable.
      if (path.find("/..") != std::string_view::npos) return std::nullopt;
      return std::string(path);
    }
  return std::nullopt;
}

std::string short_hash(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:08x}", static_cast<std::uint32_t>(h ^ (h >> 32)));
}

std::string cgroup_safe_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

CgroupLayout choose_layout(const std::string& mount, const std::string& own, bool own_is_alone,
                           const std::string& instance_name, const std::string& pid_file) {
  CgroupLayout l;
  std::string own_dir = join_path(mount, own);
  // Alone at "/" happens only as a container's PID 1 in its own cgroup
  // namespace (the host's root always holds init and kernel threads).
  if (own_is_alone) {
    l.mode = CgroupMode::Dedicated;
    l.base = own_dir;
    l.why = own == "/" ? std::string("procd is the only process of its cgroup namespace's root (a container)")
                       : fmt::format("procd is the only process of its cgroup {} (delegated)", own);
    return l;
  }
  l.mode = CgroupMode::Shared;
  l.base = join_path(own_dir, fmt::format("procd-{}-{}", cgroup_safe_name(instance_name), short_hash(pid_file)));
  l.why = own == "/" ? std::string("procd's cgroup is the root of the hierarchy, shared with the whole system")
                     : fmt::format("procd's cgroup {} holds other processes too", own);
  l.why += ": a dedicated subtree per procd instance";
  return l;
}

std::string service_cgroup_name(std::string_view service) {
  std::string out = "svc-";
  for (unsigned char c : service) out += name_byte(c) ? std::string(1, static_cast<char>(c)) : fmt::format("%{:02X}", c);
  return out;
}

std::optional<std::string> service_of_cgroup_name(std::string_view dir_name) {
  if (!dir_name.starts_with("svc-")) return std::nullopt;
  std::string out;
  for (std::size_t i = 4; i < dir_name.size(); ++i) {
    if (dir_name[i] != '%') {
      out += dir_name[i];
      continue;
    }
    unsigned value = 0;
    auto hex = dir_name.substr(i + 1, 2);
    auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
    if (hex.size() != 2 || ec != std::errc() || p != hex.data() + 2) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  // One spelling per name: "svc-%61" is not "a"'s directory.
  if (out.empty() || service_cgroup_name(out) != dir_name) return std::nullopt;
  return out;
}

std::optional<std::string> legacy_service_cgroup_name(std::string_view service) {
  std::string old = "svc-" + cgroup_safe_name(service);  // '.' and '@' became '_'
  if (old == service_cgroup_name(service)) return std::nullopt;
  return old;
}

std::optional<std::string> legacy_leftover_cgroup(const std::string& base, const std::string& service,
                                                  const std::vector<std::string>& configured) {
  auto old = legacy_service_cgroup_name(service);
  if (!old) return std::nullopt;
  for (const auto& other : configured)
    if (service_cgroup_name(other) == *old) return std::nullopt;  // today's cgroup of that service
  return join_path(base, *old);
}

std::string service_cgroup(const std::string& base, const std::string& service) {
  return join_path(base, service_cgroup_name(service));
}

std::optional<bool> parse_populated(std::string_view cgroup_events) {
  if (auto v = parse_keyed(cgroup_events, "populated")) return *v != 0;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_keyed(std::string_view text, std::string_view key) {
  for (auto line : lines_of(text)) {
    auto w = words_of(line);
    if (w.size() == 2 && w[0] == key) return to_u64(w[1]);
  }
  return std::nullopt;
}

std::optional<std::string> cpu_max_value(std::string_view configured) {
  constexpr std::uint64_t kPeriod = 100000;
  if (configured == "max") return fmt::format("max {}", kPeriod);
  if (configured.size() < 2 || configured.back() != '%') return std::nullopt;
  auto pct = to_u64(configured.substr(0, configured.size() - 1));
  if (!pct || *pct == 0 || *pct > 100000) return std::nullopt;
  return fmt::format("{} {}", *pct * kPeriod / 100, kPeriod);
}

bool has_controller(std::string_view list, std::string_view controller) {
  for (auto w : words_of(list))
    if (w == controller) return true;
  return false;
}

std::vector<int> parse_pids(std::string_view text) {
  std::vector<int> out;
  for (auto line : lines_of(text))
    if (auto v = to_u64(line); v && *v > 0 && *v < (1u << 31)) out.push_back(static_cast<int>(*v));
  return out;
}

bool only_process(std::string_view cgroup_procs, int self) {
  int seen = 0;
  for (auto line : lines_of(cgroup_procs)) {
    if (line.empty()) continue;
    // A process outside procd's PID namespace is listed as 0: still a process.
    if (to_u64(line) != std::optional<std::uint64_t>(static_cast<std::uint64_t>(self))) return false;
    ++seen;
  }
  return seen == 1;
}

}  // namespace procd
