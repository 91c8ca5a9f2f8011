#include "sluice/codec/http/http_object_aggregator.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "sluice/channel/handler_context.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/codec/http/http_status.hpp"

namespace sluice::http {
namespace {

// Each piece is a slice holding its whole read buffer (64 bytes at least) plus a component: a
// body trickled in a byte per read, or in one-byte chunks, would cost a hundred times its size.
// Past this many pieces the body is joined into one buffer (Netty's
// maxCumulationBufferComponents); bodies that arrive in reads of any size stay far below it.
constexpr std::size_t kMaxBodyComponents = 1024;

}  // namespace

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
    if (current_->body.component_count() > kMaxBodyComponents) {
      // Room for as much again (within the limit), so that a body joined repeatedly is copied
      // O(1) times a byte; make_contiguous never reserves less than the bytes it holds.
      const std::size_t size = current_->body.readable_bytes();
      current_->body.make_contiguous(std::min(2 * size, max_content_length_));
    }
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
