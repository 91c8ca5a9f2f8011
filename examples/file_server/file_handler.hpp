#pragma once

#include <spdlog/logger.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

#include "access_log.hpp"
#include "body_transfer.hpp"
#include "conditional.hpp"
#include "open_file_cache.hpp"
#include "request_path.hpp"
#include "root_directory.hpp"
#include "sluice/channel/channel_handler.hpp"
#include "sluice/codec/http/http_request.hpp"
#include "sluice/codec/http/http_response.hpp"

namespace sluice::examples {

// What every connection's FileHandler shares (read-only once the server runs).
struct FileServerConfig {
  std::unique_ptr<RootDirectory> root;
  Transfer transfer = Transfer::kSendfile;
  std::shared_ptr<spdlog::logger> access_log;  // null: no access log
  bool share_opens = true;  // requests of one loop iteration share an open (IterationFileCache)
};

// Serves GET and HEAD requests for the files beneath the root, one response per request, in
// order (the HTTP codec pairs them with pipelined requests):
//
//   target --parse_request_path--> segments --RootDirectory::open--> fd + fstat
//                                              (or IterationFileCache, within one iteration)
//     directory: 301 to add the '/', else its index.html, else a listing
//     regular file: preconditions (304/412), Range (206/416), else 200; the body by the
//                   configured Transfer
//     anything else: 404
//
// Sits after HttpServerCodec and a ChunkedWriteHandler. Flushes once per read batch, so the
// responses to pipelined requests leave together.
//
// Pipelining is bounded: at most kMaxOpenResponses responses are in flight (written, not yet
// handed to the kernel) per connection, so a client that pipelines a thousand requests for a
// large file cannot make the server open a thousand descriptors or map a thousand windows.
// Later requests wait here, in order; the codec stops reading more of them once
// HttpLimits::max_pipelined are unanswered.
// Loop thread only, like every handler.
class FileHandler final : public ChannelHandler {
 public:
  static constexpr std::size_t kMaxOpenResponses = 16;

  explicit FileHandler(std::shared_ptr<const FileServerConfig> config);
  ~FileHandler() override;
  FileHandler(const FileHandler&) = delete;
  FileHandler& operator=(const FileHandler&) = delete;

  void on_added(HandlerContext& ctx) override;
  void on_removed(HandlerContext& ctx) override;
  void on_inactive(HandlerContext& ctx) override;
  void on_read(HandlerContext& ctx, Message&& message) override;
  void on_read_complete(HandlerContext& ctx) override;
  void on_user_event(HandlerContext& ctx, Message&& event) override;
  void on_error(HandlerContext& ctx, const Error& error) override;

 private:
  // What the handler shares with the write callbacks of its responses, which may run after it
  // has left the pipeline (then `handler` is null).
  struct Shared {
    std::size_t in_flight = 0;  // responses written whose last byte has not reached the kernel
    FileHandler* handler = nullptr;
    HandlerContext* ctx = nullptr;
    bool resume_queued = false;  // a task to serve waiting requests is queued on the loop
  };

  // A response on its way: how the access log will show it.
  struct Exchange {
    bool head = false;
    std::unique_ptr<AccessRecord> record;  // null when the access log is off
  };

  void handle(HandlerContext& ctx, const http::HttpRequest& request);
  // Serves waiting requests while fewer than kMaxOpenResponses are in flight.
  void resume(HandlerContext& ctx);
  void serve(HandlerContext& ctx, const http::HttpRequest& request, Exchange& exchange);
  void serve_directory(HandlerContext& ctx, const http::HttpRequest& request,
                       const RequestPath& path, OpenedEntry&& directory, Exchange& exchange);
  void serve_file(HandlerContext& ctx, const http::HttpRequest& request, const OpenedFile& opened,
                  Exchange& exchange);
  // The regular file at `path`: from this iteration's IterationFileCache, or opened now (and
  // kept there). Anything else the open found (an error, a directory, a FIFO) is left in
  // `entry`, and the result is empty.
  std::optional<OpenedFile> open_file(const RequestPath& path, OpenedEntry& entry) const;

  // Answers a request its preconditions stop (RFC 9110 §13.2.2): a 304 carrying `name:
  // value` from the 200 it stands for, or a 412. False when the request proceeds.
  bool answer_precondition(HandlerContext& ctx, Precondition outcome, const http::HeaderName& name,
                           const http::HeaderValue& value, Exchange& exchange);
  // A response with a whole (small) body.
  void send(HandlerContext& ctx, http::HttpResponse&& response, Exchange& exchange,
            std::uint64_t body_bytes);
  void send_status(HandlerContext& ctx, std::uint16_t status, Exchange& exchange);
  // The completion of a response: counts it done, writes its access-log line, and lets
  // waiting requests in.
  WriteCallback finish(Exchange& exchange, std::uint16_t status, std::uint64_t body_bytes);

  std::shared_ptr<const FileServerConfig> config_;
  std::shared_ptr<Shared> shared_;
  std::deque<Message> waiting_;  // pipelined requests (HttpRequest) not yet served, in order
};

}  // namespace sluice::examples
