// Fuzz target: the control protocol's parsers, parse_request() (what the
// server reads from any local client) and parse_reply() (what the CLI reads).
// Invariants: neither throws; a parsed request re-encodes to one line that
// parses back to the same verb, names and flag; every encoder emits exactly
// one '\n', at the end, whatever bytes the error message carries.
#include <string>
#include <string_view>

#include "fuzz_target.hpp"
#include "procd/protocol.hpp"

using procd::fuzz::fuzz_require;

namespace {

void require_one_line(const std::string& line) {
  fuzz_require(!line.empty() && line.back() == '\n', "an encoded line ends in a newline");
  fuzz_require(line.find('\n') == line.size() - 1, "an encoded line has one newline");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);

  auto req = procd::parse_request(line);
  if (req) {
    std::string encoded = procd::encode_request(*req);
    require_one_line(encoded);
    encoded.pop_back();
    auto again = procd::parse_request(encoded);
    fuzz_require(again.ok() || again.error().code == procd::Code::ProtocolTooLarge,
                 "an encoded request parses");
    if (again) {
      fuzz_require(again->verb == req->verb, "verb round-trips");
      fuzz_require(again->names == req->names, "names round-trip");
      fuzz_require(again->all == req->all, "all round-trips");
    }
  } else {
    require_one_line(procd::reply_error(req.error()));
  }

  auto reply = procd::parse_reply(line);
  if (reply) {
    require_one_line(procd::stream_item(reply->body));
    if (!reply->ok) require_one_line(procd::reply_error(reply->error));
  }
  return 0;
}
