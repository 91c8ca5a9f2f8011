#pragma once

#include <string>
#include <string_view>

#include "sluice/buffer/composite_buffer.hpp"
#include "sluice/codec/http/http_request.hpp"

namespace sluice::examples {

// The JSON description of a request that the conformance suite's echo contract asks for
// (../shared/conformance/http1/README.md §1.1): octets of the head map to code points of the
// same value; the body is a string when it is valid UTF-8, base64 otherwise.
std::string echo_json(const http::FullHttpRequest& request);

std::string base64(std::string_view bytes);

}  // namespace sluice::examples
