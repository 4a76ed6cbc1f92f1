// Fuzz target: log framing, LineSplitter (every byte a service writes goes
// through it). Input: two bytes of max_line (1..65536+), one byte seeding
// the chunk sizes, then the service's bytes, fed in those chunks.
// Invariants: no emitted piece is longer than max_line or holds a '\n';
// no more bytes come out than went in; the feed_plain() fast path gives the
// same stream, byte for byte, as feed() alone.
#include <algorithm>
#include <string>
#include <string_view>

#include "fuzz_target.hpp"
#include "procd/output.hpp"

using procd::fuzz::fuzz_require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t max_line = 1 + (static_cast<std::size_t>(data[0]) | static_cast<std::size_t>(data[1]) << 8);
  std::uint32_t seed = data[2];
  const std::string_view input(reinterpret_cast<const char*>(data) + 3, size - 3);

  procd::LineSplitter slow(max_line), fast(max_line);
  std::string slow_out, fast_out;
  auto on_slow = [&](std::string_view line) {
    fuzz_require(line.size() <= max_line, "a piece is at most max_line bytes");
    fuzz_require(line.find('\n') == std::string_view::npos, "a piece holds no newline");
    slow_out.append(line).push_back('\n');
  };
  auto on_fast_line = [&](std::string_view line) { fast_out.append(line).push_back('\n'); };
  auto on_block = [&](std::string_view head, std::string_view body) { fast_out.append(head).append(body); };

  for (std::size_t off = 0; off < input.size();) {
    seed = seed * 1103515245u + 12345u;
    const std::size_t n = std::min<std::size_t>(input.size() - off, 1 + (seed >> 16) % (2 * max_line + 64));
    const std::string_view chunk = input.substr(off, n);
    slow.feed(chunk, on_slow);
    if (!fast.feed_plain(chunk, on_block)) fast.feed(chunk, on_fast_line);
    off += n;
  }
  slow.finish(on_slow);
  fast.finish(on_fast_line);
  fuzz_require(slow_out == fast_out, "feed_plain() and feed() frame the same lines");
  // Each piece gains one '\n'; pieces come from the input only ('\r' before '\n' dropped).
  fuzz_require(slow_out.size() <= 2 * input.size() + 1, "no more bytes out than in (plus separators)");
  return 0;
}
