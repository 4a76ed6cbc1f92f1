// Fuzz target: the CLI's reply parser against a hostile server: a reply
// line through parse_reply() (depth and size limits first), then what
// `procd status --json` does with the body (dump it) and what the stream
// reader checks per item.
// Invariants: parse_reply() never throws; a reply it accepts is nested at
// most kMaxJsonDepth levels (so dumping it cannot exhaust the stack) and
// dumps to one line; a refusal for depth carries ControlReplyRefused.
#include <string>
#include <string_view>

#include "fuzz_target.hpp"
#include "procd/protocol.hpp"

using procd::fuzz::fuzz_require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const bool too_deep = procd::json_nesting_exceeds(line);
  auto reply = procd::parse_reply(line);
  if (reply) {
    fuzz_require(!too_deep, "an accepted reply is within the depth limit");
    const std::string dumped = reply->body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    fuzz_require(!procd::json_nesting_exceeds(dumped), "the dumped reply is within the depth limit");
    const std::string item = procd::stream_item(reply->body);
    fuzz_require(!item.empty() && item.find('\n') == item.size() - 1, "a stream item is one line");
  } else if (too_deep) {
    fuzz_require(reply.error().code == procd::Code::ControlReplyRefused, "too deep is refused with 6014");
  }
  return 0;
}
