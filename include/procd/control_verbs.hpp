// The control verbs as one table: verb name → handler. A handler answers one
// request on its connection through the Supervisor's control members only
// (supervisor.hpp, "What a control verb may ask"); reply shapes come from
// protocol.hpp. Every verb protocol.cpp accepts has exactly one row.
#pragma once

#include <string_view>

namespace procd {

class ControlConnection;
class Supervisor;
struct Request;

using VerbHandler = void (*)(Supervisor& sup, ControlConnection& conn, const Request& req);

// nullptr for a verb with no row.
VerbHandler find_verb_handler(std::string_view verb);

}  // namespace procd
