#include "file_handler.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <ctime>

#include "byte_range.hpp"
#include "conditional.hpp"
#include "directory_listing.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/codec/http/http_status.hpp"
#include "sluice/codec/idle_state_handler.hpp"
#include "sluice/core/log.hpp"

namespace sluice::examples {
namespace {

using http::HeaderName;
using http::HeaderValue;
using http::HttpRequest;
using http::HttpResponse;
namespace status = http::status;

constexpr std::uint16_t kPreconditionFailed = 412;

// What a failed open tells the client. Everything that depends on what lies outside the root
// or on why a lookup was refused (a symlink that escapes: EXDEV; one in the walk: ELOOP) is a
// plain 404, so the answer leaks nothing about the file system beyond the tree.
std::uint16_t status_for_open_error(int error) {
  switch (error) {
    case EACCES:
    case EPERM:
      return status::kForbidden;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return status::kServiceUnavailable;
    default:
      return status::kNotFound;
  }
}

std::int64_t now_seconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

HttpResponse& common_headers(HttpResponse& response) {
  return response.header("Server", "sluice");
}

}  // namespace

FileHandler::FileHandler(std::shared_ptr<const FileServerConfig> config)
    : config_(std::move(config)), shared_(std::make_shared<Shared>()) {}

FileHandler::~FileHandler() {
  shared_->handler = nullptr;
  shared_->ctx = nullptr;
}

void FileHandler::on_added(HandlerContext& ctx) {
  shared_->handler = this;
  shared_->ctx = &ctx;
}

void FileHandler::on_removed(HandlerContext&) {
  shared_->handler = nullptr;
  shared_->ctx = nullptr;
  waiting_.clear();
}

void FileHandler::on_inactive(HandlerContext& ctx) {
  // The connection is gone: requests still waiting have no one to answer, and a resume queued
  // by a failing write must not serve them (it would open files for a closed channel).
  shared_->handler = nullptr;
  shared_->ctx = nullptr;
  waiting_.clear();
  ctx.fire_inactive();
}

void FileHandler::on_read(HandlerContext& ctx, Message&& message) {
  // Request bodies (HttpContent) are not wanted: GET and HEAD have none worth reading, and
  // those of refused methods are discarded as they stream past.
  const HttpRequest* request = message.get_if<HttpRequest>();
  if (request == nullptr) return;
  if (!waiting_.empty() || shared_->in_flight >= kMaxOpenResponses) {
    // The request keeps the bytes it was parsed from alive while it waits. How many can wait
    // is bounded by the codec, which reads no further request while HttpLimits::max_pipelined
    // are unanswered.
    waiting_.push_back(std::move(message));
    return;
  }
  handle(ctx, *request);
}

// One flush per read batch: the responses to pipelined requests go out in one write.
void FileHandler::on_read_complete(HandlerContext& ctx) {
  ctx.flush();
}

void FileHandler::handle(HandlerContext& ctx, const HttpRequest& request) {
  Exchange exchange;
  exchange.head = request.is_head();
  if (config_->access_log) {
    exchange.record = std::make_unique<AccessRecord>();
    exchange.record->remote_host = ctx.channel().remote_address().host();
    exchange.record->request_line =
        log_request_line(request.method(), request.target(), request.version());
    exchange.record->time = now_seconds();
  }
  serve(ctx, request, exchange);
}

void FileHandler::resume(HandlerContext& ctx) {
  bool served = false;
  while (!waiting_.empty() && shared_->in_flight < kMaxOpenResponses) {
    Message message = std::move(waiting_.front());
    waiting_.pop_front();
    handle(ctx, message.as<HttpRequest>());
    served = true;
  }
  if (served) ctx.flush();
}

// The idle handler watches all-idle with output counted (main.cpp): a client silent between
// requests, or one that stopped reading its download, is idle; one still downloading is not,
// though it has nothing to say meanwhile.
void FileHandler::on_user_event(HandlerContext& ctx, Message&& event) {
  if (!event.is<IdleStateEvent>()) {
    ctx.fire_user_event(std::move(event));
    return;
  }
  logger().debug("{} idle, closing", ctx.channel().describe());
  ctx.close();
}

void FileHandler::on_error(HandlerContext& ctx, const Error& error) {
  // A reset by the client, a file truncated under a transfer: the connection cannot go on (a
  // body shorter than its Content-Length must end with the connection, RFC 9112 §6.3), but the
  // server does.
  logger().debug("{}: {}", ctx.channel().describe(), error.message());
  ctx.close();
}

void FileHandler::serve(HandlerContext& ctx, const HttpRequest& request, Exchange& exchange) {
  const std::string_view method = request.method();
  if (method != "GET" && method != "HEAD") {
    // RFC 9110 §15.5.6: a 405 must list the methods the target supports.
    HttpResponse response(status::kMethodNotAllowed);
    common_headers(response).header("Allow", "GET, HEAD");
    response.header("Content-Type", "text/plain; charset=utf-8");
    const std::string_view text = "Method Not Allowed\n";
    response.body(Buffer::copy_of(text));
    send(ctx, std::move(response), exchange, text.size());
    return;
  }
  ParsedPath parsed = parse_request_path(request.target());
  if (parsed.error == PathError::kBadRequest) {
    send_status(ctx, status::kBadRequest, exchange);
    return;
  }
  if (parsed.error == PathError::kForbidden) {
    send_status(ctx, status::kForbidden, exchange);
    return;
  }
  const RequestPath& path = parsed.path;
  OpenedEntry entry;
  const std::optional<OpenedFile> file = open_file(path, entry);
  if (file) {
    if (path.directory_form) {
      // "/a.txt/" names a directory that is not there, as it would for open(2).
      send_status(ctx, status::kNotFound, exchange);
      return;
    }
    serve_file(ctx, request, *file, exchange);
  } else if (S_ISDIR(entry.info.st_mode)) {
    // Even when it would not open for reading: a directory that may be searched but not read
    // (mode 0711) still has its index served and its URL redirected; only a listing needs
    // the directory open.
    serve_directory(ctx, request, path, std::move(entry), exchange);
  } else if (entry.error != 0) {
    send_status(ctx, status_for_open_error(entry.error), exchange);
  } else {
    // FIFOs, sockets, devices (never opened): only regular files are served.
    send_status(ctx, status::kNotFound, exchange);
  }
}

std::optional<OpenedFile> FileHandler::open_file(const RequestPath& path,
                                                 OpenedEntry& entry) const {
  IterationFileCache& cache = IterationFileCache::of_this_thread();
  const std::string relative = path.relative();
  if (config_->share_opens) {
    if (const OpenedFile* cached = cache.find(*config_->root, relative)) return *cached;
  }
  entry = config_->root->open(relative);
  if (!entry.fd || !S_ISREG(entry.info.st_mode)) return std::nullopt;
  auto file = std::make_shared<const File>(std::move(entry.fd), "/" + relative,
                                           static_cast<std::uint64_t>(entry.info.st_size));
  OpenedFile opened(std::move(file), entry.info, path.segments.back(), now_seconds());
  if (config_->share_opens) cache.insert(*config_->root, relative, opened);
  return opened;
}

void FileHandler::serve_directory(HandlerContext& ctx, const HttpRequest& request,
                                  const RequestPath& path, OpenedEntry&& directory,
                                  Exchange& exchange) {
  if (!path.slash_terminated) {
    // Relative links in the directory's page resolve against its URL, so that URL must end
    // in '/' (and hold no dot segment at its end: "/a/b/.." would have them resolve beneath
    // "/a/b/", RFC 3986 §5.2.3): redirect, keeping the query (RFC 9110 §15.4.2).
    std::string location = path.encoded(true);
    if (!path.query.empty()) {
      location += '?';
      location += path.query;
    }
    HttpResponse response(status::kMovedPermanently);
    common_headers(response).header("Location", HeaderValue::of(location));
    response.header("Content-Type", "text/plain; charset=utf-8");
    const std::string text = "Moved Permanently\n";
    response.body(Buffer::copy_of(text));
    send(ctx, std::move(response), exchange, text.size());
    return;
  }
  // The index is looked up from the root again, so a symlinked index.html is held to the same
  // rule as any other path.
  RequestPath index = path;
  index.segments.emplace_back("index.html");
  index.directory_form = false;
  OpenedEntry index_entry;
  const std::optional<OpenedFile> index_file = open_file(index, index_entry);
  if (index_file) {
    serve_file(ctx, request, *index_file, exchange);
    return;
  }
  // An index.html that is there but will not open is no reason to list the directory: not
  // when it is unreadable (the listing it was put there to hide would show), nor when
  // descriptors ran out (the listing's own open would fail, as a 403 rather than a 503).
  // Anything that reads as "no such file" still falls back to the listing.
  if (!index_entry.fd) {
    if (const std::uint16_t code = status_for_open_error(index_entry.error);
        code != status::kNotFound) {
      send_status(ctx, code, exchange);
      return;
    }
  }
  if (!directory.fd) {
    send_status(ctx, status_for_open_error(directory.error), exchange);
    return;
  }
  // RFC 9110 §13.2.1: a listing is a 200 like any other, so the request's preconditions
  // hold for it too, though only "*" can name a representation without an entity-tag.
  if (answer_precondition(ctx, evaluate_preconditions_without_validators(request.headers()),
                          "Cache-Control", "no-cache", exchange)) {  // as its 200 would have
    return;
  }
  auto html = render_directory_listing(directory.fd.get(), path);
  if (!html) {
    send_status(ctx, status::kForbidden, exchange);
    return;
  }
  HttpResponse response(status::kOk);
  common_headers(response).header("Content-Type", "text/html; charset=utf-8");
  // The listing changes with the directory; caches must ask again each time.
  response.header("Cache-Control", "no-cache");
  const std::size_t size = html->size();
  response.body(Buffer::copy_of(*html));
  send(ctx, std::move(response), exchange, size);
}

bool FileHandler::answer_precondition(HandlerContext& ctx, Precondition outcome,
                                      const HeaderName& name, const HeaderValue& value,
                                      Exchange& exchange) {
  switch (outcome) {
    case Precondition::kNotModified: {
      // RFC 9110 §15.4.5: a 304 repeats what a cache needs of the 200 it stands for (the
      // ETag, or Cache-Control) and little else; it has no content (the codec writes no
      // Content-Length for it).
      HttpResponse response(status::kNotModified);
      common_headers(response).header(name, value);
      send(ctx, std::move(response), exchange, 0);
      return true;
    }
    case Precondition::kFailed:
      send_status(ctx, kPreconditionFailed, exchange);
      return true;
    case Precondition::kProceed:
      break;
  }
  return false;
}

void FileHandler::serve_file(HandlerContext& ctx, const HttpRequest& request,
                             const OpenedFile& opened, Exchange& exchange) {
  const Validators& validators = opened.validators;
  const std::uint64_t size = opened.file->size();
  if (answer_precondition(ctx, evaluate_preconditions(request.headers(), validators), "ETag",
                          opened.etag, exchange)) {
    return;
  }

  RangeDecision range;
  // Range is defined for GET only (RFC 9110 §14.2); If-Range turns it off when the client's
  // copy is stale, so the whole new file comes back instead of a piece to splice onto old
  // bytes.
  if (!exchange.head && request.headers().count("Range") == 1 &&
      if_range_holds(request.headers(), validators)) {
    range = decide_range(*request.headers().get("Range"), size);
  }
  if (range.kind == RangeDecision::kUnsatisfiable) {
    // RFC 9110 §15.5.17: a 416 says how long the representation is.
    HttpResponse response(status::kRangeNotSatisfiable);
    common_headers(response).header("Content-Range",
                                    HeaderValue::of(fmt::format("bytes */{}", size)));
    response.header("Content-Type", "text/plain; charset=utf-8");
    const std::string_view text = "Range Not Satisfiable\n";
    response.body(Buffer::copy_of(text));
    send(ctx, std::move(response), exchange, text.size());
    return;
  }
  const bool partial = range.kind == RangeDecision::kPartial;
  const std::uint64_t offset = partial ? range.first : 0;
  const std::uint64_t length = partial ? range.length() : size;
  const std::uint16_t code = partial ? status::kPartialContent : status::kOk;

  HttpResponse response(code);
  common_headers(response)
      .header("Content-Type", opened.content_type)
      .header("Last-Modified", opened.last_modified)
      .header("ETag", opened.etag)
      .header("Accept-Ranges", "bytes");
  if (partial) {
    response.header("Content-Range",
                    HeaderValue::of(fmt::format("bytes {}-{}/{}", range.first, range.last, size)));
  }
  response.content_length(length);
  const std::uint64_t body_bytes = exchange.head ? 0 : length;
  WriteCallback done = finish(exchange, code, body_bytes);
  if (length == 0) {
    ctx.write(std::move(response), std::move(done));  // nothing follows the head
    return;
  }
  ctx.write(std::move(response));
  if (exchange.head) {
    // The codec sends no body for HEAD (RFC 9110 §9.3.2); the file is not even read.
    ctx.write(http::HttpEnd{}, std::move(done));
    return;
  }
  write_file_body(ctx, opened.file, offset, length, config_->transfer, std::move(done));
}

void FileHandler::send(HandlerContext& ctx, HttpResponse&& response, Exchange& exchange,
                       std::uint64_t body_bytes) {
  const std::uint16_t code = response.status();
  ctx.write(std::move(response), finish(exchange, code, exchange.head ? 0 : body_bytes));
}

void FileHandler::send_status(HandlerContext& ctx, std::uint16_t code, Exchange& exchange) {
  // A short plain-text body naming the status and nothing else: no path, no errno.
  const std::string text = fmt::format("{}\n", http::reason_phrase(code));
  HttpResponse response(code);
  common_headers(response).header("Content-Type", "text/plain; charset=utf-8");
  response.body(Buffer::copy_of(text));
  send(ctx, std::move(response), exchange, text.size());
}

WriteCallback FileHandler::finish(Exchange& exchange, std::uint16_t code,
                                  std::uint64_t body_bytes) {
  ++shared_->in_flight;
  std::shared_ptr<spdlog::logger> log;
  if (exchange.record) {
    exchange.record->status = code;
    exchange.record->body_bytes = body_bytes;
    log = config_->access_log;
  }
  return [shared = shared_, log = std::move(log),
          record = std::move(exchange.record)](const Error& error) {
    --shared->in_flight;
    if (log) log->info(common_log_line(*record, !error));
    if (shared->handler == nullptr || shared->handler->waiting_.empty() || shared->resume_queued) {
      return;
    }
    // Not from inside the callback: it runs in the middle of the transport's write loop, and
    // serving writes and flushes again. The loop runs the task right after this callback.
    shared->resume_queued = true;
    shared->ctx->loop().execute([shared] {
      shared->resume_queued = false;
      if (shared->handler != nullptr) shared->handler->resume(*shared->ctx);
    });
  };
}

}  // namespace sluice::examples
