// The file server's media types by extension (a binary search over packed keys).
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "content_type.hpp"

using sluice::examples::content_type_for;

TEST_CASE("known extensions map to their media type, in any letter case") {
  CHECK(content_type_for("index.html") == "text/html; charset=utf-8");
  CHECK(content_type_for("INDEX.HTML") == "text/html; charset=utf-8");
  CHECK(content_type_for("a.avif") == "image/avif");                           // first in the table
  CHECK(content_type_for("a.zst") == "application/zstd");                      // last
  CHECK(content_type_for("site.webmanifest") == "application/manifest+json");  // longest
  CHECK(content_type_for("font.woff") == "font/woff");
  CHECK(content_type_for("font.woff2") == "font/woff2");  // a prefix of another is not it
  CHECK(content_type_for("archive.tar.gz") == "application/gzip");
  CHECK(content_type_for("a.JpG") == "image/jpeg");
}

TEST_CASE("anything else is application/octet-stream") {
  for (const std::string_view name :
       {"README", "trailing.", ".", "a.htmlx", "a.ht", "a.woff3", "a.abcdefghijklmnopq",
        "a.abcdefghijklmnop", "a.webmanifes", "noext.", "a.h\xc3\xa9"}) {
    CAPTURE(name);
    CHECK(content_type_for(name) == "application/octet-stream");
  }
  CHECK(content_type_for(std::string_view("a.css\0", 6)) == "application/octet-stream");
  CHECK(content_type_for(std::string_view("a.cs\0", 5)) == "application/octet-stream");
}
