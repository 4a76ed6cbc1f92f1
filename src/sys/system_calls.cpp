// The real SystemCalls: see system_calls.hpp.
#include "procd/system_calls.hpp"

namespace procd {
namespace {

class RealSystemCalls final : public SystemCalls {
 public:
  Result<SpawnedProcess> spawn(const SpawnRequest& req) override { return spawn_process(req); }
  Result<void> signal_group(pid_t pgid, int sig) override { return procd::signal_group(pgid, sig); }
  bool group_exists(pid_t pgid) override { return procd::group_exists(pgid); }
  GroupCensus group_census() override { return procd::group_census(); }
  std::optional<Reaped> reap_one() override { return procd::reap_one(); }
  Result<void> become_subreaper() override { return procd::become_subreaper(); }
  Millis now(uv_loop_t* loop) override {
    uv_update_time(loop);
    return static_cast<Millis>(uv_now(loop));
  }
  Result<std::unique_ptr<CgroupTree>> setup_cgroups(const CgroupTree::Options& opt) override { return CgroupTree::setup(opt); }
};

}  // namespace

SystemCalls& real_system_calls() {
  static RealSystemCalls sys;
  return sys;
}

}  // namespace procd
