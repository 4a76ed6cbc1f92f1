// Drop-ins: the top-level `include = ["conf.d/*.toml"]` (SPEC Part 2
// "Composing the configuration"). Each file read, the main one first, is
// interpolated on its own tree, then its includes are expanded with
// glob(3) relative to ITS directory and sorted bytewise, and the
// [services.*] tables of every included file are merged into the main
// tree, where the typed conversion and validation see them like any other.
// Invariants: an included file holds only `services` (and `include`); a
// service defined in two places is one error naming both; a file being
// read cannot be included again below itself (a cycle, error 1038), while
// a file matched twice elsewhere is read once; every file read is recorded
// (ConfigSources) for the content hash and the file watch; an error in an
// included file is located in that file (toml11 keeps each value's file).
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <set>

#include "src/config/config_internal.hpp"
#include "src/config/utf8_check.hpp"

namespace procd::config_detail {
namespace fs = std::filesystem;
namespace {

std::string where_text(const Location& l) { return fmt::format("{}:{}:{}", l.file, l.line, l.column); }

bool has_wildcard(const std::string& pattern) { return pattern.find_first_of("*?[") != std::string::npos; }

// Whole file, without blocking on a FIFO, bounded (config_read_policy);
// nullopt with the reason in *why.
std::optional<std::string> read_regular_file(const std::string& file, std::string* why) {
  auto text = read_bounded(file, config_read_policy());
  if (!text.ok()) return *why = text.error().message, std::nullopt;
  return std::move(*text);
}

class Composer {
 public:
  Composer(const Environment& env, bool follow, ConfigSources& sources, Diagnostics& diag)
      : env_(env), follow_(follow), sources_(sources), diag_(diag) {}

  void compose(toml::value& root, const std::string& path) {
    main_ = &root;
    std::string canonical = canonical_of(path);
    stack_.push_back(canonical);
    done_.insert(canonical);
    process(root, path, true);
  }

 private:
  static std::string canonical_of(const std::string& path) {
    std::error_code ec;
    auto c = fs::weakly_canonical(fs::absolute(path, ec), ec);
    return ec ? path : c.string();
  }

  toml::value* main_services() {
    auto& table = main_->as_table();
    auto it = table.find("services");
    if (it == table.end()) it = table.emplace("services", toml::table{}).first;
    return it->second.is_table() ? &it->second : nullptr;  // a non-table is convert_config's to report
  }

  void process(toml::value& root, const std::string& path, bool is_main) {
    if (!root.is_table()) return;
    interpolate_tree(root, env_, diag_);
    if (is_main) {
      if (const toml::value* services = child(&root, "services"); services && services->is_table())
        for (const auto& [name, value] : services->as_table()) defined_.emplace(name, diag_.locate(value, ""));
    } else {
      merge_services(root);
    }
    if (const toml::value* include = child(&root, "include")) expand_includes(*include, path);
  }

  void merge_services(const toml::value& root) {
    for (const auto& [key, value] : in_file_order(root)) {
      if (key == "services" || key == "include") continue;
      diag_.add(Code::ConfigIncludeNotServices, *value, key,
                fmt::format("an included file may hold only [services.*] tables (and include), not \"{}\"", key));
    }
    const toml::value* services = child(&root, "services");
    if (services == nullptr) return;
    if (!services->is_table()) {
      diag_.add(Code::ConfigWrongType, *services, "services", "expected a table, found " + describe_type(*services));
      return;
    }
    toml::value* into = main_services();
    if (into == nullptr) return;
    for (const auto& [name, value] : in_file_order(*services)) {
      Location here = diag_.locate(*value, "");
      if (auto [it, inserted] = defined_.emplace(name, here); !inserted) {
        diag_.add(Code::ConfigDuplicateName, here, "services." + name,
                  fmt::format("service \"{}\" is defined twice: here and at {}", name, where_text(it->second)));
        continue;
      }
      into->as_table().emplace(name, *value);
    }
  }

  void expand_includes(const toml::value& include, const std::string& path) {
    std::vector<const toml::value*> patterns;
    if (include.is_string()) {
      patterns.push_back(&include);
    } else if (include.is_array()) {
      for (const auto& item : include.as_array()) {
        if (item.is_string()) patterns.push_back(&item);
        else diag_.add(Code::ConfigWrongType, item, "include", "expected a file name or glob, found " + describe_type(item));
      }
    } else {
      diag_.add(Code::ConfigWrongType, include, "include", "expected an array of file names or globs, found " + describe_type(include));
    }
    if (!follow_) return;
    const fs::path dir = fs::path(path).parent_path();
    for (const toml::value* at : patterns) {
      const std::string& pattern = at->as_string().str;
      if (pattern.empty()) {
        diag_.add(Code::ConfigInvalidValue, *at, "include", "empty include pattern");
        continue;
      }
      std::string full = fs::path(pattern).is_absolute() || dir.empty() ? pattern : (dir / pattern).string();
      std::error_code ec;
      sources_.globs.push_back(fs::absolute(full, ec).lexically_normal().string());
      for (const auto& file : glob_sorted(full, *at)) include_file(file, *at);
    }
  }

  std::vector<std::string> glob_sorted(const std::string& full, const toml::value& at) {
    std::vector<std::string> out;
    glob_t g{};
    int rc = ::glob(full.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    } else if (rc == GLOB_NOMATCH && !has_wildcard(full)) {
      // A file named without wildcards must exist; an empty conf.d is fine.
      diag_.add(Code::ConfigIncludeUnreadable, at, "include", fmt::format("cannot include {}: no such file", full));
    } else if (rc != GLOB_NOMATCH) {
      diag_.add(Code::ConfigIncludeUnreadable, at, "include", fmt::format("cannot expand include pattern {}", full));
    }
    ::globfree(&g);
    std::sort(out.begin(), out.end());  // bytewise, whatever the locale
    return out;
  }

  void include_file(const std::string& file, const toml::value& at) {
    std::string canonical = canonical_of(file);
    if (std::find(stack_.begin(), stack_.end(), canonical) != stack_.end()) {
      std::string chain;
      for (const auto& f : stack_) chain += f + " -> ";
      diag_.add(Code::ConfigIncludeCycle, at, "include", "include cycle: " + chain + canonical);
      return;
    }
    if (!done_.insert(canonical).second) return;
    std::string why;
    auto text = read_regular_file(file, &why);
    if (!text) {
      diag_.add(Code::ConfigIncludeUnreadable, at, "include", fmt::format("cannot include {}: {}", file, why));
      return;
    }
    sources_.files.push_back(file);
    sources_.all_text += file + '\0' + *text + '\0';
    diag_.add_file(file);
    auto tree = parse_toml_text(*text, file, diag_);
    if (!tree) return;
    stack_.push_back(canonical);
    process(*tree, file, false);
    stack_.pop_back();
  }

  const Environment& env_;
  bool follow_;
  ConfigSources& sources_;
  Diagnostics& diag_;
  toml::value* main_ = nullptr;
  std::vector<std::string> stack_;      // canonical paths being read: a repeat is a cycle
  std::set<std::string> done_;          // canonical paths read already
  std::map<std::string, Location> defined_;  // service name -> where it was first defined
};

}  // namespace

void compose_config(toml::value& root, const std::string& path, const Environment& env, bool follow_includes,
                    ConfigSources& sources, Diagnostics& diag) {
  Composer(env, follow_includes, sources, diag).compose(root, path);
}

}  // namespace procd::config_detail
