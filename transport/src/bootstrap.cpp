#include "sluice/transport/bootstrap.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <exception>
#include <memory>
#include <stdexcept>
#include <vector>

#include "sluice/channel/channel_error.hpp"
#include "sluice/core/core_error.hpp"
#include "sluice/core/loop_resource.hpp"
#include "socket_ops.hpp"

namespace sluice {
namespace {

// One connect attempt through a list of candidate addresses.
struct Attempt : std::enable_shared_from_this<Attempt> {
  EventLoop* loop;
  ChannelOptions options;
  ChannelInitializer initializer;
  AddressFilter filter;
  Promise<Ref<Channel>> promise;
  std::vector<SocketAddress> candidates;
  std::size_t next = 0;
  Error last_error;
  // The initializer has run: a connect completed, and what failed after it was this side's.
  bool initialized = false;

  // Asks the filter; a refusal (or a filter that throws) is the error to report unless an
  // address that was tried gives a better one.
  bool allowed(const SocketAddress& address) {
    if (!filter) return true;
    Error refusal;
    try {
      if (filter(address)) return true;
      refusal = Error(ChannelErrc::address_refused, "connect " + address.to_string());
    } catch (...) {
      const Error thrown = error_from_exception(std::current_exception(),
                                                make_error_code(ChannelErrc::address_refused));
      // Named like any other connect error; an exception that carries no code (a system_error
      // of 0) is a refusal all the same, not the "no address" of an empty list.
      std::string context = "connect " + address.to_string();
      if (!thrown.context().empty()) context += ": " + thrown.context();
      refusal = Error(thrown ? thrown.code() : make_error_code(ChannelErrc::address_refused),
                      std::move(context));
    }
    if (!last_error) last_error = std::move(refusal);
    return false;
  }

  // Loop thread: tries the next candidate, or fails with the last error.
  void try_next() {
    while (next < candidates.size()) {
      const SocketAddress address = candidates[next++];
      if (!allowed(address)) continue;
      auto opened = detail::open_stream_socket(address.family());
      if (!opened) {
        last_error = std::move(opened).error();
        continue;
      }
      Fd fd = std::move(opened).value();
      if (::connect(fd.get(), address.native(), address.length()) != 0 && errno != EINPROGRESS) {
        // EAGAIN is not "in progress": a Unix-domain listener whose backlog is full (or TCP out
        // of local ports) leaves the socket unconnected, and an unconnected Unix socket polls
        // writable at once, which would pass for a completed connect. It fails here, as in
        // libuv's uv_pipe_connect.
        last_error = Error::from_errno(errno, "connect " + address.to_string());
        continue;
      }
      auto self = shared_from_this();
      StreamChannel::connecting(
          *loop, std::move(fd), options,
          [self](Channel& channel) {
            self->initialized = true;
            if (self->initializer) self->initializer(channel);
          },
          address,
          [self](Result<Ref<Channel>> result) {
            if (result.ok()) {
              self->promise.set_value(std::move(result).value());
              return;
            }
            // An initializer that threw or closed the channel would fail the same way on the
            // next address, after connecting to another server and running it again. A connect
            // cancelled by its loop shutting down must not open another connection either.
            if (self->initialized || result.error() == std::errc::operation_canceled) {
              self->promise.set_error(std::move(result).error());
              return;
            }
            self->last_error = std::move(result).error();
            self->try_next();
          });
      return;
    }
    promise.set_error(last_error ? last_error
                                 : Error(std::make_error_code(std::errc::address_not_available),
                                         "connect: no address"));
  }
};

// A name being looked up on libuv's thread pool, one of its loop's resources meanwhile: a loop
// that stops knows nothing else of it, and would wait in its final run for the pool to get
// round to the lookup (for as long as the resolver takes), then connect from a loop that has
// closed its handles. Stopping, the loop abandons it: the lookup is cancelled unless the pool
// has begun it, and either way the connect fails when it comes back.
struct Resolution final : LoopResource {
  uv_getaddrinfo_t request{};
  std::shared_ptr<Attempt> attempt;
  std::string host;
  bool abandoned = false;

  void on_close_gracefully() override { abandon(); }
  void on_close_now() override { abandon(); }

  void abandon() {
    if (abandoned) return;
    abandoned = true;
    attempt->loop->unregister_resource(*this);
    // Fails (EBUSY) for a lookup already running: the pool cannot interrupt getaddrinfo.
    (void)uv_cancel(reinterpret_cast<uv_req_t*>(&request));
  }

