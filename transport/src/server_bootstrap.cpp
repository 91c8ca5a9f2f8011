#include "sluice/transport/server_bootstrap.hpp"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <vector>

#include "sluice/core/log.hpp"
#include "socket_ops.hpp"

namespace sluice {
namespace {

// What every accepted connection of a server needs, shared by its listeners. The worker loops
// are reached through their liveness tokens, not their group: an acceptor loop's listener may
// outlive the worker group (declared after the acceptor's, it is destroyed first), and what it
// accepts then is closed rather than handed through a group that is gone.
struct ChildSetup {
  ChildSetup(const ChannelOptions& child_options, ChannelInitializer child_initializer,
             EventLoopGroup& group)
      : options(child_options), initializer(std::move(child_initializer)) {
    workers.reserve(group.size());
    for (std::size_t i = 0; i < group.size(); ++i)
      workers.push_back(group.at(i).liveness());
  }

  ChannelOptions options;
  ChannelInitializer initializer;
  std::vector<std::shared_ptr<detail::LoopLiveness>> workers;
  std::atomic<std::size_t> next{0};  // round-robin over workers

  const std::shared_ptr<detail::LoopLiveness>& next_worker() noexcept {
    return workers[next.fetch_add(1, std::memory_order_relaxed) % workers.size()];
  }
};

void adopt(EventLoop& loop, Fd fd, const SocketAddress& remote, const ChildSetup& setup) {
  StreamChannel::accepted(loop, std::move(fd), setup.options, setup.initializer, remote);
}

}  // namespace

Server::Server(std::vector<Ref<Listener>> listeners) : listeners_(std::move(listeners)) {
  // One future for the server's life, completed by the last listener to close, however it
  // closes: every close() returns it.
  struct Closing {
    Closing(EventLoop& loop, std::size_t count) : promise(&loop), remaining(count) {}
    Promise<void> promise;
    std::atomic<std::size_t> remaining;
  };
  auto closing = std::make_shared<Closing>(listeners_.front()->loop(), listeners_.size());
  closed_ = closing->promise.future();
  for (const Ref<Listener>& listener : listeners_) {
    listener->close_future().then([closing](const Result<void>& closed) {
      // A started listener's close future does not fail; were it to, that is no close.
      if (!closed.ok()) closing->promise.set_error(closed.error());
      if (closing->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        closing->promise.set_value();
      }
    });
  }
}

Future<void> Server::close() {
  // Every listener has closed (a second close, or after the group shut down): their loops may
  // have stopped, or gone with their group, so nothing is sent to them.
  if (closed_.is_ready()) return closed_;
  for (auto& listener : listeners_) {
    // Refused by a loop that has stopped: that loop closed, or is closing, its listeners itself.
    listener->loop().dispatch([listener] { listener->close(); });
  }
  return closed_;
}

ServerBootstrap& ServerBootstrap::group(EventLoopGroup& acceptor, EventLoopGroup& workers) {
  acceptor_ = &acceptor;
  workers_ = &workers;
  return *this;
}

ServerBootstrap& ServerBootstrap::listen_options(const ListenOptions& options) {
  validate(options);
  listen_options_ = options;
  return *this;
}

ServerBootstrap& ServerBootstrap::reuse_port(bool enabled) {
  listen_options_.reuse_port = enabled;
  return *this;
}

ServerBootstrap& ServerBootstrap::child_options(const ChannelOptions& options) {
  validate(options);
  child_options_ = options;
  return *this;
}

ServerBootstrap& ServerBootstrap::child_initializer(ChannelInitializer initializer) {
  child_initializer_ = std::move(initializer);
  return *this;
}

Future<Ref<Server>> ServerBootstrap::bind(const std::string& host, std::uint16_t port) {
  auto address = detail::resolve_for_bind(host, port);
  if (!address) {
    Promise<Ref<Server>> failed;
    failed.set_error(std::move(address).error());
    return failed.future();
  }
  return bind_address(*address);
}

Future<Ref<Server>> ServerBootstrap::bind_unix(const std::string& path) {
  auto address = detail::unix_address(path, "bind");
  if (!address) {
    Promise<Ref<Server>> failed;
    failed.set_error(std::move(address).error());
    return failed.future();
  }
  return bind_address(*address);
}

Future<Ref<Server>> ServerBootstrap::bind_address(const SocketAddress& requested) {
  if (workers_ == nullptr) throw std::logic_error("ServerBootstrap::bind: no group set");
  auto setup = std::make_shared<ChildSetup>(child_options_, child_initializer_, *workers_);
  Promise<Ref<Server>> promise;

  // Open every socket here, on the calling thread, so bind errors come back at once; each
  // listener then starts on its loop.
  struct Planned {
    EventLoop* loop;
    Fd fd;
    std::optional<SocketFile> file;
  };
  std::vector<Planned> planned;
  SocketAddress address = requested;
  const bool per_worker = listen_options_.reuse_port && address.family() != AF_UNIX;
  const std::size_t count = per_worker ? workers_->size() : 1;
  for (std::size_t i = 0; i < count; ++i) {
    auto opened = detail::open_listener(address, listen_options_);
    if (!opened) {
      promise.set_error(std::move(opened).error());
      return promise.future();
    }
    detail::ListeningSocket socket = std::move(opened).value();
    // With port 0, the first socket picks the port and the others join it.
    if (i == 0) address = detail::local_address_of(socket.fd.get());
    planned.push_back({per_worker ? &workers_->at(i) : &acceptor_->next(), std::move(socket.fd),
                       std::move(socket.file)});
  }

  struct Startup {
    std::mutex mutex;
    std::vector<Ref<Listener>> listeners;
    std::size_t remaining;
    bool failed = false;  // a loop refused its listener: the bind fails and none may stay open
    Promise<Ref<Server>> promise;

    // Fails the bind, once. Listeners already started on other loops would otherwise accept
    // with no Server to close them: they close, and those still starting close themselves.
    void fail(Error error) {
      std::vector<Ref<Listener>> started;
      {
        std::lock_guard lock(mutex);
        if (failed) return;
        failed = true;
        started.swap(listeners);
      }
      for (const Ref<Listener>& listener : started)
        listener->loop().dispatch([listener] { listener->close(); });
      promise.set_error(std::move(error));
    }
  };
  auto startup = std::make_shared<Startup>();
  startup->remaining = planned.size();
  startup->promise = promise;
  for (Planned& plan : planned) {
    EventLoop* loop = plan.loop;
    auto on_accept = [setup, loop, per_worker](Fd fd, const SocketAddress& remote) {
      if (per_worker) {  // the listener's own loop
        adopt(*loop, std::move(fd), remote, *setup);
        return;
      }
      const std::shared_ptr<detail::LoopLiveness>& worker = setup->next_worker();
      if (EventLoop* here = worker->loop_if_current()) {
        adopt(*here, std::move(fd), remote, *setup);
        return;
      }
      // The Fd travels in the task: refused by a worker that has stopped or is gone, the task
      // is dropped here, and closes it.
      EventLoop::Task task([fd = std::move(fd), remote, setup]() mutable {
        adopt(*EventLoop::current(), std::move(fd), remote, *setup);
      });
      (void)worker->execute(task);
    };
    const bool queued = loop->dispatch([loop, fd = std::move(plan.fd), file = plan.file, on_accept,
                                        startup, options = listen_options_]() mutable {
      auto started = Listener::start(*loop, std::move(fd), options, on_accept, file);
      if (!started) {
        startup->fail(std::move(started).error());
        return;
      }
      Ref<Listener> listener = std::move(started).value();
      std::lock_guard lock(startup->mutex);
      if (startup->failed) {
        listener->close();
        return;
      }
      startup->listeners.push_back(listener);
      if (--startup->remaining == 0) {
        startup->promise.set_value(Ref<Server>(new Server(std::move(startup->listeners))));
      }
    });
    if (!queued) {
      if (plan.file) detail::remove_socket_file(*plan.file);
      startup->fail(Error(std::make_error_code(std::errc::operation_canceled),
                          "bind: the event loop has stopped"));
      break;
    }
  }
  return promise.future();
}

}  // namespace sluice
