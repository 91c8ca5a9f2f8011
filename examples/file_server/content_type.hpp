#pragma once

#include <string_view>

namespace sluice::examples {

// The media type for a file name, from its extension (case ignored), from a built-in table;
// "application/octet-stream" when the extension is unknown or missing (RFC 9110 §8.3: a sender
// that does not know the type may omit it, but browsers then sniff, which a file server
// should not invite). Text types carry "; charset=utf-8".
std::string_view content_type_for(std::string_view file_name) noexcept;

}  // namespace sluice::examples