  // The lookup's callback: the candidates, or the error the connect fails with.
  void resolved(int status, addrinfo* found) {
    if (!abandoned) attempt->loop->unregister_resource(*this);
    if (abandoned || status == UV_EAI_CANCELED) {
      if (found != nullptr) uv_freeaddrinfo(found);
      attempt->promise.set_error(Error(std::make_error_code(std::errc::operation_canceled),
                                       "connect " + host + ": the event loop is stopping"));
      return;
    }
    if (status != 0) {
      attempt->promise.set_error(Error(std::make_error_code(std::errc::address_not_available),
                                       "resolve " + host + ": " + uv_strerror(status)));
      return;
    }
    for (addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
      attempt->candidates.emplace_back(entry->ai_addr, entry->ai_addrlen);
    }
    uv_freeaddrinfo(found);
    attempt->try_next();
  }
};

// A connect on `loop` with the bootstrap's settings as they are now, its candidates to come.
std::shared_ptr<Attempt> new_attempt(EventLoop& loop, const ChannelOptions& options,
                                     const ChannelInitializer& initializer,
                                     const AddressFilter& filter) {
  auto attempt = std::make_shared<Attempt>();
  attempt->loop = &loop;
  attempt->options = options;
  attempt->initializer = initializer;
  attempt->filter = filter;
  attempt->promise = Promise<Ref<Channel>>(&loop);
  return attempt;
}

}  // namespace

Bootstrap& Bootstrap::group(EventLoopGroup& loops) {
  group_ = &loops;
  loop_ = nullptr;
  return *this;
}

Bootstrap& Bootstrap::loop(EventLoop& loop) {
  loop_ = &loop;
  group_ = nullptr;
  return *this;
}

EventLoop& Bootstrap::next_loop() const {
  if (loop_ != nullptr) return *loop_;
  if (group_ == nullptr) throw std::logic_error("Bootstrap::connect: no group or loop set");
  return group_->next();
}

Bootstrap& Bootstrap::options(const ChannelOptions& options) {
  validate(options);
  options_ = options;
  return *this;
}

Bootstrap& Bootstrap::initializer(ChannelInitializer initializer) {
  initializer_ = std::move(initializer);
  return *this;
}

Bootstrap& Bootstrap::address_filter(AddressFilter filter) {
  address_filter_ = std::move(filter);
  return *this;
}

Future<Ref<Channel>> Bootstrap::connect(const SocketAddress& address) {
  auto attempt = new_attempt(next_loop(), options_, initializer_, address_filter_);
  attempt->candidates.push_back(address);
  auto future = attempt->promise.future();
  if (!attempt->loop->dispatch([attempt] { attempt->try_next(); })) {
    attempt->promise.set_error(Error(std::make_error_code(std::errc::operation_canceled),
                                     "connect: the event loop has stopped"));
  }
  return future;
}

Future<Ref<Channel>> Bootstrap::connect(const std::string& host, std::uint16_t port) {
  if (auto numeric = SocketAddress::from_numeric(host, port)) return connect(*numeric);
  auto attempt = new_attempt(next_loop(), options_, initializer_, address_filter_);
  auto future = attempt->promise.future();
  const bool queued = attempt->loop->dispatch([attempt, host, port] {
    auto resolution = std::make_unique<Resolution>();
    resolution->attempt = attempt;
    resolution->host = host;
    resolution->request.data = resolution.get();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const std::string service = std::to_string(port);
    const int rc = uv_getaddrinfo(
        attempt->loop->native(), &resolution->request,
        [](uv_getaddrinfo_t* request, int status, addrinfo* found) {
          const std::unique_ptr<Resolution> done(static_cast<Resolution*>(request->data));
          done->resolved(status, found);
        },
        host.c_str(), service.c_str(), &hints);
    if (rc != 0) {
      attempt->promise.set_error(Error(std::make_error_code(std::errc::address_not_available),
                                       "resolve " + host + ": " + uv_strerror(rc)));
      return;
    }
    // Owned by the request until its callback; registered, so that a loop stopping meanwhile
    // abandons it (an abrupt stop, or a graceful one once it closes what is open).
    attempt->loop->register_resource(*resolution.release());
  });
  if (!queued) {
    attempt->promise.set_error(Error(std::make_error_code(std::errc::operation_canceled),
                                     "connect: the event loop has stopped"));
  }
  return future;
}

Future<Ref<Channel>> Bootstrap::connect_unix(const std::string& path) {
  auto address = detail::unix_address(path, "connect");
  if (!address) {
    Promise<Ref<Channel>> failed;
    failed.set_error(std::move(address).error());
    return failed.future();
  }
  return connect(*address);
}

}  // namespace sluice
