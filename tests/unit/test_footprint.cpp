// What one service costs procd in memory (issue 25: RSS at N=1000 under
// 10 MiB). Every service holds these objects for procd's whole life, so a
// member added here is paid N times: the bounds below are the sizes reached
// (GCC 12, x86-64) and fail when they grow. Raise one only on purpose, and
// say in bench/README.md ("Daemon layer 2") what it costs at N=1000.
#include <doctest/doctest.h>

#include <type_traits>

#include "procd/service.hpp"

using namespace procd;

TEST_CASE("footprint: an empty start window allocates nothing") {
  // std::deque allocated a 512-byte block and its map even when empty (and
  // again on every copy of the machine state): ~600 B a service.
  CHECK(std::is_nothrow_default_constructible_v<StartWindow>);
}

TEST_CASE("footprint: per-service objects stay within their bounds") {
  // 1264 B before: the start window's deque (80 B inline), the log files
  // (~90 B), the stop histogram (128 B) and the ready pattern, now behind
  // pointers made when first needed.
  // Then 1152 / 184 B with the reasons of issue 27; 976 / 88 B since:
  // one-byte enums, members ordered by size, the failure texts behind one
  // shared pointer made when a run fails, the repeated-log streak behind
  // one made on the first warning. Issue 28 (hooks): +8 B, one pointer to
  // the hook state made on a service's first hook; ServiceConfig +104 B
  // (four hook commands and reload_signal).
  CHECK(sizeof(Service) <= 984);
  CHECK(sizeof(ServiceState) <= 88);
  CHECK(sizeof(MachineSpec) <= 144);
  // 760 B, then 816 B with issue 28's replicas (group name, instance, port,
  // ReplicaGroup), then + its hooks (four argv vectors, reload_signal) and
  // depends_on as written (24 B): under 1 KB a service.
  CHECK(sizeof(ServiceConfig) <= 944);
}
