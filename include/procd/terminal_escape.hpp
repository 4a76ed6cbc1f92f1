// Making service output safe to show on a terminal. A service's line may hold
// escape sequences (cursor moves, title changes, OSC 52 clipboard writes...)
// that a terminal would obey; `procd logs` on a terminal shows them as text.
// Invariant: the result holds no C0 control byte except tab, no DEL and no
// C1 control (neither a raw 0x80-0x9f byte nor its UTF-8 form U+0080-U+009F);
// every other byte, valid UTF-8 included, is kept as it is.
#pragma once

#include <string>
#include <string_view>

namespace procd {

// Each control byte becomes `\xNN` (lower-case hex); a UTF-8 encoded C1
// control becomes the escapes of its two bytes; a byte that does not start
// or continue valid UTF-8 is escaped too (an 8-bit terminal reads 0x80-0x9f
// as C1). Backslashes are kept, so the text stays readable, not reversible.
std::string escape_for_terminal(std::string_view line);
// The same, appended to out.
void append_for_terminal(std::string& out, std::string_view line);

// What to do with an SGR sequence (ESC [ digits ; : ... m, which only sets
// colours and attributes): escape it as above, keep it as it is, or drop it.
// Every other control sequence is escaped whatever the mode. Returns whether
// a sequence was kept, so the caller can reset attributes after the line.
enum class SgrMode { Escape, Keep, Drop };
bool append_for_terminal(std::string& out, std::string_view line, SgrMode sgr);

}  // namespace procd
