// Fuzz target: HttpResponseParser, the http health check's response reader
// (whatever listens on a health check's port writes into it). The input is
// one response as received; it is fed whole, then again in pieces whose
// sizes come from the input itself, then with a limit of half its size.
// Invariants: after finish() the outcome is decided; Complete carries a
// 3-digit status and no reason, Malformed a reason; the split does not
// change the outcome; nothing past the limit is parsed.
#include <string>
#include <string_view>

#include "fuzz_target.hpp"
#include "procd/http_response.hpp"

using procd::HttpResponseParser;
using procd::fuzz::fuzz_require;
using State = HttpResponseParser::State;

namespace {

// Piece sizes 1..16, cycling over the input's own bytes.
void feed_in_pieces(HttpResponseParser& p, std::string_view text) {
  for (size_t at = 0, i = 0; at < text.size(); ++i) {
    const size_t piece = 1 + static_cast<unsigned char>(text[i % text.size()]) % 16;
    p.feed(text.substr(at, piece));
    at += piece;
  }
}

void check_decided(const HttpResponseParser::Outcome& o) {
  fuzz_require(o.state != State::NeedMore, "finish() decides");
  if (o.state == State::Complete) {
    fuzz_require(o.status >= 100 && o.status <= 999, "a status has 3 digits");
    fuzz_require(o.reason.empty(), "Complete has no reason");
  } else {
    fuzz_require(!o.reason.empty(), "Malformed has a reason");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  HttpResponseParser whole;
  whole.feed(text);
  const HttpResponseParser::Outcome before_close = whole.outcome();
  const auto& a = whole.finish();
  check_decided(a);
  if (before_close.state != State::NeedMore)
    fuzz_require(a.state == before_close.state && a.status == before_close.status, "a decided outcome is final");
  fuzz_require(whole.consumed() <= size, "consumed only what was fed");

  HttpResponseParser pieces;
  feed_in_pieces(pieces, text);
  const auto& b = pieces.finish();
  fuzz_require(a.state == b.state && a.status == b.status && a.reason == b.reason, "the split does not matter");
  fuzz_require(whole.consumed() == pieces.consumed(), "the split consumes the same bytes");

  const size_t limit = size / 2;
  HttpResponseParser small(limit);
  small.feed(text);
  check_decided(small.finish());
  fuzz_require(small.consumed() <= limit, "nothing past the limit is parsed");
  return 0;
}
