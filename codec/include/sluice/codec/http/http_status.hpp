#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::http {

// Status codes sluice itself sends, and the reason phrase of any code (RFC 9110 §15).
namespace status {
inline constexpr std::uint16_t kContinue = 100;
inline constexpr std::uint16_t kOk = 200;
inline constexpr std::uint16_t kNoContent = 204;
inline constexpr std::uint16_t kPartialContent = 206;
inline constexpr std::uint16_t kMovedPermanently = 301;
inline constexpr std::uint16_t kNotModified = 304;
inline constexpr std::uint16_t kBadRequest = 400;
inline constexpr std::uint16_t kForbidden = 403;
inline constexpr std::uint16_t kNotFound = 404;
inline constexpr std::uint16_t kMethodNotAllowed = 405;
inline constexpr std::uint16_t kRequestTimeout = 408;
inline constexpr std::uint16_t kContentTooLarge = 413;
inline constexpr std::uint16_t kUriTooLong = 414;
inline constexpr std::uint16_t kRangeNotSatisfiable = 416;
inline constexpr std::uint16_t kExpectationFailed = 417;
inline constexpr std::uint16_t kHeaderFieldsTooLarge = 431;
inline constexpr std::uint16_t kInternalServerError = 500;
inline constexpr std::uint16_t kNotImplemented = 501;
inline constexpr std::uint16_t kBadGateway = 502;
inline constexpr std::uint16_t kServiceUnavailable = 503;
inline constexpr std::uint16_t kGatewayTimeout = 504;
inline constexpr std::uint16_t kVersionNotSupported = 505;
}  // namespace status

// "OK", "Not Found", ...; "Unknown" for codes without a registered phrase.
std::string_view reason_phrase(std::uint16_t code) noexcept;

}  // namespace sluice::http
