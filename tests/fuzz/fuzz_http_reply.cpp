// Fuzz target: HttpReplyReader, the reply reader of `procd top --http`
// (whatever answers on the URL writes into it). The input is one reply as
// received; it is fed whole and in pieces whose sizes come from the input,
// in both modes, and once with small limits. Invariants: after finish()
// the state is decided; Malformed has a reason; the split changes neither
// the state, the status, the body nor the lines; no kept line or body
// exceeds its limit.
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

void feed_in_pieces(HttpReplyReader& r, std::string_view text) {
  for (size_t at = 0, i = 0; at < text.size(); ++i) {
    const size_t piece = 1 + static_cast<unsigned char>(text[i % text.size()]) % 16;
    r.feed(text.substr(at, piece));
    at += piece;
  }
}

void check(Mode mode, std::string_view text, HttpReplyLimits limits) {
  HttpReplyReader whole(mode, limits), pieces(mode, limits);
  whole.feed(text);
  feed_in_pieces(pieces, text);
  const State a = whole.finish(), b = pieces.finish();
  fuzz_require(a != State::NeedMore, "finish() decides");
  fuzz_require(a != State::Malformed || !whole.reason().empty(), "Malformed has a reason");
  fuzz_require(a == b && whole.status() == pieces.status() && whole.reason() == pieces.reason(), "the split does not matter");
  fuzz_require(whole.body() == pieces.body() && whole.lines() == pieces.lines(), "the same body and lines");
  fuzz_require(whole.body().size() <= limits.body, "the body within its limit");
  for (const auto& l : whole.lines()) fuzz_require(l.size() <= limits.line, "each line within its limit");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(Mode::Whole, text, {});
  check(Mode::Lines, text, {});
  check(Mode::Lines, text, HttpReplyLimits{64, 32, 16});
  check(Mode::Whole, text, HttpReplyLimits{64, 32, 16});
  return 0;
}
