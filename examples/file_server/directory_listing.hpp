#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "request_path.hpp"

namespace sluice::examples {

// An HTML index of the directory open at `dir_fd`, which `path` names: one row per entry
// (sub-directories first, then by name), with a link to the parent unless at the root.
// Names are HTML-escaped in the text and percent-encoded in the links, so a file called
// "<script>" or "a?b#c" shows as itself and links to itself. Symlinks are listed but not
// followed (their target may lie outside the root). Empty if the directory cannot be read.
std::optional<std::string> render_directory_listing(int dir_fd, const RequestPath& path);

// Escapes the five characters with meaning in HTML text and attribute values.
std::string html_escape(std::string_view text);

}  // namespace sluice::examples
