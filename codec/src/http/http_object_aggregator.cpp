#include "sluice/codec/http/http_object_aggregator.hpp"

#include <fmt/format.h>

#include "sluice/channel/handler_context.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/codec/http/http_status.hpp"

namespace sluice::http {

void HttpObjectAggregator::on_read(HandlerContext& ctx, Message&& message) {
  if (auto* request = message.get_if<HttpRequest>()) {
    if (discarding_) return;
    const auto length = request->content_length();
    if (length && *length > max_content_length_) {
      reject(ctx);
      return;
    }
    if (request->expects_continue() && (request->chunked() || (length && *length > 0))) {
      ctx.write_and_flush(HttpResponse(status::kContinue));
    }
    current_.emplace(FullHttpRequest{std::move(*request), {}, {}});
    return;
  }
  if (auto* content = message.get_if<HttpContent>()) {
    if (discarding_ || !current_) return;
    if (current_->body.readable_bytes() + content->data.readable_bytes() > max_content_length_) {
      reject(ctx);
      return;
    }
    current_->body.append(std::move(content->data));
    if (!content->last) return;
    current_->trailers = std::move(content->trailers);
    FullHttpRequest whole = std::move(*current_);
    current_.reset();
    ctx.fire_read(std::move(whole));
    return;
  }
  ctx.fire_read(std::move(message));
}

void HttpObjectAggregator::reject(HandlerContext& ctx) {
  discarding_ = true;
  current_.reset();
  // The codec answers in order, after the responses owed to earlier pipelined requests.
  ctx.write_and_flush(
      HttpReject{status::kContentTooLarge,
                 fmt::format("request body over the limit of {} bytes", max_content_length_)});
}

}  // namespace sluice::http
