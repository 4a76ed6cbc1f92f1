// Fuzz target: HttpReplyReader, the reply reader of `procd top --http`,
// `procd probe` and the daemon's http health check (whatever answers on the
// URL writes into it). The input is one reply as received; it is fed whole
// and in pieces whose sizes come from the input, in every mode, with the
// default limits and with small ones (Status: a total of half the input).
// Invariants: after finish() the state is decided, and a state decided
// before it is final; Complete carries a 3-digit status and no reason,
// Malformed a reason; the split changes neither the state, the status, the
// reason, the body nor the lines, nor the bytes parsed (Complete, or
// Status); no kept line or body exceeds its limit; Status keeps no body and
// parses nothing past its total. The corpus holds the health check's
// replies too (health_*: the former fuzz_health_http's).
#include <string>
#include <string_view>

#include "fuzz_target.hpp"
#include "procd/http_reply_reader.hpp"

using procd::HttpReplyLimits;
using procd::HttpReplyReader;
using procd::fuzz::fuzz_require;
using Mode = HttpReplyReader::Mode;
using State = HttpReplyReader::State;

namespace {

// Piece sizes 1..16, cycling over the input's own bytes.
void feed_in_pieces(HttpReplyReader& r, std::string_view text) {
  for (size_t at = 0, i = 0; at < text.size(); ++i) {
    const size_t piece = 1 + static_cast<unsigned char>(text[i % text.size()]) % 16;
    r.feed(text.substr(at, piece));
    at += piece;
  }
}

void check(Mode mode, std::string_view text, HttpReplyLimits limits) {
  HttpReplyReader whole(mode, limits), pieces(mode, limits);
  const State fed = whole.feed(text);
  const unsigned fed_status = whole.status();
  feed_in_pieces(pieces, text);
  const State a = whole.finish(), b = pieces.finish();
  fuzz_require(a != State::NeedMore, "finish() decides");
  if (fed != State::NeedMore) fuzz_require(a == fed && whole.status() == fed_status, "a decided state is final");
  if (a == State::Complete) {
    fuzz_require(whole.status() >= 100 && whole.status() <= 999, "a status has 3 digits");
    fuzz_require(whole.reason().empty(), "Complete has no reason");
  } else {
    fuzz_require(!whole.reason().empty(), "Malformed has a reason");
  }
  fuzz_require(a == b && whole.status() == pieces.status() && whole.reason() == pieces.reason(), "the split does not matter");
  fuzz_require(whole.consumed() <= text.size(), "parsed only what was fed");
  if (a == State::Complete || mode == Mode::Status) fuzz_require(whole.consumed() == pieces.consumed(), "the split parses the same bytes");
  fuzz_require(whole.body() == pieces.body() && whole.lines() == pieces.lines(), "the same body and lines");
  fuzz_require(whole.body().size() <= limits.body, "the body within its limit");
  for (const auto& l : whole.lines()) fuzz_require(l.size() <= limits.line, "each line within its limit");
  if (limits.total) fuzz_require(whole.consumed() <= limits.total, "nothing past the total is parsed");
  if (mode == Mode::Status) fuzz_require(whole.body().empty() && whole.lines().empty(), "Status keeps no body");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (Mode mode : {Mode::Whole, Mode::Lines, Mode::Status}) check(mode, text, HttpReplyReader::default_limits(mode));
  check(Mode::Lines, text, HttpReplyLimits{64, 32, 16});
  check(Mode::Whole, text, HttpReplyLimits{64, 32, 16});
  HttpReplyLimits half = HttpReplyReader::default_limits(Mode::Status);
  half.total = size / 2 + 1;  // 0 would mean no bound
  check(Mode::Status, text, half);
  return 0;
}
