#include "sluice/codec/http/http_response_encoder.hpp"

#include "response_encoding.hpp"
#include "sluice/codec/http/http_response.hpp"

namespace sluice::http {

HttpResponseEncoder::HttpResponseEncoder()
    : encoding_(std::make_unique<detail::ResponseEncoding>()) {}
HttpResponseEncoder::~HttpResponseEncoder() = default;

void HttpResponseEncoder::write(HandlerContext& ctx, Message&& message, WriteCallback&& done) {
  if (auto* response = message.get_if<HttpResponse>()) {
    encoding_->write_response(ctx, std::move(*response), std::move(done), {});
  } else if (const auto* end = message.get_if<HttpEnd>()) {
    encoding_->write_end(ctx, *end, std::move(done));
  } else {
    encoding_->write_body_part(ctx, std::move(message), std::move(done));
  }
}

}  // namespace sluice::http
