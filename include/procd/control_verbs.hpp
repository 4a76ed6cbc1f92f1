// The control verbs as one table: verb name → handler. A handler answers one
// request on its connection through the front ends (front_ends.hpp) and the Supervisor's
// members for users (supervisor.hpp); reply shapes come from
// protocol.hpp. Every verb protocol.cpp accepts has exactly one row.
#pragma once

#include <string_view>

namespace procd {

class ControlConnection;
class FrontEnds;
struct Request;

using VerbHandler = void (*)(FrontEnds& front, ControlConnection& conn, const Request& req);

// nullptr for a verb with no row.
VerbHandler find_verb_handler(std::string_view verb);

}  // namespace procd
