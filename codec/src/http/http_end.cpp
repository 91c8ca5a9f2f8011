#include "sluice/codec/http/http_end.hpp"

#include <array>
#include <string>

#include "field_line.hpp"
#include "sluice/codec/http/http_fields.hpp"

namespace sluice::http {
namespace {

// RFC 9110 §6.5.1: fields a recipient needs before the content (framing, routing, the
// connection, the content's format) cannot come after it.
constexpr std::array<std::string_view, 11> kRefusedInTrailers = {
    "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",   "TE",
    "Trailer",        "Upgrade",           "Host",       "Content-Type", "Content-Encoding",
    "Content-Range",
};

}  // namespace

HttpEnd& HttpEnd::trailer(const HeaderName& name, const HeaderValue& value) & {
  const std::string_view n = name.view();
  for (const std::string_view refused : kRefusedInTrailers) {
    if (equals_ignore_case(n, refused)) {
      throw InvalidHeaderError(std::string(n) +
                               " cannot be a trailer field: the client needs it before the "
                               "content (RFC 9110 §6.5.1)");
    }
  }
  detail::append_field_line(trailers_, n, value.view());
  return *this;
}

}  // namespace sluice::http
