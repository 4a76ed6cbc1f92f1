// procd's own sd_notify messages to the service manager that started it
// (manager_notify.cpp): READY=1 once every autostart service has settled,
// STATUS= on each change, RELOADING=1 / READY=1 around a reload, STOPPING=1,
// and WATCHDOG=1 at half of WATCHDOG_USEC. Does nothing when NOTIFY_SOCKET
// is unset.
#pragma once

#include <string>
#include <vector>

#include "procd/supervision_rules.hpp"
#include "procd/timer.hpp"

namespace procd {

class ManagerNotifier {
 public:
  // After the autostart requests: READY=1 may go out from here on.
  void start(uv_loop_t* loop, const std::vector<SettleView>& services);
  void update(const std::vector<SettleView>& services, bool shutting_down);
  void reloading();
  void reloaded();
  void stopping();
  void close() { watchdog_.close(); }

 private:
  Timer watchdog_;
  bool active_ = false;
  bool ready_sent_ = false;
  std::string last_status_;
};

}  // namespace procd
