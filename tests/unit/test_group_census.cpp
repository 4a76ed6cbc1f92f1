// GroupCensus (pure): which groups have a live member descending from procd,
// from one snapshot of the process table.
#include <doctest/doctest.h>

#include "procd/group_census.hpp"

using namespace procd;

namespace {

ProcStat proc(pid_t pid, pid_t ppid, pid_t pgid, char state = 'S') {
  ProcStat st;
  st.pid = pid;
  st.ppid = ppid;
  st.pgid = pgid;
  st.state = state;
  return st;
}

}  // namespace

TEST_CASE("group census: a group lives while a live member descends from procd") {
  // procd 100 (its parent 1); group 200: leader reaped, its child 201
  // reparented to procd; group 300: a grandchild of procd; group 400: a
  // zombie only; group 500: an unrelated group (reused id) under init.
  std::vector<ProcStat> procs = {proc(1, 0, 1),         proc(100, 1, 100),     proc(201, 100, 200),
                                 proc(300, 100, 300),   proc(301, 300, 300),   proc(302, 301, 300),
                                 proc(401, 100, 400, 'Z'), proc(501, 1, 500),  proc(502, 501, 500)};
  GroupCensus c = GroupCensus::of(procs, 100);
  CHECK(c.alive(200));
  CHECK(c.alive(300));
  CHECK_FALSE(c.alive(400));
  CHECK_FALSE(c.alive(500));
  CHECK_FALSE(c.alive(100));  // procd's own group: procd does not descend from itself
  CHECK_FALSE(c.alive(1));
  CHECK_FALSE(c.alive(0));
  CHECK(c.groups() == 2);
}

TEST_CASE("group census: procd as PID 1 owns every chain; a parent missing from the snapshot does not") {
  std::vector<ProcStat> procs = {proc(1, 0, 1), proc(10, 1, 10), proc(11, 10, 10), proc(20, 1, 20, 'Z'),
                                 proc(31, 30, 30)};  // 30 exited between readdir and its stat
  GroupCensus c = GroupCensus::of(procs, 1);
  CHECK(c.alive(10));
  CHECK_FALSE(c.alive(20));
  CHECK_FALSE(c.alive(30));
}

TEST_CASE("group census: a cycle in a racy snapshot ends the walk") {
  std::vector<ProcStat> procs = {proc(7, 8, 7), proc(8, 7, 7)};
  CHECK_FALSE(GroupCensus::of(procs, 100).alive(7));
}
